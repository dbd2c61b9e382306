"""A station in one process for dock tests: SQLite ledger, local store, pipeline, USB driver.

``SlowStore`` sleeps per chunk read only to give a test time to pull the cable mid-copy."""

from __future__ import annotations

import threading
import time

from evidock.daemon.ingest import Ingestor, RetryPolicy
from evidock.daemon.ledger.sqlite import SqliteLedger
from evidock.daemon.pipeline import Pipeline
from evidock.daemon.store.local import LocalWormStore
from evidock.drivers.profiles import GENERIC
from evidock.drivers.usb import UsbDriver


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


def station(tmp_path, delay: float = 0.0, profiles=(GENERIC,)):
    ledger = SqliteLedger(tmp_path / "ledger.sqlite3", station="test")
    store = SlowStore(tmp_path / "store", delay)
    ingestor = Ingestor(ledger, store, retention_days=730, chunk_size=64 << 10,
                        retry=RetryPolicy(max_attempts=20, base_seconds=0.2, max_seconds=0.5))
    pipeline = Pipeline(ledger, ingestor, workers=2, handover_hours=24)
    driver = UsbDriver(tmp_path / "data", list(profiles))
    pipeline.start()
    driver.start(pipeline)
    return ledger, store, pipeline, driver
