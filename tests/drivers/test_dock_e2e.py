"""The issue's 'done when', end to end: ``evidock run`` as a process, a camera docked with
tools/dock-sim, every recording handed over bit-exact with serial and officer, the device
released ('safe to undock'), dock and undock in the ledger, the image unchanged."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import pytest

from tests.daemon_proc import evidock as run_evidock
from tests.daemon_proc import start_daemon
from tests.dock_fixture import sha256_file
from tests.drivers.test_dock_usb import footage, wait_for

pytestmark = pytest.mark.dock


def evidock(*args: str) -> str:
    return run_evidock(*args).stdout


def json_rows(*args: str) -> list[dict]:
    return [json.loads(line) for line in evidock(*args, "--json").splitlines() if line]


def test_docked_camera_is_handed_over_with_serial_and_officer(dock_sim, tmp_path):
    data = str(tmp_path / "data")
    src = tmp_path / "src"
    want = footage(src, n=4)
    img = dock_sim.mkimg(src, "SN-E2E", "exfat", None, "--port", "usb-dock-3")
    before = sha256_file(img)
    evidock("devices", "assign", "SN-E2E", "--officer", "012345", "--name", "张三",
            "--data-dir", data)
    daemon = start_daemon(Path(data), log=tmp_path / "daemon.log")
    try:
        time.sleep(1.0)
        dock_sim.dock(img)

        def safe():
            status = json_rows("status", "--data-dir", data)[0]
            devs = [d for d in status.get("devices", []) if d["serial"] == "SN-E2E"]
            return devs and devs[0]["safe_to_undock"] and devs[0]

        assert wait_for(safe, 60), (tmp_path / "daemon.log").read_text()[-3000:]
        dev = safe()
        assert (len(want), len(want), "012345") == (dev["files_done"], dev["files_total"],
                                                    dev["officer_id"])
        assert data not in Path("/proc/self/mounts").read_text(), "'safe' but still mounted"
        shown = evidock("status", "--data-dir", data)
        assert "SN-E2E" in shown and "safe to undock" in shown
        rows = json_rows("ledger", "list", "--data-dir", data)
        assert want == {r["source_path"]: r["sha256"] for r in rows}
        assert {("verified", "SN-E2E", "012345")} == {
            (r["state"], r["device_serial"], r["officer_id"]) for r in rows}
        dock_sim.undock(img)
        assert wait_for(lambda: json_rows("devices", "list", "--data-dir", data)[0]
                        ["last_undock_at"], 10)
        device = json_rows("devices", "list", "--data-dir", data)[0]
        assert ("usb-dock-3", True) == (device["last_port"], device["registered"])
    finally:
        daemon.send_signal(signal.SIGTERM)
        daemon.wait(30)
    assert before == sha256_file(img)
    assert "OK" in evidock("ledger", "verify", "--data-dir", data)
