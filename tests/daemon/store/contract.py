"""The contract every WormStore must pass (see evidock.daemon.store.base.WormStore).

A store's test module subclasses :class:`StoreContract` and provides a ``store`` fixture;
the S3 store runs the same class against a real server.  Readers here lie on purpose: they
report one length and deliver another, or hand out digests that do not match their bytes.
"""

from __future__ import annotations

import errno
import io
import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from evidock.daemon.errors import (
    IntegrityError,
    ObjectConflict,
    ObjectMissing,
    RetentionError,
    SizeMismatch,
    SourceMissing,
    SourceVanished,
)
from evidock.daemon.hashing import Digests, HashingReader, digest_file
from evidock.daemon.ingest import Ingestor, RetryPolicy
from evidock.daemon.ledger.sqlite import SqliteLedger
from evidock.daemon.store.keys import object_key
from evidock.drivers.base import DeviceIdentity, MediaItem
from evidock.drivers.safefs import SourceFile


def reader(data: bytes, size: int | None = None, name: str = "clip.mp4") -> HashingReader:
    return HashingReader(io.BytesIO(data), len(data) if size is None else size, name=name,
                         chunk_size=64 * 1024)


class LyingDigestReader(HashingReader):
    """Hands out the bytes it read but claims the digests of other bytes."""

    def __init__(self, data: bytes, claimed: bytes) -> None:
        super().__init__(io.BytesIO(data), len(data), name="liar.mp4")
        self._claimed = claimed

    def digests(self) -> Digests:
        super().digests()
        return digest_file(io.BytesIO(self._claimed))


class FailsAfter(io.RawIOBase):
    """A device file that fails with ``err`` once ``after`` bytes were read (a yanked cable:
    EIO from a USB disk, ENOTCONN from a FUSE mount whose server died)."""

    def __init__(self, raw, after: int, err: int = errno.EIO) -> None:
        self._raw, self._left, self._err = raw, after, err

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        if self._left <= 0:
            raise OSError(self._err, os.strerror(self._err))
        n = self._raw.readinto(memoryview(buffer)[:self._left])
        self._left -= n
        return n

    def fileno(self) -> int:
        return self._raw.fileno()

    def close(self) -> None:
        self._raw.close()
        super().close()


def yanked(data: bytes, after: int, err: int = errno.EIO) -> HashingReader:
    """A stream over a device file (wrapped at its source, as ``MediaItem.open`` does) that
    fails after ``after`` bytes."""
    return HashingReader(SourceFile(FailsAfter(io.BytesIO(data), after, err), "DCIM/yank.mp4"),
                         len(data), name="DCIM/yank.mp4", chunk_size=64 * 1024)


@dataclass(frozen=True)
class YankedItem(MediaItem):
    """A recording whose device goes away after ``after`` bytes, every time it is read."""

    after: int = 0

    def open(self) -> SourceFile:
        raw = open(os.path.join(self.root, self.relpath), "rb", buffering=0)
        return SourceFile(FailsAfter(raw, self.after), self.relpath)


def later(days: float = 1) -> datetime:
    return datetime.now(UTC) + timedelta(days=days)


