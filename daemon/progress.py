"""What the station display shows of one docked device: files, bytes, rate, safe to undock."""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass, field


class RateMeter:
    """Bytes per second over the last ``window`` seconds: what the device does *now*, not an
    average since it was docked (which hides a stall and lags a speed-up).  Thread-safe: the
    reader adds from its thread, the status call reads from another."""

    def __init__(self, window: float = 5.0, clock=time.monotonic) -> None:
        self.window, self.clock = window, clock
        self.total = 0
        self._samples: deque[tuple[float, int]] = deque()  # (time, total at that time)
        self._lock = threading.Lock()

    def add(self, n: int) -> None:
        with self._lock:
            now = self.clock()
            if not self._samples or now - self._samples[-1][0] >= self.window:
                self._samples = deque([(now, self.total)])  # idle meanwhile: start afresh
            self.total += n
            if len(self._samples) > 1 and now - self._samples[-1][0] < 0.1:
                self._samples[-1] = (self._samples[-1][0], self.total)  # 10 samples a second
            else:
                self._samples.append((now, self.total))
            self._prune(now)

    def _prune(self, now: float) -> None:
        while len(self._samples) > 2 and self._samples[1][0] <= now - self.window:
            self._samples.popleft()

    def rate(self) -> float:
        """Bytes per second in the window; 0 when nothing was read in it."""
        with self._lock:
            now = self.clock()
            self._prune(now)
            if len(self._samples) < 2 or now - self._samples[-1][0] >= self.window:
                return 0.0
            since, base = self._samples[0]
            return (self.total - base) / max(now - since, 0.5)  # a burst is not infinite


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
    meter: RateMeter = field(default_factory=RateMeter, repr=False)

    def snapshot(self) -> dict:
        rate = self.meter.rate()
        remaining = max(self.bytes_total - self.bytes_done, 0)
        return {
            "serial": self.serial, "officer_id": self.officer_id, "port": self.port,
            "docked": self.docked, "scanned": self.scanned, "files_total": len(self.files),
            "files_done": len(self.done), "files_failed": len(self.failed),
            "bytes_total": self.bytes_total, "bytes_done": self.bytes_done,
            "rate_bps": round(rate), "bytes_read": self.meter.total,
            "eta_s": round(remaining / rate) if rate > 0 else None,
            "current": self.current, "registered": self.registered, "unreadable": self.unreadable,
            "safe_to_undock": (self.scanned and self.done == self.files and not self.failed
                               and not self.unreadable),
        }
