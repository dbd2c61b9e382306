"""S3 down, slow and refusing the daemon's credentials in the middle of an upload (the real
SeaweedFS server, stopped or restarted with other keys; a throttling proxy for "slow").  The
recordings go to the spool or wait, reach S3 once it is back, and none is lost.

A multipart upload cut by an outage cannot be aborted while S3 is away; by design
(daemon/store/s3_wire.py, ``_abort``) the next start-up's recovery or the bucket's lifecycle
rule removes it.  So these cases restart the daemon once before checking that no upload is
left open."""

from __future__ import annotations

import signal
import time
import uuid

import pytest

from tests.daemon_proc import wait_for
from tests.s3_fixture import module_server, s3_client_for

from .invariants import S3View, assert_nothing_lost
from .proxy import ThrottlingProxy
from .station import MiB, footage, s3_env, s3_store
from .test_disk_full import started

pytestmark = [pytest.mark.slow, pytest.mark.s3]


# A server of this module's own: these cases stop it and change its keys.
server, up = module_server("s3-faults")


@pytest.fixture
def s3_station(stations, up):
    """(station behind a proxy to S3, the proxy, a view of its bucket)."""
    proxies = []

    def make(rate: float | None = None):
        bucket = up.make_lock_bucket(f"faults-{uuid.uuid4().hex[:12]}")
        proxy = ThrottlingProxy(up.port, rate=rate).start()
        proxies.append(proxy)
        station = stations(store=s3_store(proxy.endpoint, bucket), env=s3_env(up))
        return station, proxy, S3View(s3_client_for(up), bucket)

    yield make
    for proxy in proxies:
        proxy.close()


def in_store(kind: str, count: int):
    return lambda rows: len(rows) == count and all(
        r["state"] == "verified" and (r["store"] or "").startswith(kind) for r in rows)


def test_s3_stopped_mid_upload_the_recording_is_spooled_then_reaches_s3(s3_station, server):
    station, proxy, view = s3_station(rate=4 * MiB)
    daemon = started(station)
    footage(station.watch, "CAM1", {"DCIM/big.mp4": 12 * MiB, "DCIM/small.mp4": 100_000})
    proxy.wait_sent(2 * MiB)  # the upload is under way
    server.stop(signal.SIGKILL)
    station.wait_rows(in_store("spool:", 2), 60, what="both recordings handed over to the spool")
    # the status file is rewritten every tick: wait for the one written after the spooling
    wait_for(lambda: (station.status() or {}).get("store", {}).get("primary_down"), 10,
             what="the station's status to say S3 is away")
    server.start()
    station.wait_rows(in_store("s3:", 2), 60, what="the spool to drain to S3")
    assert 0 == station.stop(daemon)
    assert 0 == station.run_until_idle(), station.log_tail()  # recovery aborts the cut upload
    assert_nothing_lost(station, s3=view)


def test_slow_s3_recordings_wait_for_it_and_arrive_whole(s3_station):
    rate = 2 * MiB
    station, proxy, view = s3_station(rate=rate)
    daemon = started(station)
    began = time.monotonic()
    footage(station.watch, "CAM1", {"DCIM/a.mp4": 6 * MiB, "DCIM/b.mp4": 3 * MiB})
    rows = station.wait_rows(lambda rows: len(rows) == 2 and all(
        r["state"] == "verified" for r in rows), 60, what="both recordings verified")
    took = time.monotonic() - began
    assert took >= 9 * MiB / rate / 2, f"the proxy did not slow S3 down ({took:.1f} s)"
    assert 0 == station.stop(daemon)
    if any(r["store"].startswith("spool:") for r in rows):  # too slow: spooled, then moved
        daemon = station.start()
        station.wait_rows(in_store("s3:", 2), 60, what="the spool to drain to S3")
        assert 0 == station.stop(daemon)
    assert_nothing_lost(station, s3=view)


def test_s3_refusing_the_credentials_mid_upload_spools_until_they_are_fixed(
        s3_station, server):
    """The server comes back mid-upload with other keys: the cut upload fails, then every
    request with the station's key is refused (SignatureDoesNotMatch) until the keys match."""
    station, proxy, view = s3_station(rate=4 * MiB)
    daemon = started(station)
    footage(station.watch, "CAM1", {"DCIM/big.mp4": 12 * MiB})
    proxy.wait_sent(2 * MiB)
    right = server.secret_key
    server.stop()
    server.secret_key = "rotated-" + uuid.uuid4().hex  # the station's key is now wrong
    try:
        server.start()
        footage(station.watch, "CAM1", {"DCIM/next.mp4": 200_000})
        station.wait_rows(in_store("spool:", 2), 60, what="both recordings in the spool")
        # the status file is rewritten every tick: wait for one written after the spooling
        wait_for(lambda: (station.status() or {}).get("store", {}).get("primary_down"), 10,
                 what="the station's status to say S3 is away")
    finally:
        server.stop()
        server.secret_key = right  # the keys are fixed
        server.start()
    station.wait_rows(in_store("s3:", 2), 60, what="the spool to drain to S3")
    assert 0 == station.stop(daemon)
    assert 0 == station.run_until_idle(), station.log_tail()  # recovery aborts the cut upload
    assert_nothing_lost(station, s3=view)


def test_s3_stalling_mid_upload_past_its_timeout_the_recording_is_spooled(s3_station):
    """S3 stops answering (no error, no bytes) longer than ``timeout_seconds``: the upload
    counts as S3 down, the recording goes to the spool, and reaches S3 once it answers."""
    station, proxy, view = s3_station(rate=4 * MiB)
    daemon = started(station)
    footage(station.watch, "CAM1", {"DCIM/big.mp4": 12 * MiB})
    proxy.wait_sent(2 * MiB)
    proxy.hold()
    try:
        station.wait_rows(in_store("spool:", 1), 90, what="the recording in the spool")
    finally:
        proxy.release()
    station.wait_rows(in_store("s3:", 1), 60, what="the spool to drain to S3")
    assert 0 == station.stop(daemon)
    assert 0 == station.run_until_idle(), station.log_tail()  # recovery aborts the cut upload
    assert_nothing_lost(station, s3=view)
