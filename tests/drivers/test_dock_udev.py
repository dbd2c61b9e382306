"""The udev side for real: events from a hand-started systemd-udevd on loop devices."""

from __future__ import annotations

import threading

import pytest

from evidock.drivers.profiles import GENERIC
from evidock.drivers.udev import BlockTracker, UdevWatcher
from tests.drivers.test_dock_usb import footage, wait_for

pytestmark = pytest.mark.dock


class Collector:
    def __init__(self):
        self.events = []
        self.lock = threading.Lock()

    def __call__(self, ev):
        with self.lock:
            self.events.append((ev.kind, ev.props.get("ID_SERIAL_SHORT"), ev.reason))

    def kinds(self, serial):
        with self.lock:
            return [k for k, s, _ in self.events if s == serial or k == "undocked"]


def test_repeated_docks_give_one_docked_ready_undocked_each(dock_sim, tmp_path):
    src = tmp_path / "src"
    footage(src, n=1, size=1000)
    img = dock_sim.mkimg(src, "SN-CYCLE")
    got = Collector()
    watcher = UdevWatcher(BlockTracker([GENERIC]), got)
    watcher.start()
    assert watcher.ready.wait(10)
    try:
        cycles = 20
        for n in range(cycles):
            dock_sim.dock(img)
            assert wait_for(lambda n=n: got.kinds("SN-CYCLE").count("volume_ready") == n + 1, 10)
            dock_sim.undock(img)
            assert wait_for(lambda n=n: got.kinds("SN-CYCLE").count("undocked") == n + 1, 10)
        assert ["docked", "volume_ready", "undocked"] * cycles == got.kinds("SN-CYCLE")
    finally:
        watcher.stop()


def test_a_usb_disk_without_a_file_system_is_an_unknown_device(dock_sim, tmp_path):
    img = tmp_path / "blank.img"
    with open(img, "wb") as f:
        f.truncate(8 << 20)
    (tmp_path / "blank.img.udev").write_text(  # what dock-sim mkimg writes beside an image
        "ID_BUS=usb\nID_VENDOR=ZFYSIM\nID_MODEL=DSJ-SIM\nID_SERIAL_SHORT=SN-BLANK\n")
    dock_sim.images.append(img)
    got = Collector()
    watcher = UdevWatcher(BlockTracker([GENERIC]), got)
    watcher.start()
    assert watcher.ready.wait(10)
    try:
        dock_sim.dock(img)
        assert wait_for(lambda: "unknown_device" in got.kinds("SN-BLANK"), 10), got.events
        reason = next(r for k, s, r in got.events if k == "unknown_device")
        assert "no file system" in reason
    finally:
        watcher.stop()
