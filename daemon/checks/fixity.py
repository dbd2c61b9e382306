"""The fixity audit (R4): re-read stored objects and re-hash them, a rotating sample a day.

Each run checks the objects checked longest ago (never checked first) — as many as it takes
to go round every object in ``cycle_days`` runs — plus every object that failed before, so a
failure stays visible until a check passes.  An object whose last good check is older than
the cycle is reported too: the audit is falling behind.
"""

from __future__ import annotations

import hmac
import math
from datetime import datetime, timedelta

import structlog

from evidock.daemon.alerts.book import Finding
from evidock.daemon.errors import EvidockError
from evidock.daemon.hashing import digest_file
from evidock.daemon.ledger.base import Ledger
from evidock.daemon.store.base import WormStore, audited_names
from evidock.daemon.timeutil import stamp

log = structlog.get_logger("evidock.checks")


class FixityCheck:
    name = "fixity"

    def __init__(self, ledger: Ledger, store: WormStore, *, cycle_days: int) -> None:
        self.ledger = ledger
        self.store = store
        self.cycle = timedelta(days=cycle_days)
        self.cycle_days = cycle_days
        self.checked: list[int] = []

    def sample(self) -> list[int]:
        names = sorted(audited_names(self.store))
        total, _ = self.ledger.fixity_sample(names)
        return self.ledger.fixity_sample(names, math.ceil(total / self.cycle_days))[1]

    def run(self, now: datetime) -> list[Finding]:
        self.checked = []
        for media_id in self.sample():
            self._check(media_id)
            self.checked.append(media_id)
        return self._findings(now)

    def _check(self, media_id: int) -> None:
        media = self.ledger.media(media_id)
        try:
            with self.store.open(media.object_key, version_id=media.version_id) as fh:
                got = digest_file(fh)
            ok = (got.size == media.size and hmac.compare_digest(got.sha256, media.sha256)
                  and hmac.compare_digest(got.blake3, media.blake3))
            detail = "" if ok else (f"read {got.size} bytes, sha256 {got.sha256}, blake3 "
                                    f"{got.blake3}")
        except (EvidockError, OSError) as exc:
            ok, detail = False, f"cannot read it: {exc}"
        self.ledger.record_fixity(media_id, ok=ok, detail=detail)
        if not ok:
            log.error("fixity_failed", media_id=media_id, object_key=media.object_key,
                      detail=detail)

    def _findings(self, now: datetime) -> list[Finding]:
        out = []
        for r in self.ledger.fixity_failures():
            out.append(Finding(
                f"fixity:media:{r['media_id']}", "R4", "critical", f"media:{r['media_id']}",
                f"recording {r['media_id']} ({r['object_key']}) failed its fixity check at "
                f"{r['checked_at']}: {r['detail']}; the ledger recorded {r['size']} bytes, "
                f"sha256 {r['sha256']}. Restore it from a replica or backup and find out how "
                "the store changed it."))
        names = sorted(audited_names(self.store))
        behind = self.ledger.fixity_behind(names, stamp(now - self.cycle - timedelta(days=1)))
        if behind:
            out.append(Finding(
                "fixity:behind", "R4", "warning", f"store:{self.store.name}",
                f"{behind} stored recording(s) have not been re-hashed within the "
                f"{self.cycle_days}-day fixity cycle. Check that the daily fixity job runs "
                "('evidock check fixity') and that it can read the store."))
        return out
