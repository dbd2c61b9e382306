"""What people read: times in the station's zone with their offset, ``ledger show`` without
Python values, and follow-up commands that carry the --data-dir (and --config) in use."""

from __future__ import annotations

import json
import re

import pytest

from ...daemon_proc import evidock
from ..test_service import make_footage


@pytest.fixture(scope="module")
def station(tmp_path_factory):
    root = tmp_path_factory.mktemp("people")
    make_footage(root / "in", "CAM-CN", {"DCIM/a.mp4": 1000})
    config = root / "evidock.toml"
    config.write_text(f'[station]\ndata_dir = "{root / "d"}"\ntime_zone = "Asia/Shanghai"\n'
                      "[usb]\nenabled = false\n")
    evidock("run", "--config", str(config), "--watch", str(root / "in"), "--settle", "0",
            "--until-idle", "--no-derivatives")
    return config


def test_tables_show_the_station_zone_with_its_offset(station):
    row = json.loads(evidock("ledger", "list", "--json", "--config", str(station)).stdout)
    assert row["recorded_at"].endswith("Z")  # the ledger and --json stay UTC
    table = evidock("ledger", "list", "--config", str(station)).stdout
    from datetime import datetime
    from zoneinfo import ZoneInfo

    utc = datetime.fromisoformat(row["recorded_at"].replace("Z", "+00:00"))
    local = utc.astimezone(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m-%d %H:%M:%S +08:00")
    assert local in table


def test_ledger_show_prints_words_not_python_values(station):
    out = evidock("ledger", "show", "1", "--config", str(station)).stdout
    fields = dict(re.findall(r"^\s*(\w+)  (.*)$", out.split("┏")[0], re.M))
    # no time in the file name: the mtime is the recording time, and says so (issue 11)
    assert "time_from_mtime, unregistered_device" == fields["flags"].strip()
    assert "+08:00" in fields["recorded_at"]
    for value in fields.values():
        assert not re.search(r"^\[|^\{|\bNone\b|'\w+'", value.strip()), value


def test_follow_up_commands_carry_the_options_in_use(tmp_path):
    typo = tmp_path / "typo"
    proc = evidock("check", "retention", "--data-dir", str(typo), check=False,
                   env={"EVIDOCK_CONFIG": ""})
    assert f"`evidock run --data-dir {typo}`" in proc.stderr
