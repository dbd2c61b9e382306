"""The device registry and dock history in the ledger."""

from __future__ import annotations

import json

import pytest

from evidock.daemon.errors import ConfigError
from evidock.daemon.ledger import devices as registry
from evidock.daemon.ledger.sqlite import SqliteLedger


@pytest.fixture
def ledger(tmp_path):
    return SqliteLedger(tmp_path / "l.sqlite3", station="st1")


def test_assign_registers_a_never_seen_device_and_is_a_chained_event(ledger):
    d = registry.assign(ledger, registry.Assignment("SN1", officer_id="012345",
                                                    officer_name="张三"))
    assert (True, "012345", "张三", None) == (d.registered, d.officer_id, d.officer_name, d.unit)
    d = registry.assign(ledger, registry.Assignment("SN1", unit="一所"))
    assert ("012345", "一所") == (d.officer_id, d.unit)  # fields not given keep their value
    kinds = [e.kind for e in ledger.events(subject="device:SN1")]
    assert ["device_assigned", "device_assigned"] == kinds
    assert ledger.verify().ok


def test_a_device_first_seen_docked_is_unregistered_until_assigned(ledger):
    ledger.ensure_device("SN2", source="usb")
    assert not ledger.device("SN2").registered
    assert registry.assign(ledger, registry.Assignment("SN2", officer_id="7")).registered


def test_dock_and_undock_record_time_and_port(ledger):
    ledger.ensure_device("SN3", source="usb")
    registry.record_dock(ledger, "SN3", "pci-0000:00:14.0-usb-0:2:1.0")
    registry.record_undock(ledger, "SN3", "pci-0000:00:14.0-usb-0:2:1.0")
    d = ledger.device("SN3")
    assert d.last_dock_at and d.last_undock_at >= d.last_dock_at
    assert "pci-0000:00:14.0-usb-0:2:1.0" == d.last_port
    events = [(e.kind, json.loads(e.data)["port"]) for e in ledger.events(subject="device:SN3")
              if e.kind in ("device_docked", "device_undocked")]
    assert [("device_docked", d.last_port), ("device_undocked", d.last_port)] == events


def test_unreadable_paths_keep_their_raw_bytes(ledger):
    registry.record_unreadable(ledger, "SN4", "p", "DCIM/\udcbc\udcc7.MP4", "symlink")
    data = json.loads(next(ledger.events(subject="device:SN4")).data)
    assert ("DCIM/\\xbc\\xc7.MP4", b"DCIM/\xbc\xc7.MP4".hex()) == (data["path"], data["path_raw"])


def test_import_csv_with_chinese_headers_and_toml(ledger, tmp_path):
    (tmp_path / "r.csv").write_text("序列号,警号,姓名,单位\nA1,001,张三,一所\nA2,002,李四,\n",
                                    encoding="utf-8-sig")
    (tmp_path / "r.toml").write_text('[[device]]\nserial = "B1"\nofficer_id = "003"\n'
                                     'model = "DSJ-V9"\n')
    registry.import_registry(ledger, tmp_path / "r.csv")
    registry.import_registry(ledger, tmp_path / "r.toml")
    got = {d.serial: (d.officer_id, d.officer_name, d.unit, d.model) for d in ledger.devices()}
    assert {"A1": ("001", "张三", "一所", None), "A2": ("002", "李四", None, None),
            "B1": ("003", None, None, "DSJ-V9")} == got


def test_import_errors_name_the_file_and_entry(ledger, tmp_path):
    (tmp_path / "bad.csv").write_text("serial,badge,colour\nA1,001,red\n")
    with pytest.raises(ConfigError, match=r"bad.csv, entry 1: unknown column.*colour"):
        registry.import_registry(ledger, tmp_path / "bad.csv")
    (tmp_path / "noserial.csv").write_text("serial,badge\n,001\n")
    with pytest.raises(ConfigError, match="entry 1: no serial"):
        registry.import_registry(ledger, tmp_path / "noserial.csv")
