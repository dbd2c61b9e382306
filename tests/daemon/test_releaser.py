"""Clearing and unmounting run on a thread of their own: a slow unmount never holds up the
main loop (and its watchdog ping), and a failing one is recorded and tried again."""

from __future__ import annotations

import threading
import time

from evidock.daemon.ledger.sqlite import SqliteLedger
from evidock.daemon.releaser import Releaser
from tests.daemon_proc import wait_for


class SlowUsb:
    """The USB driver's release side, with an unmount that takes ``delay`` seconds and fails
    ``fail`` times first."""

    def __init__(self, delay: float = 0.0, fail: int = 0) -> None:
        self.delay, self.fail = delay, fail
        self.mounts = {"SN1"}
        self.released = threading.Event()

    def mounted(self, serial):
        return serial in self.mounts

    def clear_handed_over(self, serial, verified):
        return []

    def release(self, serial):
        time.sleep(self.delay)
        if self.fail:
            self.fail -= 1
            raise OSError(16, "Device or resource busy")
        self.mounts.discard(serial)
        self.released.set()
        return True


def status(safe=True):
    return {"devices": [{"serial": "SN1", "docked": True, "safe_to_undock": safe}]}


def test_a_slow_unmount_does_not_hold_up_the_caller_and_safe_shows_once_unmounted(tmp_path):
    usb = SlowUsb(delay=2.0)
    releaser = Releaser(usb, SqliteLedger(tmp_path / "l.sqlite3", station="st"))
    releaser.start()
    try:
        started = time.monotonic()
        snap = status()
        releaser.offer(snap)
        assert time.monotonic() - started < 0.5  # the main loop goes on at once
        assert False is snap["devices"][0]["safe_to_undock"]  # still mounted
        assert usb.released.wait(10)
        snap = status()
        releaser.offer(snap)
        assert True is snap["devices"][0]["safe_to_undock"]
    finally:
        releaser.stop()


def test_a_failing_unmount_is_recorded_and_tried_again_at_the_next_offer(tmp_path):
    ledger = SqliteLedger(tmp_path / "l.sqlite3", station="st")
    usb = SlowUsb(fail=1)
    releaser = Releaser(usb, ledger)
    releaser.start()
    try:
        releaser.offer(status())
        wait_for(lambda: any(e.kind == "device_release_failed" for e in ledger.events()), 10)
        assert releaser.alive()
        releaser.offer(status())
        assert usb.released.wait(10)
    finally:
        releaser.stop()


def test_a_device_not_yet_done_is_not_released(tmp_path):
    usb = SlowUsb()
    releaser = Releaser(usb, SqliteLedger(tmp_path / "l.sqlite3", station="st"))
    releaser.start()
    try:
        releaser.offer(status(safe=False))
        time.sleep(0.3)
        assert usb.mounted("SN1")
    finally:
        releaser.stop()
