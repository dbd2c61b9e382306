"""A small real station for compliance tests: real SQLite ledger, real LocalWormStore, real
files handed over through the real Ingestor, and a clock the test moves by hand."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

from evidock.daemon.config import Config
from evidock.daemon.ingest import Ingestor, RetryPolicy
from evidock.daemon.ledger.sqlite import SqliteLedger
from evidock.daemon.store.local import LocalWormStore
from evidock.daemon.wiring import build_compliance
from evidock.drivers.base import DeviceIdentity, MediaItem

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


class Clock:
    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta) -> datetime:
        self.now += timedelta(**delta)
        return self.now

    def set(self, when: datetime) -> datetime:
        self.now = when
        return when


class World:
    def __init__(self, root: Path, config: dict | None = None, sinks=None) -> None:
        self.root = root
        self.clock = Clock()
        self.config = Config.model_validate({"station": {"id": "st-test",
                                                          "data_dir": str(root / "data")},
                                             **(config or {})})
        self.ledger = SqliteLedger(root / "ledger.sqlite3", station="st-test", clock=self.clock)
        self.store = LocalWormStore(root / "store")
        self.c = build_compliance(self.config, self.ledger, self.store,
                                  sinks=[] if sinks is None else sinks)
        self.ingestor = Ingestor(self.ledger, self.store,
                                 retention_days=self.config.policy.retention_days,
                                 retry=RetryPolicy(), clock=self.clock)
        self._n = 0

    def device(self, serial: str = "DSJ-001", officer: str | None = "110001") -> DeviceIdentity:
        self.ledger.ensure_device(serial, source="watch", officer_id=officer)
        return DeviceIdentity(serial, officer_id=officer, source="watch")

    def found(self, *, serial: str = "DSJ-001", officer: str | None = "110001",
              recorded_at: datetime | None = None, data: bytes | None = None):
        """A recording found on a docked device (registered, not yet handed over)."""
        device = self.device(serial, officer)
        self._n += 1
        folder = self.root / "dev" / serial
        folder.mkdir(parents=True, exist_ok=True)
        name = f"REC{self._n:04d}.MP4"
        payload = data if data is not None else f"recording {self._n} ".encode() * 100
        (folder / name).write_bytes(payload)
        st = os.stat(folder / name)
        recorded = recorded_at or self.clock() - timedelta(hours=1)
        item = MediaItem(device, str(folder), name, st.st_size, st.st_mtime_ns, recorded, "video")
        media, _ = self.ledger.register_media(
            device_serial=serial, source_path=name, size=st.st_size, mtime_ns=st.st_mtime_ns,
            kind="video", recorded_at=recorded,
            handover_hours=self.config.policy.handover_hours, officer_id=officer)
        return media, item

    def handed_over(self, **kw):
        """A recording found and handed over now (stored and verified)."""
        media, item = self.found(**kw)
        outcome = self.ingestor.ingest(self.ledger.media(media.id), item)
        assert "verified" == outcome.state, outcome
        return self.ledger.media(media.id)

    def hand_over(self, media, item):
        outcome = self.ingestor.ingest(self.ledger.media(media.id), item)
        assert "verified" == outcome.state, outcome
        return self.ledger.media(media.id)

    def open_alerts(self, check: str | None = None) -> list:
        return self.c.alerts.list(open_only=True, check=check)
