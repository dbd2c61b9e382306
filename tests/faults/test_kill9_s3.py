"""``kill -9`` of an S3 station (the real SeaweedFS server with Object Lock on loopback):
mid multipart upload, after the S3 commit before the ledger knew, and inside the ledger
commit; the restart finishes each recording with one S3 version and no open upload."""

from __future__ import annotations

import uuid

import pytest

from tests.s3_fixture import s3_client_for

from .invariants import S3View, assert_nothing_lost
from .station import MiB, footage, s3_env, s3_store
from .test_kill9 import kill_at_commit, stage

pytestmark = [pytest.mark.slow, pytest.mark.s3]


@pytest.fixture
def s3_station(stations, s3_server):
    """Make S3 stations, each on a bucket of its own (``station.s3`` shows the bucket)."""

    def make(name: str = "st", **kwargs):
        bucket = s3_server.make_lock_bucket(f"faults-{uuid.uuid4().hex[:12]}")
        station = stations(name, store=s3_store(s3_server.endpoint, bucket),
                           env=s3_env(s3_server), **kwargs)
        station.s3 = S3View(s3_client_for(s3_server), bucket)
        return station

    return make


def in_s3(station):
    return station.s3.media_keys()


def test_killed_mid_multipart_upload_the_restart_aborts_it_and_uploads_once(s3_station):
    station = s3_station()
    view = station.s3
    footage(station.watch, "CAM1", {"DCIM/big.mp4": 24 * MiB, "DCIM/a.mp4": 100_000})
    # the upload reads two 5 MiB parts before it opens the multipart upload, and the reader
    # runs up to 8 MiB ahead of it: after 19-20 MiB read, the upload is open, parts are sent
    station.killed_by_fault("read@20")
    assert ("copying", False) == stage(station, lambda: in_s3(station))
    assert view.open_uploads(), "no multipart upload was open: the kill was not mid-upload"
    assert 0 == station.run_until_idle(), station.log_tail()
    assert_nothing_lost(station, s3=view)


def test_killed_after_the_s3_commit_before_the_ledger_knew_keeps_one_version(s3_station):
    station = s3_station()
    view = station.s3
    footage(station.watch, "CAM1", {"DCIM/a.mp4": 6 * MiB, "DCIM/b.mp4": 100_000})
    station.killed_by_fault("after_store_put")
    assert ("copying", True) == stage(station, lambda: in_s3(station))
    assert 0 == station.run_until_idle(), station.log_tail()
    rows = assert_nothing_lost(station, s3=view)
    assert {f"s3:{view.bucket}"} == {r["store"] for r in rows}


def test_killed_inside_the_ledger_commit_of_an_s3_copy_keeps_one_version(s3_station):
    station = kill_at_commit(s3_station, "stored", {"DCIM/only.mp4": 2 * MiB}, in_s3)
    view = station.s3
    assert 0 == station.run_until_idle(), station.log_tail()
    rows = assert_nothing_lost(station, s3=view)
    assert {f"s3:{view.bucket}"} == {r["store"] for r in rows}


def test_killed_before_verifying_an_s3_copy_verifies_it_after_the_restart(s3_station):
    station = s3_station()
    footage(station.watch, "CAM1", {"DCIM/a.mp4": 6 * MiB, "DCIM/b.mp4": 100_000})
    station.killed_by_fault("before_verify")
    assert ("stored", True) == stage(station, lambda: in_s3(station))
    assert 0 == station.run_until_idle(), station.log_tail()
    rows = assert_nothing_lost(station, s3=station.s3)
    assert [1, 1] == sorted(r["attempts"] for r in rows)  # verified without a new upload
