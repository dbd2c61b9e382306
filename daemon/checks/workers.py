"""The daemon's own workers (R1: nothing may keep a recording from its handover).

Reads the status snapshot the running daemon writes every tick (``run/status.json``), so
``evidock check workers`` sees what the daemon sees:

* an ingest worker or a thread (drainer, device release, a driver) that is dead: critical
  (the daemon starts a dead worker again; one that stays dead needs a restart);
* a worker stuck on one recording, with no progress for ``ingest.stuck_seconds``: critical
  (systemd's watchdog is no longer pinged, so systemd restarts the daemon);
* ingest paused because the ledger cannot be written or the store refuses the daemon:
  critical, with the cause; it resolves by itself when ingest resumes.

A snapshot older than ``stale_seconds`` (no daemon running) gives no findings: a stopped
daemon is not a dead worker.
"""

from __future__ import annotations

import json
import time
from datetime import datetime
from pathlib import Path

from evidock.daemon.alerts.book import Finding


class WorkersCheck:
    name = "workers"

    def __init__(self, status_path: Path, *, stale_seconds: float = 30.0) -> None:
        self.status_path = Path(status_path)
        self.stale_seconds = stale_seconds

    def run(self, now: datetime) -> list[Finding]:
        try:
            status = json.loads(self.status_path.read_text())
        except (FileNotFoundError, ValueError):
            return []
        if time.time() - status.get("updated", 0) > self.stale_seconds:
            return []
        station = f"station:{status.get('station', '')}"
        findings = []
        for w in status.get("workers", []):
            if not w["alive"]:
                findings.append(Finding(
                    f"workers:dead:{w['name']}", "R1", "critical", station,
                    f"ingest worker {w['name']} died (restarted {w['restarts']} times so far). "
                    "See the log for 'worker_crashed'; if it keeps dying, restart evidock."))
            elif w["stuck"]:
                findings.append(Finding(
                    f"workers:stuck:{w['name']}", "R1", "critical", station,
                    f"ingest worker {w['name']} has made no progress on recording "
                    f"{w['media_id']} for {w['last_beat_age_s']:.0f} s: a hung device or a store "
                    "that stopped answering. Check the device and the store; systemd restarts "
                    "evidock when its watchdog is enabled."))
        for name, alive in status.get("threads", {}).items():
            if not alive:
                findings.append(Finding(
                    f"workers:dead:{name}", "R1", "critical", station,
                    f"the {name} thread died: see the log, and restart evidock."))
        if paused := status.get("paused"):
            findings.append(Finding(
                "workers:paused", "R1", "critical", station,
                f"ingest is paused: the {paused['cause']} failed ({paused['error']}). No "
                "recording is taken until it is fixed; ingest resumes by itself then (free "
                "space on the ledger's disk, fix the store's credentials or set-up)."))
        return findings
