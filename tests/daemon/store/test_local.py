"""The local WORM store passes the store contract, plus its own crash and permission cases."""

from __future__ import annotations

import json
import os
import stat
from datetime import UTC, datetime

import pytest

from evidock.daemon.store.local import LocalWormStore

from .contract import StoreContract, reader


@pytest.fixture
def store(tmp_path):
    return LocalWormStore(tmp_path / "store")


@pytest.fixture
def corrupt(store):
    def damage(key: str) -> None:
        meta = store.root / (key + ".json")
        doc = json.loads(meta.read_text())
        doc["sha256"] = "0" * 64
        os.chmod(meta, 0o644)
        meta.write_text(json.dumps(doc))
    return damage


class TestLocalStoreContract(StoreContract):
    pass


def test_stored_files_are_read_only(store):
    got = store.put(reader(b"x" * 1000), retain_until=StoreContract().retain())
    mode = (store.root / got.key).stat().st_mode
    assert 0 == mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)


def test_recover_removes_a_half_written_put(store):
    (store.root / ".incoming" / "deadbeef.part").write_bytes(b"half a recording")
    assert 1 == store.recover()
    assert [] == list((store.root / ".incoming").iterdir())


def test_recover_removes_metadata_whose_data_never_arrived(store):
    got = store.put(reader(b"y" * 100), retain_until=StoreContract().retain())
    orphan = store.root / (got.key[:-4] + "ffff.json")
    orphan.write_text("{}")
    assert 1 == store.recover()
    assert not orphan.exists()
    assert store.stat(got.key).size == 100


def test_disk_full_is_store_unavailable(tmp_path, monkeypatch):
    """A put onto a full file system is retryable and leaves no temporary file behind."""
    from evidock.daemon.errors import StoreUnavailable

    store = LocalWormStore(tmp_path / "s")

    def full(fd, data):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "write", full)
    with pytest.raises(StoreUnavailable):
        store.put(reader(b"z" * 10), retain_until=StoreContract().retain())
    monkeypatch.undo()
    assert [] == list((store.root / ".incoming").iterdir())


def test_a_put_left_to_sync_later_makes_no_fsync_until_sync(tmp_path, monkeypatch):
    """Small files in a group: no per-file fsync; ``sync`` is one syncfs for all of them."""
    import evidock.daemon.store.local as local

    calls = []
    monkeypatch.setattr(local.os, "fsync", lambda fd: calls.append(fd))
    store = LocalWormStore(tmp_path / "store")
    for _ in range(3):
        store.put(reader(os.urandom(10_000)), retain_until=datetime.now(UTC), durable=False)
    assert [] == calls
    store.put(reader(os.urandom(10_000)), retain_until=datetime.now(UTC))
    assert len(calls) >= 3  # the data, its metadata file, its directory
    store.sync()
