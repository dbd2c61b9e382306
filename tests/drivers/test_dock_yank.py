"""Failure path: the cable is pulled mid-copy (the FUSE driver is killed, so reads fail with
ENOTCONN) and the camera is docked again: nothing is lost, nothing is stored twice, the
daemon never crashes, and the image is unchanged.

The store is slowed down (a sleep per chunk read) only to give the test a window to pull the
cable in; the reads, the mounts and the udev events are real."""

from __future__ import annotations

import threading
import time

import pytest

from evidock.daemon.ingest import Ingestor, RetryPolicy
from evidock.daemon.ledger.sqlite import SqliteLedger
from evidock.daemon.pipeline import Pipeline
from evidock.daemon.store.local import LocalWormStore
from evidock.drivers.profiles import GENERIC
from evidock.drivers.usb import UsbDriver
from tests.dock_fixture import sha256_file
from tests.drivers.test_dock_usb import footage, wait_for

pytestmark = pytest.mark.dock


class SlowStore(LocalWormStore):
    def __init__(self, root, delay: float) -> None:
        super().__init__(root)
        self.delay = delay
        self.reading = threading.Event()

    def put(self, stream, **kw):
        read = stream.read

        def slow(n=-1):
            self.reading.set()
            time.sleep(self.delay)
            return read(n)

        stream.read = slow
        return super().put(stream, **kw)


def station(tmp_path, delay):
    ledger = SqliteLedger(tmp_path / "ledger.sqlite3", station="test")
    store = SlowStore(tmp_path / "store", delay)
    ingestor = Ingestor(ledger, store, retention_days=730, chunk_size=64 << 10,
                        retry=RetryPolicy(max_attempts=20, base_seconds=0.2, max_seconds=0.5))
    pipeline = Pipeline(ledger, ingestor, workers=2, handover_hours=24)
    driver = UsbDriver(tmp_path / "data", [GENERIC])
    pipeline.start()
    driver.start(pipeline)
    return ledger, store, pipeline, driver


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
