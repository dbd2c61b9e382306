"""The S3 store passes the store contract against a real server with Object Lock, and the locks
it sets hold against the server itself: deletes, overwrites and shorter retention are refused."""

from __future__ import annotations

import base64
import hashlib
import io
import os
from datetime import UTC, datetime, timedelta

import pytest
from minio.commonconfig import COMPLIANCE
from minio.deleteobjects import DeleteObject
from minio.error import S3Error
from minio.retention import Retention

from evidock.daemon.store.s3 import S3WormStore

from .contract import StoreContract, reader

pytestmark = pytest.mark.s3
MiB = 1 << 20


def soon(seconds: float = 120) -> datetime:
    return datetime.now(UTC) + timedelta(seconds=seconds)


@pytest.fixture
def store(s3_client, s3_bucket):
    store = S3WormStore(s3_client, s3_bucket, station="test", part_size=5 * MiB, concurrency=2)
    yield store
    store.close()


@pytest.fixture
def corrupt(s3_client, s3_bucket):
    def damage(key: str) -> None:
        """A new version with other bytes hides the stored one: what tampering would look like."""
        s3_client.put_object(s3_bucket, key, io.BytesIO(b"tampered"), 8)
    return damage


class TestS3StoreContract(StoreContract):
    def retain(self) -> datetime:
        return soon()

    def test_conflicting_bytes_under_a_key_are_never_overwritten(self, store, corrupt):
        """S3 keeps versions: one written over ours hides it from plain reads but never
        replaces it; putting the same bytes again finds our version by its id (the audit
        reports the stranger), and reads by that id return our bytes."""
        data = os.urandom(20_000)
        got = store.put(reader(data), retain_until=self.retain())
        corrupt(got.key)
        again = store.put(reader(data), retain_until=self.retain())
        assert (True, got.info.version_id) == (again.existed, again.info.version_id)
        with store.open(got.key, version_id=got.info.version_id) as fh:
            assert data == fh.read()
        with store.open(got.key) as fh:
            assert b"tampered" == fh.read()


def versions(client, bucket, key):
    return [o for o in client.list_objects(bucket, prefix=key, include_version=True)
            if o.object_name == key]


def test_a_locked_version_cannot_be_deleted(store, s3_client, s3_bucket):
    got = store.put(reader(os.urandom(10_000)), retain_until=soon())
    with pytest.raises(S3Error):
        s3_client.remove_object(s3_bucket, got.key, version_id=got.info.version_id)
    assert got.info.version_id == store.stat(got.key).version_id


def test_a_batch_delete_of_a_locked_version_is_refused(store, s3_client, s3_bucket):
    got = store.put(reader(os.urandom(10_000)), retain_until=soon())
    errors = list(s3_client.remove_objects(
        s3_bucket, [DeleteObject(got.key, got.info.version_id)]))
    assert 1 == len(errors)
    assert [got.info.version_id] == [v.version_id for v in versions(s3_client, s3_bucket, got.key)]


def test_an_overwrite_leaves_the_locked_version_intact(store, s3_client, s3_bucket):
    data = os.urandom(20_000)
    got = store.put(reader(data), retain_until=soon())
    s3_client.put_object(s3_bucket, got.key, io.BytesIO(b"other bytes"), 11)
    old = s3_client.get_object(s3_bucket, got.key, version_id=got.info.version_id)
    assert data == old.read()
    head = s3_client.stat_object(s3_bucket, got.key, version_id=got.info.version_id).metadata
    assert "COMPLIANCE" == head["x-amz-object-lock-mode"]


def test_the_server_refuses_to_shorten_retention(store, s3_client, s3_bucket):
    got = store.put(reader(os.urandom(1000)), retain_until=soon(3600))
    with pytest.raises(S3Error):
        s3_client.set_object_retention(s3_bucket, got.key, Retention(COMPLIANCE, soon(60)),
                                       version_id=got.info.version_id)
    assert store.stat(got.key).retain_until >= got.info.retain_until - timedelta(seconds=1)


def test_the_server_checksum_of_a_one_part_object_is_our_sha256(store):
    data = os.urandom(1 * MiB)
    got = store.put(reader(data), retain_until=soon())
    assert base64.b64encode(hashlib.sha256(data).digest()).decode() == store.stat(got.key).checksum


def test_a_large_multipart_put_keeps_its_lock_and_checksum(store, s3_client, s3_bucket):
    data = os.urandom(40 * MiB)
    until = soon(600)
    got = store.put(reader(data), retain_until=until, legal_hold=True)
    info = store.stat(got.key)
    parts = [hashlib.sha256(data[i:i + 5 * MiB]).digest() for i in range(0, len(data), 5 * MiB)]
    composite = base64.b64encode(hashlib.sha256(b"".join(parts)).digest()).decode() + "-8"
    assert (len(data), "COMPLIANCE", True, composite) == (
        info.size, info.lock_mode, info.legal_hold, info.checksum)
    assert info.retain_until >= until - timedelta(seconds=1)
    assert hashlib.sha256(data).hexdigest() == info.sha256
    with store.open(got.key) as fh:
        assert hashlib.sha256(data).digest() == hashlib.sha256(fh.read()).digest()


