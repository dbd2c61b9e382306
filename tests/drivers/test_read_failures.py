"""Failure paths around reading a device: a file changing while it is read, an unreadable
folder keeping a device from 'safe to undock', ID files in other encodings, a device clock
known only from its newest recording."""

from __future__ import annotations

import os
from datetime import UTC, datetime

from evidock.daemon.ledger.sqlite import SqliteLedger
from evidock.daemon.pipeline import Pipeline
from evidock.drivers.base import DeviceIdentity
from evidock.drivers.profiles import GENERIC, IdentityFile, Profile
from evidock.drivers.volume import identify
from tests.daemon.test_ingest import found, parts  # noqa: F401 - fixture

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


def test_a_file_changed_while_it_is_read_is_retried_not_stored(parts):  # noqa: F811
    ledger, store, ingestor, device = parts
    media, item = found(ledger, device, "20261122_100000.MP4", os.urandom(64 * 4096))
    put = store.put

    def put_while_changing(stream, **kw):
        first = stream.read(4096)
        with open(device / "20261122_100000.MP4", "r+b") as f:  # the camera writes meanwhile
            f.seek(8 * 4096)
            f.write(b"x" * 100)
        os.utime(device / "20261122_100000.MP4", ns=(1, item.mtime_ns + 10**9))
        rest = stream.read
        chunks = iter([first])
        stream.read = lambda n=-1: next(chunks, None) or rest(n)
        return put(stream, **kw)

    store.put = put_while_changing
    outcome = ingestor.ingest(media, item)
    assert "failed" == outcome.state and "changed while it was read" in outcome.error
    assert outcome.retry_at is not None
    assert "failed" == ledger.media(media.id).state


def test_an_unreadable_folder_keeps_the_device_from_safe_to_undock(tmp_path):
    ledger = SqliteLedger(tmp_path / "l.sqlite3", station="st")
    pipeline = Pipeline(ledger, ingestor=None, workers=1, handover_hours=24)
    dev = DeviceIdentity("SN1", source="usb")
    pipeline.device_docked(dev, "port1")
    pipeline.source_problem(dev, "port1", "DCIM/LINK.MP4", "not a regular file (l); skipped",
                            lost=False)
    pipeline.scan_finished(dev, "port1", 0)
    assert pipeline.status()["devices"][0]["safe_to_undock"]
    pipeline.source_problem(dev, "port1", "DCIM/100MEDIA", "Input/output error", lost=True)
    snap = pipeline.status()["devices"][0]
    assert (False, 1) == (snap["safe_to_undock"], snap["unreadable"])
    kinds = [e.kind for e in ledger.events(subject="device:SN1")]
    assert 2 == kinds.count("source_unreadable")


def test_id_file_in_gb18030_gives_officer_name_and_clock(tmp_path):
    profile = Profile(name="p", identity=IdentityFile(path="ID.TXT"))
    (tmp_path / "ID.TXT").write_bytes(
        "SERIAL = DSJ-1\nPOLICE_ID: 012345\nNAME=张三\nUNIT=交警一大队\nTIME=2026-11-22 20:30:00\n"
        .encode("gb18030"))
    ident, facts = identify(str(tmp_path), profile, {"ID_SERIAL_SHORT": "USB1"}, NOW)
    assert ("DSJ-1", "012345", "张三", "交警一大队") == (
        ident.serial, ident.officer_id, ident.officer_name, ident.unit)
    assert (1800.0, "id_file") == (facts.clock_offset_s, facts.clock_source)  # 20:30+08 = 12:30Z


def test_without_id_file_udev_serial_then_file_system_uuid(tmp_path):
    ident, facts = identify(str(tmp_path), GENERIC, {"ID_SERIAL_SHORT": "USB1"}, NOW)
    assert ("USB1", None) == (ident.serial, facts.clock_offset_s)
    ident, _ = identify(str(tmp_path), GENERIC, {"ID_FS_UUID": "EF63-7D23"}, NOW)
    assert "fs-EF63-7D23" == ident.serial


def test_a_volume_that_cannot_be_mounted_is_reported_not_crashed(tmp_path):
    import threading

    from evidock.drivers.usb import UsbDriver
    from tests.drivers.fake_udev import FakeSource, usb_disk
    from tests.drivers.sinks import RecordingSink

    reported = threading.Event()
    seen = []

    def on_problem(event):
        seen.append((event.kind, event.reason))
        reported.set()

    src = FakeSource()
    driver = UsbDriver(tmp_path / "data", [GENERIC], source_factory=lambda: src,
                       on_unknown=on_problem)
    sink = RecordingSink()
    driver.start(sink)
    try:
        src.send("add", **usb_disk(DEVNAME=str(tmp_path / "no-such-device")))
        assert reported.wait(30)
    finally:
        driver.stop()
    assert "unreadable_device" == seen[0][0] and "cannot mount" in seen[0][1]
    assert [] == sink.calls and not list((tmp_path / "data" / "mounts").iterdir())
