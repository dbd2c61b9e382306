"""A full disk under the store, the ledger or the data directory (a small real tmpfs), then
space returns: the running daemon goes on and hands every recording over, without a restart."""

from __future__ import annotations

import time

import pytest

from tests.daemon_proc import wait_for

from .invariants import assert_nothing_lost
from .station import MiB, Notifications, footage

pytestmark = pytest.mark.slow


def started(station, **kw):
    daemon = station.start(**kw)
    wait_for(lambda: station.status() is not None or daemon.poll() is not None, 30,
             what="the daemon to start")
    assert daemon.poll() is None, station.log_tail()
    return daemon


def log_size(station) -> int:
    return station.log.stat().st_size if station.log.exists() else 0


def logged_since(station, offset: int, *words: str) -> bool:
    with open(station.log, "rb") as fh:
        fh.seek(offset)
        text = fh.read().decode(errors="replace").lower()
    return any(w in text for w in words)


def test_store_disk_full_then_space_returns_the_running_daemon_hands_over(stations, small_fs):
    fs = small_fs(16, "store-fs")
    station = stations(store_path=fs.path / "store",
                       ingest={"max_attempts": 1000, "retry_max_seconds": 0.5})
    daemon = started(station)
    fs.fill()
    footage(station.watch, "CAM1", {"DCIM/a.mp4": 3 * MiB, "DCIM/b.mp4": 100_000})
    station.wait_rows(lambda rows: len(rows) == 2 and all(
        r["state"] == "failed" and "space" in (r["last_error"] or "") for r in rows),
        what="both recordings to fail on the full store")
    fs.free()
    station.wait_verified(2, 30)
    assert daemon.poll() is None
    assert 0 == station.stop(daemon)
    assert_nothing_lost(station)


def test_store_full_past_the_last_attempt_is_retried_once_space_returns(stations, small_fs):
    fs = small_fs(16, "store-fs")
    station = stations(store_path=fs.path / "store", ingest={"max_attempts": 2})
    daemon = started(station)
    fs.fill()
    footage(station.watch, "CAM1", {"DCIM/a.mp4": 2 * MiB})
    # a full store is not the file's fault, so its attempts keep counting up past the last
    # one; >= rather than == lets a poll slowed by a loaded machine miss no window
    station.wait_rows(lambda rows: len(rows) == 1 and rows[0]["state"] == "failed"
                      and rows[0]["attempts"] >= 2, what="the last attempt to fail")
    fs.free()  # the cause is gone: "the file stays queued", says the message
    station.wait_verified(1, 10)
    assert 0 == station.stop(daemon)
    assert_nothing_lost(station)


def test_ledger_disk_full_then_space_returns_the_daemon_goes_on(stations, small_fs, tmp_path):
    fs = small_fs(8, "ledger-fs")
    station = stations(ledger_path=fs.path / "ledger.sqlite3")
    daemon = started(station)
    footage(station.watch, "CAM1", {"DCIM/a.mp4": 1 * MiB})
    station.wait_verified(1)
    offset = log_size(station)
    fs.fill()
    footage(station.watch, "CAM1", {"DCIM/b.mp4": 1 * MiB})
    wait_for(lambda: logged_since(station, offset, "disk is full", "no space"), 30,
             what="the daemon to meet the full ledger disk")
    fs.free()
    footage(station.watch, "CAM2", {"DCIM/c.mp4": 1 * MiB})
    station.wait_verified(3, 15)
    assert daemon.poll() is None
    assert 0 == station.stop(daemon)
    assert_nothing_lost(station)


def test_full_data_directory_the_daemon_keeps_running(stations, small_fs, tmp_path):
    fs = small_fs(4, "data-fs")
    station = stations(data_dir=fs.path / "data", ledger_path=tmp_path / "ledger" / "l.sqlite3",
                       store_path=tmp_path / "store")
    notes = Notifications(station)
    daemon = started(station)
    fs.fill()
    notes.drain()
    # three watchdog pings after the fill: the main loop lived through two status writes
    # that met the full disk (it writes run/status.json, then pings, every tick)
    try:
        notes.wait("WATCHDOG=1", 3, timeout=5)
    except AssertionError as exc:
        raise AssertionError(f"the main loop stopped on the full disk ({exc}); alive: "
                             f"{daemon.poll() is None}\n{station.log_tail()}") from None
    footage(station.watch, "CAM1", {"DCIM/a.mp4": 1 * MiB})
    station.wait_verified(1, 30)
    assert daemon.poll() is None, station.log_tail()
    fs.free()
    freed = time.time()
    wait_for(lambda: (station.status() or {}).get("updated", 0) > freed, 10,
             what="run/status.json to be written again")
    assert 0 == station.stop(daemon)
    assert_nothing_lost(station)
