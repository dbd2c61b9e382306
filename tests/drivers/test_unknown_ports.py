"""A disk that is not a camera: the station shows it as an unknown device while it is on its
port, and not once it left (the udev events are fed through the fake monitor)."""

from __future__ import annotations

import threading

from evidock.daemon import config as config_mod
from evidock.daemon.service import Station
from evidock.daemon.tiles import tiles
from evidock.drivers.usb import UsbDriver
from tests.drivers.fake_udev import FakeSource, usb_disk
from tests.drivers.sinks import RecordingSink
from tests.drivers.test_dock_usb import wait_for

PORT = "pci-0000:00:14.0-usb-0:6:1.0-scsi-0:0:0:0"


def test_an_unknown_disk_is_reported_when_it_comes_and_when_it_leaves(tmp_path):
    seen, got = [], threading.Event()

    def on_unknown(event):
        seen.append((event.kind, event.port))
        got.set()

    src = FakeSource()
    driver = UsbDriver(tmp_path / "data", [], allow_generic=False, source_factory=lambda: src,
                       on_unknown=on_unknown)
    driver.start(RecordingSink())
    try:
        disk = usb_disk(ID_VENDOR="SANDISK", ID_PATH=PORT)
        src.send("add", **disk)
        assert wait_for(lambda: len(seen) == 1, 10)
        src.send("remove", **disk)
        assert wait_for(lambda: len(seen) == 2, 10)
    finally:
        driver.stop()
    assert [("unknown_device", PORT), ("undocked", PORT)] == seen


def test_the_station_shows_an_unknown_disk_until_it_leaves(tmp_path):
    config = config_mod.load(overrides={"station.data_dir": str(tmp_path / "data"),
                                        "usb.enabled": False, "metrics.enabled": False,
                                        "web.enabled": False})
    from evidock.drivers.udev import DockEvent

    station = Station(config)
    try:
        props = {"ID_VENDOR": "SANDISK", "ID_MODEL": "Cruzer"}
        station._unknown(DockEvent("unknown_device", "/devices/x", PORT, "/dev/sdz",
                                   props=props, reason="no device profile matches it"))
        shown = tiles({"running": True, **station.pipeline.status()})
        assert [("unknown", "not_a_camera", "SANDISK Cruzer", "USB 6")] == [
            (t["state"], t["reason"], t["model"], t["slot"]) for t in shown]
        assert ["unknown_device_docked"] == [
            e.kind for e in station.ledger.events(subject=f"port:{PORT}")]
        station._unknown(DockEvent("undocked", "/devices/x", PORT, "/dev/sdz", props=props))
        assert [] == tiles({"running": True, **station.pipeline.status()})
    finally:
        station.ledger.close()
