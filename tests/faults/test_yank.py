"""A camera yanked mid-file (tools/dock-sim kills the FUSE driver of its mount, so the daemon's
reads fail with ENOTCONN, as with a pulled cable), with the real daemon reading it over udev.
The recording is never quarantined, never marks S3 down, and is handed over on the next dock.

The local-store case stops the daemon (SIGSTOP) the moment its copy reaches the store, pulls
the cable, and lets it go on: the yank lands mid-file every time.  The S3 case pulls the
cable once the upload is under way, with a proxy holding it to a few MiB/s."""

from __future__ import annotations

import os
import signal
import uuid

import pytest

from tests.s3_fixture import s3_client_for

from .invariants import S3View, assert_nothing_lost, waiting_with_retry
from .proxy import ThrottlingProxy
from .station import MiB, catch_put, footage, s3_env, s3_store
from .test_disk_full import started

pytestmark = [pytest.mark.slow, pytest.mark.dock]

SERIAL = "SN-YANKED"
FILES = {"DCIM/100MEDIA/20261201_103000_0001.MP4": 48 * MiB,
         "DCIM/100MEDIA/20261201_104500_0002.MP4": 1 * MiB,
         "RECORD/20261201_110000.WAV": 200_000}


def camera(dock_sim, tmp_path):
    """(source folder, image) of a camera only this case's profile covers."""
    vendor = f"FAULTS{uuid.uuid4().hex[:8].upper()}"
    profiles = tmp_path / "profiles"
    profiles.mkdir()
    (profiles / "faults.toml").write_text(
        f'name = "faults"\n[match]\nvendor = ["{vendor}"]\n'
        '[recordings]\nglobs = ["DCIM/**", "RECORD/**"]\n')
    src = tmp_path / "camera"
    footage(src, SERIAL, FILES)
    img = dock_sim.mkimg(src / SERIAL, SERIAL, "exfat", None, "--vendor", vendor)
    return src, img, profiles


def failed_not_given_up(station):
    def check(rows):
        failed = [r for r in rows if r["state"] == "failed"]
        return failed and all(r["state"] in ("verified", "failed", "seen") for r in rows)

    rows = station.wait_rows(check, 30, what="the yanked recording's attempt to fail")
    return [r for r in rows if r["state"] == "failed"]


def test_a_camera_yanked_mid_file_is_not_given_up_and_is_taken_at_the_next_dock(
        stations, dock_sim, tmp_path):
    src, img, profiles = camera(dock_sim, tmp_path)
    # the default first retry delay (2 s): the files not yet read fail once on the vanished
    # mount before the daemon sees the undock; a 0.2 s delay would let them use up all their
    # attempts first, the quarantine the S3 case below shows (issue 8)
    station = stations(usb_profiles=profiles, watch=False,
                       ingest={"retry_base_seconds": 2.0, "retry_max_seconds": 30.0})
    daemon = started(station)
    dock_sim.dock(img)
    catch_put(station.store_root, daemon, timeout=60)
    try:
        dock_sim.yank(img)  # the cable is pulled while the daemon is stopped mid-copy
    finally:
        os.kill(daemon.pid, signal.SIGCONT)
    for row in failed_not_given_up(station):
        assert waiting_with_retry(station, row), f"given up on a yanked file: {row}"
        assert not row["last_error"].startswith("local store"), \
            f"a device error reported as a store error: {row['last_error']}"
    dock_sim.dock(img)
    station.wait_verified(len(FILES), 60)
    assert 0 == station.stop(daemon)
    assert_nothing_lost(station, src)


@pytest.mark.s3
def test_a_camera_yanked_mid_upload_to_s3_does_not_mark_s3_down(
        stations, dock_sim, tmp_path, s3_server):
    src, img, profiles = camera(dock_sim, tmp_path)
    bucket = s3_server.make_lock_bucket(f"faults-{uuid.uuid4().hex[:12]}")
    proxy = ThrottlingProxy(s3_server.port, rate=4 * MiB).start()
    try:
        station = stations(usb_profiles=profiles, watch=False, env=s3_env(s3_server),
                           store=s3_store(proxy.endpoint, bucket))
        daemon = started(station)
        dock_sim.dock(img)
        proxy.wait_sent(2 * MiB, timeout=60)  # the big recording is going up
        dock_sim.yank(img)
        for row in failed_not_given_up(station):
            assert waiting_with_retry(station, row), f"given up on a yanked file: {row}"
        # the drainer's probe marks S3 up again within a second, so the log tells, not status
        downs = [e for e in station.log_events() if e.get("event") == "store_unavailable"]
        assert [] == downs, "a yanked camera marked S3 down"
        dock_sim.dock(img)
        station.wait_rows(lambda rows: len(rows) == len(FILES) and all(
            r["state"] == "verified" and r["store"] == f"s3:{bucket}" for r in rows), 60,
            what="every recording in S3")
        assert 0 == station.stop(daemon)
        assert 0 == station.run_until_idle(), station.log_tail()  # aborts the cut upload
        assert_nothing_lost(station, src, s3=S3View(s3_client_for(s3_server), bucket))
    finally:
        proxy.close()