class SourceErrorContract:
    """Errors by origin: a device error inside ``put`` stays a device error.  Part of
    :class:`StoreContract`; a store that wraps others (the spooling store) runs it too."""

    def retain(self) -> datetime:
        """A retain-until for test objects; the S3 suite overrides it with seconds."""
        return later(1)

    def _yank_sizes(self, store) -> tuple[int, int]:
        """Big enough that a chunked store (S3: several parts) has sent something already."""
        part = getattr(store, "part_size", None) or getattr(
            getattr(store, "primary", None), "part_size", None) or 64 * 1024
        return int(part * 2.5), int(part * 1.5)

    @pytest.mark.parametrize("err, raised", [(errno.EIO, SourceVanished),
                                             (errno.ENOTCONN, SourceVanished),
                                             (errno.ENOENT, SourceMissing)])
    def test_a_device_error_inside_put_stays_a_source_error(self, store, err, raised):
        size, after = self._yank_sizes(store)
        data = os.urandom(size)
        with pytest.raises(raised) as caught:
            store.put(yanked(data, after, err), retain_until=self.retain())
        assert type(caught.value) is raised  # not relabelled by the store on the way
        with pytest.raises(ObjectMissing):
            store.stat(object_key(digest_file(io.BytesIO(data))))
        assert 0 == store.recover()  # no half-written or open upload left behind

    def test_a_device_error_inside_put_never_marks_the_store_down(self, store):
        """A device error changes nothing about where the store puts things: a primary that
        was up stays up, one already away stays away."""
        down = getattr(store, "primary_down", lambda: False)
        was_down = down()
        size, after = self._yank_sizes(store)
        with pytest.raises(SourceVanished):
            store.put(yanked(os.urandom(size), after), retain_until=self.retain())
        assert was_down is down()
        data = os.urandom(20_000)  # and the next put goes where it always goes
        got = store.put(reader(data), retain_until=self.retain())
        assert was_down == got.details.get("spooled", False)

    def test_a_yanked_cameras_file_is_never_quarantined(self, store, tmp_path):
        """A device that vanishes mid-file, again and again, uses up no attempts: the file
        waits for the next dock however often it happens."""
        ledger = SqliteLedger(tmp_path / "ledger.sqlite3", station="st")
        ledger.ensure_device("CAM9", source="usb")
        ingestor = Ingestor(ledger, store, retention_days=1, retry=RetryPolicy(2, 0.01, 0.05),
                            chunk_size=64 * 1024)
        down = getattr(store, "primary_down", lambda: False)
        was_down = down()
        size, after = self._yank_sizes(store)
        (tmp_path / "dev").mkdir()
        (tmp_path / "dev" / "a.mp4").write_bytes(os.urandom(size))
        st = (tmp_path / "dev" / "a.mp4").stat()
        item = YankedItem(DeviceIdentity("CAM9", source="usb"), str(tmp_path / "dev"), "a.mp4",
                          size, st.st_mtime_ns, datetime.now(UTC), "video", after=after)
        media, _ = ledger.register_media(device_serial="CAM9", source_path="a.mp4", size=size,
                                         mtime_ns=st.st_mtime_ns, kind="video",
                                         recorded_at=item.recorded_at, handover_hours=24)
        for _ in range(4):  # twice max_attempts
            outcome = ingestor.ingest(ledger.media(media.id), item)
            assert ("failed", "source") == (outcome.state, outcome.cause), outcome
            assert outcome.retry_at is not None
        row = ledger.media(media.id)
        assert ("failed", 4) == (row.state, row.attempts)
        assert row.retry_at is not None and "free space" not in row.last_error
        assert was_down is down()


