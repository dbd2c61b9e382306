"""The anchor job (R4): write the ledger's chain head, and the events since the last anchor,
into the write-once store (daemon/ledger/anchor.py).  Run by the scheduler every
``checks.anchor_every_minutes``, by the daemon at stop and after a device is handed over, and
by ``evidock check anchor``.  A ledger that no longer holds the anchored head is a critical
alert, and nothing is anchored over it."""

from __future__ import annotations

from datetime import datetime

from evidock.daemon.alerts.book import Finding
from evidock.daemon.errors import AnchorMismatch
from evidock.daemon.ledger.anchor import Anchorer


class AnchorCheck:
    name = "anchor"

    def __init__(self, anchorer: Anchorer) -> None:
        self.anchorer = anchorer
        self.written: str | None = None

    def run(self, now: datetime) -> list[Finding]:
        try:
            self.written = self.anchorer.write()
        except AnchorMismatch as exc:
            return [Finding(
                "anchor:mismatch", "R4", "critical", f"station:{self.anchorer.station}",
                f"{exc.message}. History that was anchored in the store is missing or changed "
                "in the ledger: run 'evidock ledger verify' to see what, keep the ledger file "
                "for investigation, and rebuild it with 'evidock ledger rebuild'.")]
        return []
