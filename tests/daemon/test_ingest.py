"""One file's ingest against the real local store and ledger."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

import pytest

from evidock.daemon.errors import Action
from evidock.daemon.hashing import digest_file
from evidock.daemon.ingest import Ingestor, RetryPolicy
from evidock.daemon.ledger.sqlite import SqliteLedger
from evidock.daemon.store.local import LocalWormStore
from evidock.drivers.base import DeviceIdentity, MediaItem

T0 = datetime(2026, 5, 1, 9, 0, tzinfo=UTC)
CAM = DeviceIdentity("CAM7", source="watch")


@pytest.fixture
def parts(tmp_path):
    ledger = SqliteLedger(tmp_path / "ledger.sqlite3", station="st")
    ledger.ensure_device("CAM7", source="watch")
    store = LocalWormStore(tmp_path / "store")
    ingestor = Ingestor(ledger, store, retention_days=730, retry=RetryPolicy(3, 1, 10),
                        chunk_size=4096)
    device = tmp_path / "device"
    device.mkdir()
    return ledger, store, ingestor, device


def found(ledger, device, name, data: bytes, recorded_at=T0):
    path = device / name
    path.write_bytes(data)
    st = path.stat()
    item = MediaItem(CAM, str(device), name, st.st_size, st.st_mtime_ns, recorded_at, "video")
    media, _ = ledger.register_media(device_serial="CAM7", source_path=name, size=item.size,
                                     mtime_ns=item.mtime_ns, kind="video",
                                     recorded_at=recorded_at, handover_hours=24)
    return media, item


def test_a_file_is_handed_over_bit_exact(parts):
    ledger, store, ingestor, device = parts
    data = os.urandom(100_000)
    media, item = found(ledger, device, "a.mp4", data)
    assert "verified" == ingestor.ingest(media, item).state
    got = ledger.media(media.id)
    with store.open(got.object_key) as fh:
        assert data == fh.read()
    assert digest_file(store.open(got.object_key)).blake3 == got.blake3


def test_retention_is_two_years_after_the_recording(parts):
    ledger, store, ingestor, device = parts
    media, item = found(ledger, device, "a.mp4", b"abc", recorded_at=datetime.now(UTC))
    ingestor.ingest(media, item)
    got = ledger.media(media.id)
    recorded = datetime.fromisoformat(got.recorded_at.replace("Z", "+00:00"))
    assert store.stat(got.object_key).retain_until >= recorded + timedelta(days=730)


def test_a_device_clock_in_the_past_does_not_shorten_retention(parts):
    ledger, store, ingestor, device = parts
    media, item = found(ledger, device, "old.mp4", b"abc",
                        recorded_at=datetime(2001, 1, 1, tzinfo=UTC))
    ingestor.ingest(media, item)
    retain = store.stat(ledger.media(media.id).object_key).retain_until
    assert retain > datetime.now(UTC) + timedelta(days=729)


def test_a_file_that_grew_since_it_was_found_is_retried_later(parts):
    ledger, store, ingestor, device = parts
    media, item = found(ledger, device, "a.mp4", b"abc")
    with open(device / "a.mp4", "ab") as fh:
        fh.write(b"more")
    outcome = ingestor.ingest(media, item)
    assert ("failed", True) == (outcome.state, outcome.retry_at is not None)
    assert "changed since it was found" in ledger.media(media.id).last_error


def test_a_vanished_file_is_retried_not_crashed(parts):
    ledger, store, ingestor, device = parts
    media, item = found(ledger, device, "a.mp4", b"abc")
    os.unlink(device / "a.mp4")
    assert "failed" == ingestor.ingest(media, item).state


def test_after_max_attempts_the_file_is_quarantined(parts):
    ledger, store, ingestor, device = parts
    media, item = found(ledger, device, "a.mp4", b"abc")
    os.unlink(device / "a.mp4")
    states = [ingestor.ingest(ledger.media(media.id), item).state for _ in range(3)]
    assert ["failed", "failed", "quarantined"] == states
    assert (None, "failed") == (ledger.media(media.id).retry_at, ledger.media(media.id).state)


def test_a_symlink_is_quarantined_at_once(parts, tmp_path):
    ledger, store, ingestor, device = parts
    media, item = found(ledger, device, "a.mp4", b"abc")
    os.unlink(device / "a.mp4")
    (tmp_path / "outside").write_bytes(b"abc")
    os.symlink(tmp_path / "outside", device / "a.mp4")
    assert "quarantined" == ingestor.ingest(media, item).state


def test_a_crash_between_store_and_verify_resumes_without_a_second_copy(parts):
    ledger, store, ingestor, device = parts
    media, item = found(ledger, device, "a.mp4", b"abc")
    ingestor._verify = lambda *a: (_ for _ in ()).throw(SystemExit("crash"))
    with pytest.raises(SystemExit):
        ingestor.ingest(media, item)
    assert "stored" == ledger.media(media.id).state
    del ingestor._verify
    assert "verified" == ingestor.ingest(ledger.media(media.id), None).state
    assert 1 == ledger.media(media.id).attempts


def test_the_same_bytes_from_two_files_are_stored_once(parts):
    ledger, store, ingestor, device = parts
    a, item_a = found(ledger, device, "a.mp4", b"same bytes")
    b, item_b = found(ledger, device, "b.mp4", b"same bytes")
    assert False is ingestor.ingest(a, item_a).existed
    assert True is ingestor.ingest(b, item_b).existed
    assert ledger.media(a.id).object_key == ledger.media(b.id).object_key


def test_retry_policy_backs_off_and_gives_up():
    policy = RetryPolicy(max_attempts=4, base_seconds=2, max_seconds=5)
    delays = [(policy.next_try(n, Action.RETRY, T0) - T0).total_seconds() for n in (1, 2, 3)]
    assert [2, 4, 5] == delays
    assert policy.next_try(4, Action.RETRY, T0) is None
    assert policy.next_try(1, Action.QUARANTINE, T0) is None


def test_a_device_that_vanished_never_uses_up_the_attempts(parts):
    """A pulled cable is not the file's fault: it is retried at the next dock, never given up."""
    from evidock.daemon.errors import SourceVanished

    ledger, store, ingestor, device = parts
    media, item = found(ledger, device, "a.mp4", b"abc")

    def gone():
        raise SourceVanished("a.mp4: Transport endpoint is not connected")

    pulled = type(item)(**{**item.__dict__})
    object.__setattr__(pulled, "open", gone)
    states = [ingestor.ingest(ledger.media(media.id), pulled).state for _ in range(5)]
    assert ["failed"] * 5 == states
    assert "verified" == ingestor.ingest(ledger.media(media.id), item).state
