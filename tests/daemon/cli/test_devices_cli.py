"""``evidock devices``, and the registry shared with the watch-folder driver (its subfolder
name is the serial)."""

from __future__ import annotations

import json

from ...daemon_proc import evidock, ledger_rows
from ..test_service import make_footage


def devices(data) -> dict[str, dict]:
    out = evidock("devices", "list", "--json", "--data-dir", data).stdout
    return {row["serial"]: row for row in map(json.loads, out.splitlines())}


def test_assign_then_list_shows_officer_and_registration(tmp_path):
    data = str(tmp_path / "d")
    out = evidock("devices", "assign", "CAM1", "--officer", "012345", "--name", "张三",
                  "--unit", "一所", "--data-dir", data).stdout
    assert "CAM1 is assigned to 012345 (张三), 一所" in out
    row = devices(data)["CAM1"]
    assert ("012345", "张三", "一所", True) == (row["officer_id"], row["officer_name"],
                                             row["unit"], row["registered"])
    assert "CAM1" in evidock("devices", "list", "--data-dir", data).stdout


def test_watch_folder_devices_use_the_same_registry(tmp_path):
    data = str(tmp_path / "d")
    evidock("devices", "assign", "CAM1", "--officer", "012345", "--data-dir", data)
    make_footage(tmp_path / "in", "CAM1", {"a.mp4": 1000})
    make_footage(tmp_path / "in", "CAM9", {"b.mp4": 1000})
    evidock("run", "--data-dir", data, "--watch", str(tmp_path / "in"), "--settle", "0.1",
            "--until-idle")
    rows = {r["device_serial"]: r for r in ledger_rows(tmp_path / "d")}
    # no time in the names: watch folders flag it, as a dock does
    assert ("012345", ["time_from_mtime"]) == (rows["CAM1"]["officer_id"], rows["CAM1"]["flags"])
    assert (None, ["time_from_mtime", "unregistered_device"]) == (rows["CAM9"]["officer_id"],
                                                                  rows["CAM9"]["flags"])
    listed = devices(data)
    assert listed["CAM1"]["last_dock_at"] and not listed["CAM9"]["registered"]


def test_bad_registry_file_says_what_is_wrong(tmp_path):
    (tmp_path / "r.csv").write_text("serial,colour\nA,red\n")
    proc = evidock("devices", "import", str(tmp_path / "r.csv"), "--data-dir",
                   str(tmp_path / "d"), check=False)
    assert 2 == proc.returncode and "unknown column" in proc.stderr
