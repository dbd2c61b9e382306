"""The current transfer rate: bytes over the last few seconds, not an average since docking.

An average since docking is wrong when it matters: a camera that stalled for a minute still
shows its early speed, and a second camera docked beside it (so each gets half the bus)
shows the old rate for minutes.  :class:`RecentRate` counts bytes in one-second buckets and
reports the rate over the last ``window`` seconds; with nothing moving for a whole window it
is 0 and the ETA is unknown.  One instance per device (``daemon/progress.py``); the same
class serves a station-wide total (for status and ``/metrics``).

Thread-safe: a worker adds bytes per chunk while the main loop reads the rate.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable

WINDOW_SECONDS = 10.0


class RecentRate:
    def __init__(self, window: float = WINDOW_SECONDS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.window = window
        self.clock = clock
        self._buckets: deque[list] = deque()  # [second, bytes], oldest first
        self._since: float | None = None  # when bytes first moved (start of the measure)
        self.total = 0  # every byte ever added (a counter for /metrics)
        self._lock = threading.Lock()

    def add(self, n: int) -> None:
        now = self.clock()
        second = int(now)
        with self._lock:
            self._drop(now)
            if self._since is None or not self._buckets:
                # the first bytes, or the first after a whole idle window: a new transfer,
                # measured from its start (not at a fraction of its speed)
                self._since = now
            self.total += n
            if self._buckets and self._buckets[-1][0] == second:
                self._buckets[-1][1] += n
            else:
                self._buckets.append([second, n])
            self._drop(now)

    def _drop(self, now: float) -> None:
        while self._buckets and self._buckets[0][0] <= now - self.window - 1:
            self._buckets.popleft()

    def bytes_per_second(self) -> float:
        """Bytes per second over the last ``window`` seconds (over less, just after the
        first bytes moved, so a new transfer does not start at a tenth of its speed)."""
        now = self.clock()
        with self._lock:
            self._drop(now)
            start = now - self.window
            total = 0.0
            for second, n in self._buckets:
                # a bucket spans [second, min(second + 1, now)]; count the share of its
                # bytes that lies inside the window (the oldest lies partly before it)
                end = min(second + 1, now)
                inside = end - max(second, start)
                if inside > 0:
                    total += n * min(inside / (end - second), 1.0) if end > second else n
            if not total or self._since is None:
                return 0.0
            span = min(self.window, now - self._since)
            return total / max(span, 0.5)


def eta_seconds(remaining: int, rate: float) -> int | None:
    """Seconds until ``remaining`` bytes are moved at ``rate``; None while nothing moves."""
    if remaining <= 0:
        return 0
    return round(remaining / rate) if rate > 0 else None
