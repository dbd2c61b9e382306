"""Failure paths on a real docked volume (ext4 image: it keeps symlinks, device nodes and
non-UTF-8 names as a hostile device would present them): nothing crashes, nothing outside the
volume is read, what was refused is in the ledger, the rest is handed over."""

from __future__ import annotations

import hashlib
import json
import os
from datetime import datetime, timedelta, timezone

import pytest

from evidock.drivers.profiles import load_profiles
from tests.dock_fixture import sha256_file
from tests.drivers.station import station
from tests.drivers.test_dock_usb import wait_for
from tests.drivers.test_profiles import SHIPPED

pytestmark = pytest.mark.dock


def test_hostile_volume_is_read_safely_and_what_was_refused_is_recorded(dock_sim, tmp_path):
    src = tmp_path / "src"
    (src / "DCIM").mkdir(parents=True)
    good = os.urandom(300_000)
    (src / "DCIM" / "20261122_100000.MP4").write_bytes(good)
    (src / "DCIM" / "20261122_100500.MP4").write_bytes(b"")
    gbk = os.path.join(os.fsencode(src / "DCIM"), "记录_20261122_101000.MP4".encode("gbk"))
    with open(gbk, "wb") as f:
        f.write(b"gbk-named")
    os.symlink("/etc/passwd", src / "DCIM" / "20261122_102000.MP4")
    os.symlink("../../../../../../etc", src / "DCIM" / "ETC")
    os.mknod(src / "DCIM" / "20261122_103000.MP4", 0o600 | 0o020000, os.makedev(1, 3))
    ahead = datetime.now(timezone(timedelta(hours=8))) + timedelta(hours=1)
    (src / "DEVICE.TXT").write_text(
        f"SERIAL=HX-001\nPOLICE_ID=012345\nNAME=张三\nTIME={ahead:%Y-%m-%d %H:%M:%S}\n")
    img = dock_sim.mkimg(src, "UDEV-SERIAL", "ext4")
    before = sha256_file(img)
    ledger, _, pipeline, driver = station(tmp_path, profiles=load_profiles(SHIPPED))
    try:
        dock_sim.dock(img)
        assert wait_for(lambda: any(d["safe_to_undock"] for d in pipeline.status()["devices"]),
                        30), pipeline.status()
        rows = {m.source_path: m for m in ledger.list_media()}
        assert {"DCIM/20261122_100000.MP4", "DCIM/20261122_100500.MP4",
                (b"DCIM/" + os.path.basename(gbk)).decode("utf-8", "backslashreplace")} == set(rows)
        assert {"verified"} == {m.state for m in rows.values()}
        assert {("HX-001", "012345")} == {(m.device_serial, m.officer_id) for m in rows.values()}
        assert hashlib.sha256(good).hexdigest() == rows["DCIM/20261122_100000.MP4"].sha256
        offset = rows["DCIM/20261122_100000.MP4"].clock_offset_s
        assert 3590 < offset < 3610, offset
        assert "unregistered_device" in rows["DCIM/20261122_100000.MP4"].flags
        assert "empty_file" in rows["DCIM/20261122_100500.MP4"].flags
        refused = {json.loads(e.data)["path"] for e in ledger.events(subject="device:HX-001")
                   if e.kind == "source_unreadable"}
        assert {"DCIM/20261122_102000.MP4", "DCIM/ETC", "DCIM/20261122_103000.MP4"} == refused
        assert ledger.verify().ok
    finally:
        driver.stop()
        pipeline.stop(grace_seconds=2)
    assert before == sha256_file(img)
