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
    """A put killed between linking its metadata and its data: the metadata file it left in
    .incoming names the orphan, and recovery removes both, never a stored object."""
    got = store.put(reader(b"y" * 100), retain_until=StoreContract().retain())
    key = got.key[:-4] + "ffff"
    orphan = store.root / (key + ".json")
    orphan.write_text(json.dumps({"key": key}))
    (store.root / ".incoming" / "deadbeef-0001.json").write_text(json.dumps({"key": key}))
    (store.root / ".incoming" / "deadbeef-0002.json").write_text(json.dumps({"key": got.key}))
    assert 3 == store.recover()  # the orphan and the two leftovers in .incoming
    assert not orphan.exists()
    assert [] == list((store.root / ".incoming").iterdir())
    assert store.stat(got.key).size == 100


def test_recover_walks_no_folder_of_the_stored_recordings(store, monkeypatch):
    """Recovery runs at every start: on a store of hundreds of thousands of recordings it
    reads .incoming and .owners only, never the folders of what is stored."""
    store.put(reader(b"z" * 100), retain_until=StoreContract().retain())
    listed = []
    for name in ("scandir", "listdir"):  # the real calls, each folder listed noted
        real = getattr(os, name)
        monkeypatch.setattr(os, name, lambda path=".", real=real: (
            listed.append(os.fspath(path)), real(path))[1])
    assert 0 == store.recover()
    assert listed, "recovery lists .incoming"
    assert [] == [p for p in listed if p.startswith(os.fspath(store.root / "media"))]


def test_the_spool_removes_metadata_a_release_left_without_data(tmp_path):
    """The spool's release removes the data first and leaves no trace: its recovery looks
    through its (small) folders for metadata without data."""
    from evidock.daemon.store.spooldir import Spool

    spool = Spool(tmp_path / "spool")
    got = spool.put(reader(b"s" * 100), retain_until=StoreContract().retain())
    (spool.root / got.key).unlink()  # released up to its data, then killed
    assert 1 == spool.recover()
    assert not (spool.root / (got.key + ".json")).exists()


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