def test_a_duplicate_put_leaves_exactly_one_version(store, s3_client, s3_bucket):
    data = os.urandom(6 * MiB)
    store.put(reader(data), retain_until=soon())
    again = store.put(reader(data), retain_until=soon())
    assert True is again.existed
    assert 1 == len(versions(s3_client, s3_bucket, again.key))


def test_recover_aborts_an_upload_a_crash_left_open(store, s3_client, s3_bucket):
    s3_client._create_multipart_upload(s3_bucket, "staging/test/crashed", {})
    assert 1 == store.recover()
    assert 0 == store.recover()


def test_stat_fails_when_the_server_checksum_differs_from_the_one_recorded(store, s3_client,
                                                                          s3_bucket):
    """An object whose bytes no longer match the checksum written at upload is not trusted."""
    from evidock.daemon.errors import IntegrityError
    from evidock.daemon.store.s3_wire import b64

    data = b"bytes that were swapped"
    key = "media/b3/00/00/" + "0" * 64
    s3_client._put_object(s3_bucket, key, data, {
        "x-amz-checksum-sha256": b64(hashlib.sha256(data).digest()),
        "x-amz-meta-evidock-checksum": b64(hashlib.sha256(b"the original").digest()),
        "x-amz-meta-evidock-sha256": hashlib.sha256(b"the original").hexdigest()})
    with pytest.raises(IntegrityError, match="differs from the one recorded"):
        store.stat(key)


def test_a_years_long_lock_and_hold_end_up_on_the_content_key(store, s3_client, s3_bucket):
    """The copy from staging must not keep the staging lock (one day) or lose the hold: SeaweedFS
    4.48 does both, and the read-back puts the recording's lock back before the put returns."""
    until = soon(800 * 86400)
    got = store.put(reader(os.urandom(5000)), retain_until=until, legal_hold=True)
    head = s3_client.stat_object(s3_bucket, got.key, version_id=got.info.version_id).metadata
    assert ("COMPLIANCE", "ON") == (head["x-amz-object-lock-mode"],
                                    head["x-amz-object-lock-legal-hold"])
    from evidock.daemon.store.s3_wire import parse_s3_time

    assert parse_s3_time(head["x-amz-object-lock-retain-until-date"]) >= until - timedelta(
        seconds=1)


def test_two_puts_of_the_same_bytes_at_once_store_one_version(store, s3_client, s3_bucket):
    """Two devices can hold the same file; two workers putting it at once leave one version."""
    from concurrent.futures import ThreadPoolExecutor

    data = os.urandom(6 * MiB)
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda _: store.put(reader(data), retain_until=soon()), range(2)))
    assert [False, True] == sorted(r.existed for r in results)
    assert 1 == len(versions(s3_client, s3_bucket, results[0].key))


def test_a_recording_that_fits_one_part_is_one_put_with_its_lock(store, s3_client, s3_bucket):
    """Small recordings skip staging and the server-side copy: nothing is written under
    ``staging/``, and the one version carries the lock, hold and checksum it was sent with."""
    from structlog.testing import capture_logs

    data = os.urandom(5 * MiB - 1)
    until = soon(800 * 86400)
    with capture_logs() as logs:
        got = store.put(reader(data), retain_until=until, legal_hold=True)
    staged = list(s3_client.list_objects(s3_bucket, prefix="staging/", recursive=True,
                                         include_version=True))
    assert ([], 1) == (staged, len(versions(s3_client, s3_bucket, got.key)))
    whole = base64.b64encode(hashlib.sha256(data).digest()).decode()
    assert (len(data), "COMPLIANCE", True, whole) == (
        got.info.size, got.info.lock_mode, got.info.legal_hold, got.info.checksum)
    assert got.info.retain_until >= until - timedelta(seconds=1)
    assert [] == [e for e in logs if e["event"] == "object_lock_repaired"]


def test_a_recording_of_several_parts_still_goes_through_staging(store, s3_client, s3_bucket):
    store.put(reader(os.urandom(5 * MiB + 1)), retain_until=soon())
    staged = list(s3_client.list_objects(s3_bucket, prefix="staging/", recursive=True))
    assert 1 == len(staged)


def test_ffmpeg_reads_the_recorded_version_not_one_written_over_it(store, corrupt):
    """The probe and the derivatives read the stored copy through a URL: it names the
    version the ledger recorded, so a version written over the key later is never read."""
    import urllib.request

    from evidock.daemon.probe import source_for

    data = os.urandom(30_000)
    got = store.put(reader(data), retain_until=soon())
    corrupt(got.key)
    with urllib.request.urlopen(source_for(store, got.key, got.info.version_id)) as resp:
        assert data == resp.read()
    with urllib.request.urlopen(source_for(store, got.key)) as resp:  # "the latest"
        assert b"tampered" == resp.read()
