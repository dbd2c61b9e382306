"""The daily ledger <-> store audit (R3, R4): the ledger says what every stored object must
be; the store, asked with ``stat``, must agree.

Per object: present; size and SHA-256 as recorded; retention at least what the ledger says
and what the policy (and the case types it is evidence for) require; legal hold on while the
ledger holds it.  Then the store's own set-up (``store.check()``: lock settings, space), and
evidence whose retention would end while its case is still open.  With ``repair`` the check
first fixes what only ever strengthens a lock (extends retention, places holds) and alerts
on what it could not fix; nothing is ever shortened or released here.
"""

from __future__ import annotations

import hmac
import re
from datetime import datetime, timedelta

import structlog

from evidock.daemon.alerts.book import Finding
from evidock.daemon.cases.holds import HoldKeeper
from evidock.daemon.checks.bucket import BucketAudit, record_repair
from evidock.daemon.errors import EvidockError, ObjectMissing
from evidock.daemon.ledger.base import Ledger
from evidock.daemon.store.base import WormStore, audited_names
from evidock.daemon.timeutil import parse, stamp

log = structlog.get_logger("evidock.checks")


class RetentionCheck:
    name = "retention"

    def __init__(self, ledger: Ledger, store: WormStore, holds: HoldKeeper, *,
                 lead_days: int, repair: bool = True) -> None:
        self.ledger = ledger
        self.store = store
        self.holds = holds
        self.lead = timedelta(days=lead_days)
        self.repair = repair
        self.checked = 0

    def run(self, now: datetime) -> list[Finding]:
        findings = []
        if self.repair:
            for problem in self.holds.place_pending():
                log.warning("legal_hold_pending", problem=problem)
        self.checked = 0
        elsewhere: dict[str, int] = {}
        reachable = audited_names(self.store)
        for media in self.ledger.list_media():
            if media.object_key is None:
                continue
            if media.store not in reachable:
                elsewhere[media.store] = elsewhere.get(media.store, 0) + 1
                continue
            self.checked += 1
            findings.extend(self._object(media))
        for other, count in sorted(elsewhere.items()):  # never skip objects silently
            findings.append(Finding(
                f"retention:elsewhere:{other}", "R4", "warning", f"store:{other}",
                f"{count} recording(s) are recorded in store {other}, which this station's "
                f"audit (store {self.store.name}) does not reach. Audit them from a station "
                "configured with that store, or move them and record the move."))
        findings.extend(self._expiring(now))
        findings.extend(BucketAudit(self.ledger, getattr(self.store, "protection", None),
                                    store_name=getattr(self.store, "primary", self.store).name
                                    ).run())
        for problem in self.store.check():
            # numbers in a message (free space, a count) change between runs: not its identity
            key = "retention:store:" + re.sub(r"\d+", "#", problem)[:120]
            findings.append(Finding(
                key=key, rule="R4", severity="warning",
                subject=f"store:{self.store.name}", message=problem))
        return findings

    def _object(self, media) -> list[Finding]:
        subject, mid = f"media:{media.id}", media.id
        where = f"recording {mid} ({media.device_serial} {media.source_path}, {media.object_key})"
        try:
            info = self.store.stat(media.object_key, version_id=media.version_id)
        except ObjectMissing:
            return [Finding(f"retention:missing:{mid}", "R4", "critical", subject,
                            f"{where} is in the ledger but not in store {self.store.name}. "
                            "Stop any clean-up on the store, restore the object from a replica "
                            "or backup, and keep the device copy if it still exists.")]
        except EvidockError as exc:
            return [Finding(f"retention:unreadable:{mid}", "R4", "critical", subject,
                            f"{where}: the store cannot report it: {exc}. Check the store.")]
        out = []
        if info.size != media.size or not hmac.compare_digest(info.sha256 or "",
                                                              media.sha256 or ""):
            out.append(Finding(
                f"retention:mismatch:{mid}", "R4", "critical", subject,
                f"{where}: the store reports {info.size} bytes, sha256 {info.sha256}; the ledger "
                f"recorded {media.size} bytes, sha256 {media.sha256}. Run 'evidock check "
                "fixity', restore the object from a replica, and investigate the store."))
        need = max(self.holds.required_retention(media),
                   parse(media.retain_until) if media.retain_until else datetime.min.replace(
                       tzinfo=info.retain_until.tzinfo))
        if info.retain_until < need and self.repair:
            was = info.retain_until
            try:
                self.holds.ensure_retention(media)
                info = self.store.stat(media.object_key, version_id=media.version_id)
            except EvidockError as exc:
                log.warning("retention_repair_failed", media_id=mid, error=str(exc))
            recorded = parse(media.retain_until) if media.retain_until else None
            if recorded is not None and was < recorded and info.retain_until >= recorded:
                # shorter than the store itself once confirmed: not a policy change, a loss
                record_repair(self.ledger, media_id=mid, object_key=media.object_key,
                              version_id=info.version_id, what="retention",
                              found=f"retention until {stamp(was)} (the ledger recorded "
                                    f"{stamp(recorded)})",
                              done=f"extended it to {stamp(info.retain_until)}")
        if info.retain_until < need:
            out.append(Finding(
                f"retention:short:{mid}", "R3", "critical", subject,
                f"{where}: the store keeps it until {stamp(info.retain_until)}, the ledger "
                f"requires {stamp(need)}. Run 'evidock check retention' to extend it, and "
                "check the store's object-lock settings if this comes back."))
        hold = self.holds.held(mid)
        if hold is not None and not info.legal_hold:
            fixed = False
            if self.repair:
                try:
                    fixed = self.holds.place(mid)
                except EvidockError as exc:
                    log.warning("legal_hold_repair_failed", media_id=mid, error=str(exc))
            if fixed and hold["placed_at"] is not None:
                # the store had confirmed this hold: someone released it behind the ledger
                record_repair(self.ledger, media_id=mid, object_key=media.object_key,
                              version_id=info.version_id, what="legal_hold",
                              found=f"no legal hold (placed {hold['placed_at'][:19]} for case "
                                    f"{hold['case_id']}, never released in the ledger)",
                              done="put the legal hold back")
            if not fixed:
                out.append(Finding(
                    f"retention:hold:{mid}", "R3", "critical", subject,
                    f"{where} is evidence in case {hold['case_id']} but the store has no legal "
                    "hold on it. Run 'evidock check retention' to place it; if it fails, check "
                    "the store's object-lock settings and permissions."))
        return out

    def _expiring(self, now: datetime) -> list[Finding]:
        rows = self.ledger.evidence_expiring(now + self.lead)
        return [Finding(
            f"retention:expiring:{r['media_id']}:{r['case_id']}", "R3", "warning",
            f"media:{r['media_id']}",
            f"recording {r['media_id']} is evidence in open case {r['case_id']} but its "
            f"retention ends {r['retain_until']}. Extend it (raise [cases] "
            "retention_days_by_type for the case type and run 'evidock check retention'), or "
            "close the case in the case system and import it again.") for r in rows]
