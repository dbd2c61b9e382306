"""The spooling store passes the store contract: over a local WORM store as its primary (while
the primary answers, and while it is away and every put goes to the spool), and over the real S3
server (marker ``s3``).  Its ``release`` removes a spooled copy only against a matching proof."""

from __future__ import annotations

import dataclasses
import io
import json
import os
from datetime import UTC, datetime, timedelta

import pytest

from evidock.daemon.errors import EvidockError, StoreError
from evidock.daemon.store.local import LocalWormStore
from evidock.daemon.store.spool import Spool, SpoolingStore, SpoolLimits

from .contract import StoreContract, reader


def spooling(primary, tmp_path) -> SpoolingStore:
    return SpoolingStore(primary, Spool(tmp_path / "spool"), SpoolLimits(1 << 30))


def damage_local(store: LocalWormStore, key: str) -> None:
    meta = store.root / (key + ".json")
    doc = json.loads(meta.read_text())
    doc["sha256"] = "0" * 64
    os.chmod(meta, 0o644)
    meta.write_text(json.dumps(doc))


class TestSpoolOverLocalPrimary(StoreContract):
    """S3 up: puts go to the primary, the spool holds nothing."""

    @pytest.fixture
    def store(self, tmp_path):
        return spooling(LocalWormStore(tmp_path / "primary"), tmp_path)

    @pytest.fixture
    def corrupt(self, store):
        return lambda key: damage_local(store.primary, key)


class TestSpoolWhilePrimaryAway(StoreContract):
    """S3 away: every put goes to the spool, which must keep the same contract."""

    @pytest.fixture
    def store(self, tmp_path):
        front = spooling(LocalWormStore(tmp_path / "primary"), tmp_path)
        front.mark_down("test: S3 away")
        return front

    @pytest.fixture
    def corrupt(self, store):
        return lambda key: damage_local(store.spool, key)


@pytest.mark.s3
class TestSpoolOverS3(StoreContract):
    def retain(self) -> datetime:
        return datetime.now(UTC) + timedelta(seconds=120)

    @pytest.fixture
    def store(self, s3_client, s3_bucket, tmp_path):
        from evidock.daemon.store.s3 import S3WormStore

        primary = S3WormStore(s3_client, s3_bucket, station="spool-contract",
                              part_size=5 << 20, concurrency=2)
        yield spooling(primary, tmp_path)
        primary.close()

    @pytest.fixture
    def corrupt(self, s3_client, s3_bucket):
        return lambda key: s3_client.put_object(s3_bucket, key, io.BytesIO(b"tampered"), 8)

    def test_conflicting_bytes_under_a_key_are_never_overwritten(self, store, corrupt):
        """Over S3 (versions): a version written over ours never replaces it; putting the
        same bytes again finds ours by its version id (see test_s3.py)."""
        data = os.urandom(20_000)
        got = store.put(reader(data), retain_until=self.retain())
        corrupt(got.key)
        again = store.put(reader(data), retain_until=self.retain())
        assert (True, got.info.version_id) == (again.existed, again.info.version_id)
        with store.open(got.key, version_id=got.info.version_id) as fh:
            assert data == fh.read()


@pytest.fixture
def spooled(tmp_path):
    front = spooling(LocalWormStore(tmp_path / "primary"), tmp_path)
    front.mark_down("test: S3 away")
    got = front.put(reader(os.urandom(5000)), retain_until=StoreContract().retain())
    return front, got


@pytest.mark.parametrize("change", [
    {"size": 4999}, {"sha256": "0" * 64}, {"key": "media/b3/00/00/" + "0" * 64}])
def test_release_refuses_a_proof_that_does_not_match_the_spooled_copy(spooled, change):
    front, got = spooled
    proof = dataclasses.replace(front.spool.stat(got.key), **change)
    with pytest.raises(StoreError, match="does not match"):
        front.spool.release(got.key, proof)
    assert got.digests.sha256 == front.spool.stat(got.key).sha256  # still there, intact


def test_release_removes_the_spooled_copy_once_the_final_copy_matches(spooled):
    front, got = spooled
    final = front.primary.put(reader(front.spool.open(got.key).read()),
                              retain_until=StoreContract().retain())
    front.spool.release(got.key, front.primary.stat(final.key))
    assert 0 == front.status()["spool_files"]
    assert got.digests.sha256 == front.stat(got.key).sha256  # read back from the primary


def test_a_second_daemon_cannot_claim_the_same_spool(tmp_path):
    Spool(tmp_path / "spool").claim()
    with pytest.raises(EvidockError, match="belongs to another running evidock"):
        Spool(tmp_path / "spool").claim()


def test_a_primary_found_without_object_lock_stops_uploads_but_not_spooling(tmp_path):
    """The bucket's set-up is asked once S3 answers; unfit, it is refused for good."""
    from evidock.daemon.store.spool import Drainer

    primary = LocalWormStore(tmp_path / "primary")
    front = SpoolingStore(primary, Spool(tmp_path / "spool"), SpoolLimits(1 << 30),
                          check_primary=lambda: False)
    assert False is front.start()
    assert True is front.put(reader(os.urandom(100)), retain_until=StoreContract().retain(),
                             ).details["spooled"]
    assert Drainer(front).drain_once() is None
    front.mark_up()  # nothing brings a refused primary back while the daemon runs
    assert (True, 1) == (front.primary_down(), front.status()["spool_files"])
    assert "no Object Lock" in front.status()["primary_refused"]
    assert not list((primary.root / "media").rglob("*")) if (primary.root / "media").exists() \
        else True
