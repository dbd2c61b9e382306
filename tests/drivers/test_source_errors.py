"""Errors by origin at the device: a read from a yanked camera is a ``SourceVanished`` raised
by the device file itself, wherever the read happens; the USB driver keeps offering a file the
pipeline refused (its ledger full) while the camera is docked; the udev watcher lives through
a source that fails."""

from __future__ import annotations

import errno
import threading

import pytest

from evidock.daemon.errors import (
    SourceError,
    SourceMissing,
    SourceVanished,
    StoreError,
    source_error,
)
from evidock.drivers.udev import BlockTracker, UdevWatcher
from tests.dock_fixture import sha256_file
from tests.drivers.fake_udev import FakeSource, usb_disk
from tests.drivers.sinks import RecordingSink
from tests.drivers.test_dock_usb import footage, start_driver, wait_for


@pytest.mark.parametrize("err, cls", [
    (errno.EIO, SourceVanished), (errno.ENXIO, SourceVanished), (errno.ENODEV, SourceVanished),
    (errno.ENOTCONN, SourceVanished), (errno.ESTALE, SourceVanished),
    (errno.ENOENT, SourceMissing), (errno.EACCES, SourceError)])
def test_one_classification_of_a_device_oserror(err, cls):
    got = source_error("DCIM/a.mp4", OSError(err, "x"))
    assert cls is type(got) and not isinstance(got, StoreError)
    assert "DCIM/a.mp4" in got.message


@pytest.mark.dock
def test_a_read_from_a_yanked_camera_is_source_vanished_raised_by_the_file(dock_sim, tmp_path):
    """The FUSE server dies under an open recording (ENOTCONN): the device file itself raises
    SourceVanished; no bare OSError escapes it, and closing it raises nothing."""
    src = tmp_path / "src"
    footage(src, n=1, size=3_000_000)
    img = dock_sim.mkimg(src, "SN-SRCERR", "exfat")
    sink = OwnSink("SN-SRCERR", read=False)
    driver = start_driver(tmp_path, sink)
    try:
        dock_sim.dock(img)
        assert sink.finished.wait(30), sink.calls
        item = next(i for i in sink.items if i.relpath.endswith(".MP4"))
        with item.open() as fh:
            assert 65536 == len(fh.read(65536))
            dock_sim.yank(img)
            with pytest.raises(SourceVanished) as caught:
                while fh.readinto(bytearray(1 << 20)):
                    pass
        assert errno.ENOTCONN == caught.value.__cause__.errno
    finally:
        driver.stop()


class OwnSink(RecordingSink):
    """Hears only of its own camera (other tests may dock theirs on the same machine)."""

    def __init__(self, serial: str, read: bool = True) -> None:
        super().__init__(read=read)
        self.serial = serial

    def device_docked(self, device, port):
        if device.serial == self.serial:
            super().device_docked(device, port)

    def media_found(self, item):
        if item.device.serial == self.serial:
            super().media_found(item)

    def scan_finished(self, device, port, total):
        if device.serial == self.serial:
            super().scan_finished(device, port, total)


class RefusingSink(OwnSink):
    """The pipeline with a full ledger disk: the first ``n`` files are refused."""

    def __init__(self, serial: str, n: int) -> None:
        super().__init__(serial)
        self.n, self.refused = n, 0

    def media_found(self, item):
        if item.device.serial != self.serial:
            return
        if self.refused < self.n:
            self.refused += 1
            raise OSError(errno.ENOSPC, "database or disk is full")
        super().media_found(item)


@pytest.mark.dock
def test_files_the_pipeline_refused_are_offered_again_while_the_camera_is_docked(dock_sim,
                                                                                  tmp_path):
    src = tmp_path / "src"
    want = footage(src, n=2, size=200_000)
    img = dock_sim.mkimg(src, "SN-REFUSE", "exfat")
    before = sha256_file(img)
    sink = RefusingSink("SN-REFUSE", 2)
    driver = start_driver(tmp_path, sink)
    try:
        dock_sim.dock(img)
        assert sink.finished.wait(30), sink.calls
        assert want == sink.digests and 2 == sink.refused
        assert driver.alive()
        assert driver.release("SN-REFUSE")
    finally:
        driver.stop()
    assert before == sha256_file(img)


class BrokenOnce(FakeSource):
    def __init__(self) -> None:
        super().__init__()
        self.broke = False

    def receive(self):
        if not self.broke:
            self.broke = True
            raise OSError(errno.ENOBUFS, "No buffer space available")  # netlink overrun
        return super().receive()


def test_the_udev_watcher_lives_through_a_failing_source_and_takes_the_next_dock():
    src = BrokenOnce()
    got, seen = threading.Event(), []

    def on_event(event):
        seen.append(event.kind)
        got.set()

    from evidock.drivers.profiles import GENERIC

    watcher = UdevWatcher(BlockTracker([GENERIC]), on_event, lambda: src)
    watcher.start()
    try:
        src.send("add", **usb_disk(n=3))  # the read of this one fails: overrun
        assert wait_for(lambda: src.broke, 5)
        src.send("add", **usb_disk(n=4, seq=11, serial="SN2"))
        assert got.wait(10), seen
        assert watcher.alive()
    finally:
        watcher.stop()
