"""Failure path: the cable is pulled mid-copy (the FUSE driver is killed, so reads fail with
ENOTCONN) and the camera is docked again: nothing is lost, nothing is stored twice, the
daemon never crashes, and the image is unchanged.

The store is slowed down (a sleep per chunk read) only to give the test a window to pull the
cable in; the reads, the mounts and the udev events are real."""

from __future__ import annotations

import time

import pytest

from tests.dock_fixture import sha256_file
from tests.drivers.station import station
from tests.drivers.test_dock_usb import footage, wait_for

pytestmark = pytest.mark.dock


def test_cable_pulled_mid_copy_then_redocked_loses_and_duplicates_nothing(dock_sim, tmp_path):
    src = tmp_path / "src"
    want = footage(src, n=3, size=2_000_000)
    img = dock_sim.mkimg(src, "SN-YANK", "exfat")
    before = sha256_file(img)
    ledger, store, pipeline, driver = station(tmp_path, delay=0.01)
    try:
        dock_sim.dock(img)
        assert store.reading.wait(20), "no copy started"
        time.sleep(0.2)
        dock_sim.yank(img)  # mid-copy: the first file is ~20 of 31 chunks from its end
        assert wait_for(lambda: ledger.counts().get("failed", 0) >= 1, 20), ledger.counts()
        assert wait_for(pipeline.idle, 20)
        assert len(want) > ledger.counts().get("verified", 0)

        store.delay = 0
        dock_sim.dock(img)
        assert wait_for(lambda: ledger.counts() == {"verified": len(want)}, 60), ledger.counts()
        rows = ledger.list_media()
        assert want == {m.source_path: m.sha256 for m in rows}
        objects = [p for p in (tmp_path / "store" / "media").rglob("*") if p.is_file()
                   and not p.name.endswith(".json")]
        assert len(want) == len(objects)
        assert ledger.verify().ok
    finally:
        driver.stop()
        pipeline.stop(grace_seconds=2)
    assert before == sha256_file(img)