class StoreContract(SourceErrorContract):
    """Behaviour shared by every store.  Subclasses provide the ``store`` fixture."""

    def test_put_stores_bytes_under_their_content_key(self, store):
        data = os.urandom(300_000)
        got = store.put(reader(data), retain_until=self.retain())
        assert object_key(digest_file(io.BytesIO(data))) == got.key
        assert False is got.existed
        with store.open(got.key) as fh:
            assert data == fh.read()

    def test_a_span_of_an_object_is_read_alone(self, store):
        data = os.urandom(300_000)
        key = store.put(reader(data), retain_until=self.retain()).key
        with store.open(key, offset=100_000, length=5_000) as fh:
            assert data[100_000:105_000] == fh.read()
        with store.open(key, offset=299_990) as fh:
            assert data[299_990:] == fh.read(1 << 20)
        with store.open(key, offset=7, length=3) as fh:  # read in pieces, it still ends there
            assert (data[7:9], data[9:10], b"") == (fh.read(2), fh.read(5), fh.read())

    def test_a_put_left_to_sync_later_is_the_same_object_once_synced(self, store):
        """``durable=False`` changes when the object is durable, never what it is."""
        data = os.urandom(120_000)
        got = store.put(reader(data), retain_until=self.retain(), durable=False)
        store.sync()
        again = store.put(reader(data), retain_until=self.retain())
        assert (object_key(digest_file(io.BytesIO(data))), True) == (got.key, again.existed)
        assert (len(data), got.digests.sha256) == (store.stat(got.key).size,
                                                   store.stat(got.key).sha256)
        with store.open(got.key) as fh:
            assert data == fh.read()

    def test_stat_reports_what_the_store_holds(self, store):
        data = os.urandom(70_000)
        got = store.put(reader(data), retain_until=self.retain(), legal_hold=True)
        info = store.stat(got.key)
        assert (len(data), got.digests.sha256, True) == (info.size, info.sha256, info.legal_hold)
        assert info.retain_until >= self.retain() - timedelta(seconds=5)

    def test_empty_recording_is_stored(self, store):
        got = store.put(reader(b""), retain_until=self.retain())
        assert 0 == store.stat(got.key).size

    def test_short_read_commits_nothing(self, store):
        data = os.urandom(100_000)
        with pytest.raises(SizeMismatch):
            store.put(reader(data, size=len(data) + 10), retain_until=self.retain())
        with pytest.raises(ObjectMissing):
            store.stat(object_key(digest_file(io.BytesIO(data))))

    def test_long_read_commits_nothing(self, store):
        data = os.urandom(100_000)
        with pytest.raises(SizeMismatch):
            store.put(reader(data, size=len(data) - 1), retain_until=self.retain())
        with pytest.raises(ObjectMissing):
            store.stat(object_key(digest_file(io.BytesIO(data))))

    def test_digests_that_do_not_match_the_bytes_are_refused(self, store):
        data, claimed = os.urandom(50_000), os.urandom(50_000)
        with pytest.raises(IntegrityError):
            store.put(LyingDigestReader(data, claimed), retain_until=self.retain())
        for content in (data, claimed):
            with pytest.raises(ObjectMissing):
                store.stat(object_key(digest_file(io.BytesIO(content))))

    def test_duplicate_put_returns_the_existing_object(self, store):
        data = os.urandom(40_000)
        first = store.put(reader(data), retain_until=self.retain())
        second = store.put(reader(data), retain_until=self.retain())
        assert (first.key, True) == (second.key, second.existed)
        assert first.info.sha256 == store.stat(first.key).sha256

    def test_duplicate_put_with_later_retention_extends_it(self, store):
        data = os.urandom(40_000)
        first = store.put(reader(data), retain_until=self.retain())
        store.put(reader(data), retain_until=first.info.retain_until + timedelta(days=3))
        want = first.info.retain_until + timedelta(days=3) - timedelta(seconds=1)
        assert store.stat(first.key).retain_until >= want

    def test_retention_cannot_be_shortened(self, store):
        got = store.put(reader(os.urandom(1000)), retain_until=self.retain())
        with pytest.raises(RetentionError):
            store.extend_retention(got.key, got.info.retain_until - timedelta(hours=12))
        assert store.stat(got.key).retain_until >= got.info.retain_until - timedelta(seconds=1)

    def test_retention_can_be_extended(self, store):
        got = store.put(reader(os.urandom(1000)), retain_until=self.retain())
        target = got.info.retain_until + timedelta(days=30)
        store.extend_retention(got.key, target)
        assert abs((target - store.stat(got.key).retain_until).total_seconds()) < 1

    def test_legal_hold_is_set_and_released(self, store):
        got = store.put(reader(os.urandom(1000)), retain_until=self.retain())
        assert True is store.set_legal_hold(got.key, True).legal_hold
        assert True is store.stat(got.key).legal_hold
        assert False is store.set_legal_hold(got.key, False).legal_hold
        assert False is store.stat(got.key).legal_hold

    def test_stat_of_unknown_key_is_object_missing(self, store):
        with pytest.raises(ObjectMissing):
            store.stat(object_key(digest_file(io.BytesIO(b"never stored"))))

    def test_store_has_no_delete(self, store):
        assert not any(hasattr(store, name) for name in ("delete", "remove", "remove_object"))

    def test_recover_after_a_clean_run_finds_nothing_to_do(self, store):
        store.put(reader(os.urandom(1000)), retain_until=self.retain())
        assert 0 == store.recover()

    def test_conflicting_bytes_under_a_key_are_never_overwritten(self, store, corrupt):
        """``corrupt(key)`` damages the stored object behind the store's back."""
        data = os.urandom(20_000)
        got = store.put(reader(data), retain_until=self.retain())
        corrupt(got.key)
        with pytest.raises(ObjectConflict):
            store.put(reader(data), retain_until=self.retain())

    # -- named records (the ledger's anchors) and listing ------------------------------------

    def test_a_record_is_read_back_as_written(self, store):
        key = f"ledger/st/{os.urandom(4).hex()}.jsonl"
        data = b'{"seq":1}\n' + os.urandom(100).hex().encode()
        info = store.put_record(key, data, retain_until=self.retain())
        assert (key, len(data)) == (info.key, info.size)
        assert data == store.read_record(key)

    def test_a_record_can_never_be_overwritten(self, store):
        key = f"ledger/st/{os.urandom(4).hex()}.jsonl"
        store.put_record(key, b"first", retain_until=self.retain())
        with pytest.raises(ObjectConflict):
            store.put_record(key, b"second", retain_until=self.retain())
        assert b"first" == store.read_record(key)

    def test_the_same_record_again_is_accepted_and_changes_nothing(self, store):
        key = f"ledger/st/{os.urandom(4).hex()}.jsonl"
        store.put_record(key, b"same", retain_until=self.retain())
        store.put_record(key, b"same", retain_until=self.retain())
        assert [key] == store.list_records(key)
        assert b"same" == store.read_record(key)

    def test_a_record_cannot_be_removed(self, store):
        """No call of the store removes a record: nothing is named so, and recovery keeps it."""
        key = f"ledger/st/{os.urandom(4).hex()}.jsonl"
        store.put_record(key, b"kept", retain_until=self.retain())
        assert not any(hasattr(store, n) for n in ("delete_record", "remove_record"))
        store.recover()
        assert b"kept" == store.read_record(key)

    def test_records_are_listed_by_prefix_in_key_order(self, store):
        top = f"ledger/{os.urandom(4).hex()}"
        keys = [f"{top}/{n:012d}-x.jsonl" for n in (3, 1, 2)]
        for key in keys:
            store.put_record(key, key.encode(), retain_until=self.retain())
        store.put_record(f"{top}-other/1.jsonl", b"not mine", retain_until=self.retain())
        assert sorted(keys) == store.list_records(top + "/")
        assert [] == store.list_records(f"ledger/{os.urandom(4).hex()}/")

    def test_records_are_not_content_objects(self, store):
        store.put_record(f"ledger/st/{os.urandom(4).hex()}.jsonl", b"r", retain_until=self.retain())
        got = store.put(reader(os.urandom(500)), retain_until=self.retain())
        assert got.key in {o.key for o in store.list_objects()}
        assert all(o.key.startswith("media/b3/") for o in store.list_objects())

    def test_a_record_key_outside_the_record_namespace_is_refused(self, store):
        for key in ("media/b3/aa/bb/x", "ledger/../media/x", "ledger/st/", "ledger/a b"):
            with pytest.raises(ValueError):
                store.put_record(key, b"x", retain_until=self.retain())

    def test_an_unknown_record_is_object_missing(self, store):
        with pytest.raises(ObjectMissing):
            store.read_record(f"ledger/st/{os.urandom(4).hex()}.jsonl")

    def test_listed_objects_carry_the_metadata_they_were_put_with(self, store):
        data = os.urandom(3000)
        got = store.put(reader(data), retain_until=self.retain(),
                        metadata={"station": "st-01", "source-path-hex": "2f612e6d7034"})
        listed = {o.key: o for o in store.list_objects()}[got.key]
        assert (len(data), got.digests.sha256) == (listed.size, listed.sha256)
        assert {"station": "st-01", "source-path-hex": "2f612e6d7034"}.items() <= \
            listed.metadata.items()
