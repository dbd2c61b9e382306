"""Failure paths of reading a volume: hostile names and files, checked on a plain folder
standing in for a mounted volume (the same code runs on the mount; test_dock_hostile.py
repeats the worst of it on a real docked ext4 image)."""

from __future__ import annotations

import os
from datetime import UTC, datetime

import pytest

from evidock.daemon.errors import UnsafeSource
from evidock.drivers.base import DeviceIdentity, MediaItem
from evidock.drivers.profiles import GENERIC
from evidock.drivers.volume import DeviceFacts, scan

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
DEV = DeviceIdentity("SN1", source="usb")


def run_scan(root, problems=None):
    problems = [] if problems is None else problems
    return {i.relpath: i for i in scan(str(root), DEV, GENERIC, DeviceFacts(), NOW, problems)}


@pytest.fixture
def vol(tmp_path):
    root = tmp_path / "vol"
    (root / "DCIM").mkdir(parents=True)
    (root / "DCIM" / "20261122_100000.MP4").write_bytes(b"x" * 100)
    (tmp_path / "secret.mp4").write_bytes(b"outside the device")
    return root


def test_symlinks_to_files_and_folders_outside_are_refused_and_recorded(vol, tmp_path):
    os.symlink(tmp_path / "secret.mp4", vol / "DCIM" / "LINK.MP4")
    os.symlink(tmp_path, vol / "DCIM" / "UP")
    problems = []
    found = run_scan(vol, problems)
    assert ["DCIM/20261122_100000.MP4"] == list(found)
    assert {"DCIM/LINK.MP4", "DCIM/UP"} == {p for p, _ in problems}


def test_fifos_and_device_nodes_are_skipped_not_opened(vol):
    os.mkfifo(vol / "DCIM" / "PIPE.MP4")
    os.mknod(vol / "DCIM" / "NULL.MP4", 0o600 | 0o020000, os.makedev(1, 3))
    problems = []
    assert ["DCIM/20261122_100000.MP4"] == list(run_scan(vol, problems))
    assert {"DCIM/PIPE.MP4", "DCIM/NULL.MP4"} == {p for p, _ in problems}


def test_a_crafted_path_cannot_leave_the_volume(vol):
    for rel in ("../secret.mp4", "/etc/passwd", "DCIM/../../secret.mp4"):
        item = MediaItem(DEV, str(vol), rel, 18, 0, NOW, "video")
        with pytest.raises(UnsafeSource):
            item.open()


def test_names_in_any_encoding_are_found_flagged_and_openable(vol):
    gbk = "执法记录_20261122_101500.MP4".encode("gbk")
    with open(os.path.join(os.fsencode(vol / "DCIM"), gbk), "wb") as f:
        f.write(b"gbk")
    (vol / "DCIM" / "执法_20261122_101600.MP4").write_bytes(b"utf8")
    found = run_scan(vol)
    odd = next(i for r, i in found.items() if "undecodable_name" in i.flags)
    assert gbk == os.fsencode(odd.relpath).rsplit(b"/", 1)[1]
    with odd.open() as f:
        assert b"gbk" == f.read()
    assert "undecodable_name" not in found["DCIM/执法_20261122_101600.MP4"].flags


def test_empty_files_are_taken_and_flagged(vol):
    (vol / "DCIM" / "20261122_110000.MP4").write_bytes(b"")
    item = run_scan(vol)["DCIM/20261122_110000.MP4"]
    assert (0, ("empty_file",)) == (item.size, item.flags)


def test_times_in_the_future_or_implausibly_old_are_flagged(vol):
    (vol / "DCIM" / "20271122_100000.MP4").write_bytes(b"f")
    (vol / "DCIM" / "20000101_000000.MP4").write_bytes(b"o")
    found = run_scan(vol)
    assert "time_in_future" in found["DCIM/20271122_100000.MP4"].flags
    assert "time_implausibly_old" in found["DCIM/20000101_000000.MP4"].flags
    assert () == found["DCIM/20261122_100000.MP4"].flags


def test_files_outside_the_profile_globs_or_extensions_are_left_alone(vol):
    (vol / "DCIM" / "readme.txt").write_text("x")
    (vol / "SYSTEM").mkdir()
    (vol / "SYSTEM" / "20261122_100000.MP4").write_bytes(b"x")
    from evidock.drivers.profiles import Profile, Recordings

    p = Profile(name="p", recordings=Recordings(globs=("DCIM/**",)))
    items = list(scan(str(vol), DEV, p, DeviceFacts(), NOW, []))
    assert ["DCIM/20261122_100000.MP4"] == [i.relpath for i in items]


def test_100000_small_files_are_listed_quickly(tmp_path):
    import time

    root = tmp_path / "many"
    for d in range(100):
        folder = root / "DCIM" / f"{d:03d}"
        folder.mkdir(parents=True)
        for n in range(1000):
            (folder / f"20261122_{d % 24:02d}{n % 60:02d}{n // 60:02d}_{n}.JPG").touch()
    t0 = time.monotonic()
    count = sum(1 for _ in scan(str(root), DEV, GENERIC, DeviceFacts(), NOW, []))
    elapsed = time.monotonic() - t0
    assert 100_000 == count
    assert elapsed < 30, f"listing 100,000 files took {elapsed:.1f} s"
