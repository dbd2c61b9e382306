"""Real docks: loop-device images, real udev events, real read-only mounts (tools/dock-sim)."""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path

import pytest

from evidock.drivers.profiles import GENERIC
from evidock.drivers.usb import UsbDriver
from tests.dock_fixture import sha256_file
from tests.drivers.sinks import RecordingSink

pytestmark = pytest.mark.dock


def footage(root: Path, n: int = 3, size: int = 1_500_000) -> dict[str, str]:
    """A folder like a camera's: recordings under DCIM, an ID file; returns relpath -> sha256."""
    want = {}
    for i in range(n):
        rel = f"DCIM/100MEDIA/20261122_1030{i:02d}_{i:04d}.MP4"
        data = os.urandom(size + i)
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
        want[rel] = hashlib.sha256(data).hexdigest()
    (root / "RECORD").mkdir(exist_ok=True)
    (root / "RECORD" / "20261122_110000.WAV").write_bytes(b"RIFF" + os.urandom(5000))
    want["RECORD/20261122_110000.WAV"] = hashlib.sha256(
        (root / "RECORD" / "20261122_110000.WAV").read_bytes()).hexdigest()
    (root / "notes.txt").write_text("not a recording")
    return want


def start_driver(tmp_path, sink, **kw) -> UsbDriver:
    driver = UsbDriver(tmp_path / "data", [GENERIC], **kw)
    driver.start(sink)
    assert driver._watcher.ready.wait(10)
    return driver


def wait_for(pred, timeout=20.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.02)
    return False


@pytest.mark.parametrize("fs", ["exfat", "ext4", "vfat", "ntfs"])
def test_docked_camera_is_read_bit_exact_and_the_image_is_unchanged(dock_sim, tmp_path, fs):
    src = tmp_path / "src"
    want = footage(src)
    img = dock_sim.mkimg(src, f"SN-{fs}", fs)
    before = sha256_file(img)
    sink = RecordingSink()
    driver = start_driver(tmp_path, sink)
    try:
        dock_sim.dock(img)
        assert sink.finished.wait(30), f"no scan finished; calls: {sink.calls}"
        assert want == sink.digests
        assert ("docked", f"SN-{fs}") == sink.calls[0][:2]
        assert ("scanned", f"SN-{fs}", len(want)) == sink.calls[1]
        mounts = Path("/proc/self/mounts").read_text()
        line = next(m for m in mounts.splitlines() if str(tmp_path / "data") in m)
        assert {"ro", "nosuid", "nodev"} <= set(line.split()[3].split(","))
        assert driver.release(f"SN-{fs}")
        assert str(tmp_path / "data") not in Path("/proc/self/mounts").read_text()
        dock_sim.undock(img)
        assert sink.undocked.wait(10)
    finally:
        driver.stop()
    assert before == sha256_file(img)


def test_partitioned_fat32_card_is_found_on_its_partition(dock_sim, tmp_path):
    src = tmp_path / "src"
    want = footage(src, n=1)
    img = dock_sim.mkimg(src, "SN-MBR", "vfat", None, "--mbr")
    sink = RecordingSink()
    driver = start_driver(tmp_path, sink)
    try:
        dev = dock_sim.dock(img)
        assert sink.finished.wait(30), sink.calls
        assert want == sink.digests
        assert os.path.basename(sink.items[0].root).startswith(os.path.basename(dev) + "p1-")
    finally:
        driver.stop()


def test_camera_docked_before_the_daemon_starts_is_taken(dock_sim, tmp_path):
    src = tmp_path / "src"
    want = footage(src, n=1)
    img = dock_sim.mkimg(src, "SN-EARLY")
    dock_sim.dock(img)
    sink = RecordingSink()
    driver = start_driver(tmp_path, sink)
    try:
        assert sink.finished.wait(30), sink.calls
        assert want == sink.digests
    finally:
        driver.stop()
