"""A ledger error in the failure path: a recording fails (its store is full) at a moment
when the ledger cannot be written either (its file system is full too).  No worker may
die of it: once both are back, that recording and the next one are still taken."""

from __future__ import annotations

import os
import signal

import pytest

from tests.daemon_proc import wait_for

from .invariants import assert_nothing_lost
from .station import MiB, catch_put, footage
from .test_disk_full import log_size, logged_since, started

pytestmark = pytest.mark.slow


def test_a_ledger_error_while_a_file_fails_kills_no_worker(stations, small_fs):
    store_fs, ledger_fs = small_fs(96, "store-fs"), small_fs(16, "ledger-fs")
    station = stations(store_path=store_fs.path / "store",
                       ledger_path=ledger_fs.path / "ledger.sqlite3",
                       ingest={"workers": 1, "max_attempts": 1000})
    daemon = started(station)
    footage(station.watch, "CAM1", {"DCIM/big.mp4": 64 * MiB})
    offset = log_size(station)
    catch_put(station.store_root, daemon)  # stopped mid-write: its attempt is in the ledger
    try:
        ledger_fs.fill()
        store_fs.fill()
    finally:
        os.kill(daemon.pid, signal.SIGCONT)
    wait_for(lambda: logged_since(station, offset, "disk is full"), 30,
             what="the failure to meet the full ledger")
    ledger_fs.free()
    store_fs.free()
    footage(station.watch, "CAM2", {"DCIM/next.mp4": 1 * MiB})
    station.wait_verified(2, 15)
    assert 0 == station.stop(daemon)
    assert_nothing_lost(station)
