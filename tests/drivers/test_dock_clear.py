"""Clear after handover (a per-profile option, off by default): only recordings whose
verified copy is in the ledger, with the same bytes on the device, are deleted; the volume is
read-only again afterwards.  ext4 image: the FUSE drivers used here for FAT/exFAT mount
read-only only, so a read-write remount needs a kernel file system."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from evidock.daemon.ledger import devices as registry
from evidock.drivers.profiles import GENERIC
from tests.drivers.station import station
from tests.drivers.test_dock_usb import footage, wait_for

pytestmark = pytest.mark.dock

CLEARING = GENERIC.model_copy(update={"name": "clearing", "clear_after_handover": True})


def files_in(img, folder) -> set[str]:
    out = subprocess.run(["debugfs", "-R", f"ls -p {folder}", str(img)], capture_output=True,
                         text=True, check=True).stdout
    return {line.split("/")[5] for line in out.splitlines() if line.count("/") >= 6} - {".", ".."}


def dock_and_hand_over(dock_sim, tmp_path, profile):
    src = tmp_path / "src"
    want = footage(src, n=3, size=50_000)
    os.symlink("/etc/passwd", src / "DCIM" / "100MEDIA" / "20261122_120000.MP4")
    img = dock_sim.mkimg(src, "SN-CLR", "ext4")
    parts = station(tmp_path, profiles=[profile])
    ledger = parts[0]
    dock_sim.dock(img)
    assert wait_for(lambda: ledger.counts() == {"verified": len(want)}, 30), ledger.counts()
    return img, want, parts


def test_clearing_deletes_only_verified_identical_recordings_then_remounts_ro(dock_sim, tmp_path):
    img, _, (ledger, _, pipeline, driver) = dock_and_hand_over(dock_sim, tmp_path, CLEARING)
    keep = "DCIM/100MEDIA/20261122_103001_0001.MP4"  # the ledger "lacks" it
    wrong = "DCIM/100MEDIA/20261122_103002_0002.MP4"  # the ledger's digest differs

    def verified(item):
        if item.relpath == keep:
            return None
        if item.relpath == wrong:
            return "0" * 64
        return registry.verified_sha256(ledger, item.device.serial, item.relpath, item.size,
                                        item.mtime_ns)

    try:
        deleted = driver.clear_handed_over("SN-CLR", verified)
        want = {"DCIM/100MEDIA/20261122_103000_0000.MP4", "RECORD/20261122_110000.WAV"}
        assert want == set(deleted)
        mounts = Path("/proc/self/mounts").read_text().splitlines()
        mount = next(line for line in mounts if str(tmp_path / "data") in line)
        assert "ro" in mount.split()[3].split(",")
        assert driver.release("SN-CLR")
    finally:
        driver.stop()
        pipeline.stop(grace_seconds=2)
    dock_sim.undock(img)
    assert {"20261122_103001_0001.MP4", "20261122_103002_0002.MP4",
            "20261122_120000.MP4"} == files_in(img, "/DCIM/100MEDIA")
    assert os.path.exists("/etc/passwd")


def test_without_the_profile_option_nothing_is_deleted(dock_sim, tmp_path):
    img, _, (ledger, _, pipeline, driver) = dock_and_hand_over(dock_sim, tmp_path, GENERIC)
    try:
        assert [] == driver.clear_handed_over("SN-CLR", lambda item: registry.verified_sha256(
            ledger, item.device.serial, item.relpath, item.size, item.mtime_ns))
    finally:
        driver.stop()
        pipeline.stop(grace_seconds=2)
    dock_sim.undock(img)
    assert 4 == len(files_in(img, "/DCIM/100MEDIA"))
