"""What the station display shows of one docked device: files, bytes, rate, safe to undock."""

from __future__ import annotations

import time
from dataclasses import dataclass, field


@dataclass
class DeviceProgress:
    serial: str
    officer_id: str | None = None
    port: str | None = None
    docked: bool = True
    scanned: bool = False
    files: set[int] = field(default_factory=set)
    done: set[int] = field(default_factory=set)
    failed: set[int] = field(default_factory=set)
    bytes_total: int = 0
    bytes_done: int = 0
    started: float = field(default_factory=time.monotonic)
    current: str | None = None
    registered: bool = True
    unreadable: int = 0  # files or folders that could not be read: recordings may be missed

    def snapshot(self) -> dict:
        elapsed = max(time.monotonic() - self.started, 1e-6)
        rate = self.bytes_done / elapsed
        remaining = max(self.bytes_total - self.bytes_done, 0)
        return {
            "serial": self.serial, "officer_id": self.officer_id, "port": self.port,
            "docked": self.docked, "scanned": self.scanned, "files_total": len(self.files),
            "files_done": len(self.done), "files_failed": len(self.failed),
            "bytes_total": self.bytes_total, "bytes_done": self.bytes_done,
            "rate_bps": round(rate), "eta_s": round(remaining / rate) if rate > 0 else None,
            "current": self.current, "registered": self.registered, "unreadable": self.unreadable,
            "safe_to_undock": (self.scanned and self.done == self.files and not self.failed
                               and not self.unreadable),
        }
