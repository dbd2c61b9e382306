"""Device profiles: loading, strictness, matching, globs, times from names."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from evidock.daemon.errors import ConfigError
from evidock.drivers.profiles import GENERIC, choose, glob_match, load_profiles

SHIPPED = Path(__file__).resolve().parents[2] / "config" / "profiles"
SIM = {"ID_BUS": "usb", "ID_VENDOR": "ZFYSIM", "ID_MODEL": "DSJ-SIM",
       "ID_VENDOR_ID": "1d6b", "ID_MODEL_ID": "0104"}


def test_shipped_profiles_load_and_generic_comes_last():
    profiles = load_profiles(SHIPPED)
    assert {"dock-sim", "gat947-example"} <= {p.name for p in profiles}
    assert "generic" == profiles[-1].name


def test_most_specific_profile_wins_and_generic_catches_the_rest():
    profiles = load_profiles(SHIPPED)
    assert "dock-sim" == choose(profiles, SIM, "BWC").name
    assert "gat947-example" == choose(profiles, {"ID_BUS": "usb"}, "DSJ-2").name
    assert "generic" == choose(profiles, {"ID_BUS": "usb"}, "STICK").name
    assert choose(profiles, {"ID_BUS": "usb"}, "STICK", allow_generic=False) is None
    assert choose(profiles, {"ID_BUS": "ata"}, "DSJ-2") is None


def test_unknown_keys_and_bad_values_name_the_file_and_key(tmp_path):
    (tmp_path / "bad.toml").write_text('name = "x"\n[match]\nusb_id = ["1234:5678"]\n')
    with pytest.raises(ConfigError, match=r"bad.toml.*match.usb_id"):
        load_profiles(tmp_path)
    (tmp_path / "bad.toml").write_text(
        'name = "x"\n[recordings]\nfilename_time = "(?P<Y>\\\\d+)"\n')
    with pytest.raises(ConfigError, match="named groups"):
        load_profiles(tmp_path)


@pytest.mark.parametrize("pattern,path,expected", [
    ("DCIM/**", "DCIM/100MEDIA/A.MP4", True), ("DCIM/**", "dcim/a.mp4", True),
    ("DCIM/*", "DCIM/100MEDIA/A.MP4", False), ("**", "A.MP4", True),
    ("RECORD/**", "DCIM/A.MP4", False), ("*/*.MP4", "DCIM/A.MP4", True),
])
def test_globs(pattern, path, expected):
    assert expected == glob_match(pattern, path)


def test_start_time_from_the_name_in_device_local_time():
    t = GENERIC.recordings.time_from_name("DCIM/100/20261122_103000_0001.MP4")
    assert datetime(2026, 11, 22, 2, 30, tzinfo=UTC) == t
    assert GENERIC.recordings.time_from_name("DCIM/MOV0001.MP4") is None
    assert GENERIC.recordings.time_from_name("20261399_250000.MP4") is None
