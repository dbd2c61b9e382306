"""Device folders and file names that are not UTF-8: GB18030 names from a Windows share (normal
at Chinese stations) and stray Latin-1 bytes.  Every file is handed over, from every device,
and the ledger keeps each name as the exact bytes the file system gave."""

from __future__ import annotations

import pytest

from .invariants import assert_nothing_lost
from .station import MiB, footage
from .test_disk_full import started

pytestmark = pytest.mark.slow

GB = "gb18030"
FILES = {"录像/二〇二六年一月.mp4".encode(GB): 1 * MiB, "音频/询问笔录.wav".encode(GB): 100_000,
         b"clip-\xe9t\xe9.mp4": 200_000, "DCIM/正常的名字.mp4".encode(): 300_000,
         b"DCIM/bad-\xff\xfe.mp4": 10_000}


def hand_over(station, devices: dict[bytes, dict[bytes, int]], timeout: float) -> list[dict]:
    for serial, files in devices.items():
        footage(station.watch, serial, files)
    daemon = started(station)
    station.wait_verified(sum(len(files) for files in devices.values()), timeout)
    assert 0 == station.stop(daemon)
    rows = assert_nothing_lost(station)
    names = set()
    for row in rows:
        seen = next(e for e in station.show(row["id"])["events"] if e["kind"] == "media_seen")
        names.add(bytes.fromhex(seen["data"]["source_path_raw"]))
    assert {rel for files in devices.values() for rel in files} == names
    assert len(devices) == len({r["device_serial"] for r in rows})  # devices kept apart
    return rows


def test_non_utf8_file_names_are_handed_over_and_kept_as_bytes(stations):
    hand_over(stations(), {b"CAM-1": FILES}, 30)


def test_non_utf8_device_folders_do_not_stop_the_other_devices(stations):
    hand_over(stations(), {"执法仪-0042".encode(GB): FILES, b"CAM-latin1-\xe9": {
        b"a.mp4": 10_000}, b"CAM-utf8": {b"b.mp4": 20_000}}, 10)
