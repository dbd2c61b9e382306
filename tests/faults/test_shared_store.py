"""Two data directories (two daemons, two ledgers) on one store path: neither daemon's
start-up recovery may remove the other's upload in flight, and nothing is lost.  Refusing to
start the second daemon on a store in use (saying so) is a fair answer too."""

from __future__ import annotations

import os
import signal

import pytest

from tests.daemon_proc import wait_for

from .invariants import assert_nothing_lost
from .station import MiB, catch_put, footage

pytestmark = pytest.mark.slow


def test_a_second_data_dir_on_the_same_store_leaves_the_others_upload_alone(
        stations, tmp_path):
    shared = tmp_path / "shared-store"
    first = stations("first", store_path=shared, station_id="first")
    second = stations("second", store_path=shared, station_id="second")
    footage(first.watch, "CAM1", {"DCIM/big.mp4": 64 * MiB})
    footage(second.watch, "CAM2", {"DCIM/other.mp4": 1 * MiB})
    daemon = first.start()
    part = catch_put(shared, daemon)  # the first daemon is stopped mid-put
    try:
        other = second.start()  # its start-up recovery runs now
        wait_for(lambda: second.status() is not None or other.poll() is not None, 30,
                 what="the second daemon to start or refuse")
        refused = other.poll() is not None
        if not refused:
            second.wait_verified(1)
        survived = (shared / ".incoming" / part).exists()
    finally:
        os.kill(daemon.pid, signal.SIGCONT)
    assert survived, "the second daemon's recovery removed the first one's upload in flight"
    rows = first.wait_verified(1)
    assert 1 == rows[0]["attempts"], rows  # its put was not broken by the other daemon
    assert 0 == first.stop(daemon)
    if refused:
        assert "store" in second.log_tail().lower(), second.log_tail()
        assert_nothing_lost(first, first.watch)
        return
    assert 0 == second.stop(other)
    assert_nothing_lost(first, sharing=(second,))
    assert_nothing_lost(second, sharing=(first,))
