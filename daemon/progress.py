"""What the station display shows of one docked device: files, bytes, rate, safe to undock.

The pipeline keeps one :class:`DeviceProgress` per device it reads and one
:class:`PortProblem` per port holding a disk it does not take (not a camera, or a camera
that could not be mounted); their snapshots are the ``devices`` and ``ports`` of the
status.  A device or port that left stays in the status for ``linger`` seconds, so the
officer who just pulled it still sees how it ended, then drops out.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from evidock.daemon.rate import RecentRate, eta_seconds


@dataclass
class DeviceProgress:
    serial: str
    officer_id: str | None = None
    port: str | None = None
    docked: bool = True
    scanned: bool = False
    files: set[int] = field(default_factory=set)
    done: set[int] = field(default_factory=set)
    failed: set[int] = field(default_factory=set)  # the last attempt failed (retrying or not)
    gave_up: set[int] = field(default_factory=set)  # quarantined: not tried again this dock
    bytes_total: int = 0
    bytes_done: int = 0
    started: float = field(default_factory=time.monotonic)
    current: str | None = None
    registered: bool = True
    unreadable: int = 0  # files or folders that could not be read: recordings may be missed
    officer_name: str | None = None
    unit: str | None = None
    model: str | None = None
    failure_cause: str | None = None  # of the last failed attempt: source, store, ledger, other
    undocked_at: float | None = None  # monotonic
    rate: RecentRate = field(default_factory=RecentRate)

    def undock(self) -> None:
        self.docked = False
        self.undocked_at = time.monotonic()

    def gone_for(self, now: float) -> float | None:
        """Seconds since it was undocked (None while docked or being read)."""
        if self.docked or self.current is not None or self.undocked_at is None:
            return None
        return now - self.undocked_at

    def snapshot(self) -> dict:
        rate = self.rate.bytes_per_second()
        remaining = max(self.bytes_total - self.bytes_done, 0)
        gone = self.gone_for(time.monotonic())
        return {
            "serial": self.serial, "officer_id": self.officer_id,
            "officer_name": self.officer_name, "unit": self.unit, "model": self.model,
            "port": self.port, "docked": self.docked, "scanned": self.scanned,
            "files_total": len(self.files), "files_done": len(self.done),
            "files_failed": len(self.failed), "files_gave_up": len(self.gave_up),
            "failure_cause": self.failure_cause,
            "bytes_total": self.bytes_total, "bytes_done": self.bytes_done,
            "rate_bps": round(rate), "bytes_read": self.rate.total,
            "eta_s": eta_seconds(remaining, rate),
            "current": self.current, "registered": self.registered, "unreadable": self.unreadable,
            "undocked_s": None if gone is None else round(gone, 1),
            "safe_to_undock": (self.scanned and self.done == self.files and not self.failed
                               and not self.unreadable),
        }


@dataclass
class PortProblem:
    """A disk on a port that evidock does not read: ``unknown`` (not a camera it knows) or
    ``unreadable`` (a camera whose volume could not be mounted or read)."""

    port: str
    kind: str
    reason: str
    vendor: str | None = None
    model: str | None = None
    undocked_at: float | None = None

    def snapshot(self) -> dict:
        gone = None if self.undocked_at is None else time.monotonic() - self.undocked_at
        return {"port": self.port, "kind": self.kind, "reason": self.reason,
                "vendor": self.vendor, "model": self.model, "docked": self.undocked_at is None,
                "undocked_s": None if gone is None else round(gone, 1)}
