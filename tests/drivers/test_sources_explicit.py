"""A one-shot run over a named watch folder reads that folder only: a camera (or any USB
disk) docked at the same time is left alone unless ``--usb`` asks for it."""

from __future__ import annotations

import json
import time

import pytest

from tests.daemon.test_service import make_footage
from tests.daemon_proc import evidock
from tests.drivers.test_dock_usb import footage

pytestmark = pytest.mark.dock


def serials(data) -> set[str]:
    out = evidock("ledger", "list", "--json", "--data-dir", str(data)).stdout
    return {json.loads(line)["device_serial"] for line in out.splitlines() if line}


def test_watch_run_leaves_a_docked_camera_alone(dock_sim, tmp_path):
    footage(tmp_path / "card", n=2)
    img = dock_sim.mkimg(tmp_path / "card", "SN-NOT-MINE")
    dock_sim.dock(img)
    time.sleep(1.0)  # the udev add event is out before the run starts
    make_footage(tmp_path / "in", "CAMW", {"a.mp4": 1000})
    evidock("run", "--data-dir", str(tmp_path / "d"), "--watch", str(tmp_path / "in"),
            "--settle", "0.1", "--until-idle", timeout=120)
    assert {"CAMW"} == serials(tmp_path / "d")
    devices = evidock("devices", "list", "--json", "--data-dir", str(tmp_path / "d")).stdout
    assert "SN-NOT-MINE" not in devices


def test_one_shot_run_ignores_usb_enabled_in_the_config_without_usb_flag(dock_sim, tmp_path):
    """A config that leaves USB docking on (the default) still gives a one-shot run only its
    watch folders: a script meant for a folder never reads a camera that happens to be in."""
    footage(tmp_path / "card", n=1)
    dock_sim.dock(dock_sim.mkimg(tmp_path / "card", "SN-ONESHOT"))
    time.sleep(1.0)
    make_footage(tmp_path / "in", "CAMC", {"a.mp4": 1000})
    config = tmp_path / "evidock.toml"
    config.write_text(f'[station]\ndata_dir = "{tmp_path / "d"}"\n'
                      f'[watch]\nfolders = ["{tmp_path / "in"}"]\nsettle_seconds = 0.1\n')
    evidock("run", "--config", str(config), "--until-idle", timeout=120)
    assert {"CAMC"} == serials(tmp_path / "d")
