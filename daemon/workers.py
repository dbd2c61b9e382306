"""How the pipeline knows its workers are alive and what it does when the station must wait.

:class:`Heartbeats`: every worker beats when it waits for work (at least once a second) and
for every chunk it reads.  A worker whose thread has ended is *dead* (the pipeline starts a
new one); a worker busy with one file that has not beaten for ``stuck_seconds`` is *stuck*
(a hung device read, a store that stopped answering).  Either shows in ``evidock status``, in
``/metrics`` and in the ``workers`` alert, and stops the systemd watchdog pings
(:meth:`Heartbeats.healthy`), so systemd restarts a daemon that cannot recover by itself.

:class:`Pause` is what ``Action.STOP`` means (see :mod:`evidock.daemon.errors`): the cause
(``ledger``, ``store``) is probed with backoff, and no worker takes new work until a probe
succeeds.  A pause is not unhealthy: restarting the daemon would not free a full disk, so the
watchdog keeps being pinged while the pause shows in status and metrics.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from evidock.daemon.retry import RetryPolicy


@dataclass
class Beat:
    name: str
    thread: threading.Thread | None = None
    state: str = "starting"  # starting, waiting, reading, probing
    media_id: int | None = None
    at: float = field(default_factory=time.monotonic)
    restarts: int = 0
    crashes: int = 0


class Heartbeats:
    """Thread-safe record of each worker's last sign of life."""

    def __init__(self, stuck_seconds: float = 300.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.stuck_seconds = stuck_seconds
        self.clock = clock
        self._beats: dict[str, Beat] = {}
        self._lock = threading.Lock()

    def register(self, name: str, thread: threading.Thread) -> None:
        with self._lock:
            old = self._beats.get(name)
            beat = Beat(name, thread, restarts=old.restarts + 1 if old else 0,
                        crashes=old.crashes if old else 0)
            self._beats[name] = beat

    def beat(self, name: str, state: str | None = None, media_id: int | None = -1) -> None:
        with self._lock:
            beat = self._beats.get(name)
            if beat is None:
                return
            beat.at = self.clock()
            if state is not None:
                beat.state = state
            if media_id != -1:
                beat.media_id = media_id

    def crashed(self, name: str) -> None:
        with self._lock:
            if name in self._beats:
                self._beats[name].crashes += 1

    def _is_stuck(self, beat: Beat, now: float) -> bool:
        return beat.state in ("reading", "probing") and now - beat.at > self.stuck_seconds

    def dead(self) -> list[str]:
        with self._lock:
            return [b.name for b in self._beats.values()
                    if b.thread is not None and not b.thread.is_alive()]

    def snapshot(self) -> list[dict]:
        now = self.clock()
        with self._lock:
            return [{
                "name": b.name, "alive": b.thread is not None and b.thread.is_alive(),
                "state": b.state, "media_id": b.media_id,
                "last_beat_age_s": round(now - b.at, 1), "stuck": self._is_stuck(b, now),
                "restarts": b.restarts, "crashes": b.crashes,
            } for b in self._beats.values()]

    def healthy(self) -> bool:
        """Every worker alive and none stuck: what a watchdog ping stands for."""
        return all(w["alive"] and not w["stuck"] for w in self.snapshot())


class Pause:
    """The pipeline's pause while a STOP cause lasts; guarded by the pipeline's lock."""

    def __init__(self, base_seconds: float = 2.0, max_seconds: float = 300.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.base, self.max = base_seconds, max_seconds
        self.backoff = RetryPolicy(base_seconds=base_seconds, max_seconds=max_seconds)
        self.clock = clock
        self.cause: str | None = None
        self.error: str | None = None
        self.since: float | None = None
        self.probes = 0
        self.next_probe = 0.0
        self.probing = False
        self.resumed_at: float | None = None

    @property
    def active(self) -> bool:
        return self.cause is not None

    def trip(self, cause: str, error: str) -> bool:
        """Pause for ``cause``; True if the pipeline was not paused before."""
        first = not self.active
        if first:
            now = self.clock()
            if self.resumed_at is None or now - self.resumed_at > self.max:
                self.probes = 0  # a new trouble
            else:
                self.probes += 1  # back right after a resume: keep backing off
            self.since = now
            self.next_probe = now + self.backoff.delay(self.probes + 1)
        self.cause, self.error = cause, error
        return first

    def due(self) -> bool:
        return self.active and not self.probing and self.clock() >= self.next_probe

    def wait_seconds(self) -> float:
        return max(self.next_probe - self.clock(), 0.05)

    def probed(self, ok: bool, error: str | None = None) -> None:
        self.probing = False
        if ok:
            self.cause = self.error = self.since = None
            self.resumed_at = self.clock()
            return
        self.probes += 1
        self.error = error or self.error
        self.next_probe = self.clock() + self.backoff.delay(self.probes + 1)

    def snapshot(self) -> dict | None:
        if not self.active:
            return None
        return {"cause": self.cause, "error": self.error, "probes": self.probes,
                "for_s": round(self.clock() - self.since, 1),
                "next_probe_in_s": round(max(self.next_probe - self.clock(), 0), 1)}
