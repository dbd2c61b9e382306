"""The state the station shows for a device whose recording was given up on: "failed: dock
it again" while it is docked, and docking it again really tries again."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime

from evidock.daemon.ingest import Ingestor
from evidock.daemon.ledger.sqlite import SqliteLedger
from evidock.daemon.pipeline import Pipeline
from evidock.daemon.retry import RetryPolicy
from evidock.daemon.store.local import LocalWormStore
from evidock.daemon.tiles import tiles
from evidock.drivers.base import DeviceIdentity, MediaItem
from tests.daemon_proc import wait_for

DEV = DeviceIdentity("DSJ-Q1", source="usb", officer_id="012345", officer_name="张伟")
PORT = "pci-0000:00:14.0-usb-0:2:1.0-scsi-0:0:0:0"


def tile(pipeline) -> dict:
    return tiles({"running": True, **pipeline.status()})[0]


def dock(pipeline, root, size, mtime_ns) -> None:
    pipeline.device_docked(DEV, PORT)
    pipeline.media_found(MediaItem(DEV, str(root), "DCIM/A0001.MP4", size, mtime_ns,
                                   datetime(2026, 11, 22, tzinfo=UTC), "video"))
    pipeline.scan_finished(DEV, PORT, 1)


def test_a_recording_given_up_on_says_dock_it_again_and_a_new_dock_reads_it(tmp_path):
    ledger = SqliteLedger(tmp_path / "ledger.sqlite3", station="st")
    store = LocalWormStore(tmp_path / "store")
    ingestor = Ingestor(ledger, store, retention_days=730, retry=RetryPolicy(1, 0.1, 0.2),
                        chunk_size=4096)
    pipeline = Pipeline(ledger, ingestor, workers=1, handover_hours=24)
    root = tmp_path / "cam"
    (root / "DCIM").mkdir(parents=True)
    data = os.urandom(50_000)
    (tmp_path / "elsewhere.bin").write_bytes(data)
    mtime_ns = 1_764_000_000 * 10**9
    os.utime(tmp_path / "elsewhere.bin", ns=(mtime_ns, mtime_ns))
    (root / "DCIM" / "A0001.MP4").symlink_to(tmp_path / "elsewhere.bin")  # never followed
    pipeline.start()
    try:
        dock(pipeline, root, len(data), mtime_ns)
        failed = wait_for(lambda: (t := tile(pipeline))["state"] == "failed" and t, 20)
        assert ("read_failed", "USB 2", "张伟") == (
            failed["reason"], failed["slot"], failed["officer_name"])

        pipeline.device_undocked(DEV, PORT)
        (root / "DCIM" / "A0001.MP4").unlink()
        os.link(tmp_path / "elsewhere.bin", root / "DCIM" / "A0001.MP4")
        time.sleep(0.1)
        dock(pipeline, root, len(data), mtime_ns)
        assert "safe" == wait_for(lambda: (t := tile(pipeline))["state"] == "safe" and t,
                                  20)["state"]
        assert {"verified": 1} == ledger.counts()
    finally:
        pipeline.stop(grace_seconds=2)
