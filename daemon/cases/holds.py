"""Legal holds and retention that follow from case links (R3), through the store's API.

The ledger says what the store must hold: ``legal_holds`` has a row per recording linked to a
case as evidence, kept until a person releases it by name.  A hold counts as placed only when
the store, asked back with ``stat``, reports it; until then it is pending and the retention
check places it (and alerts while it cannot).  Retention is only ever extended.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import structlog

from evidock.daemon.cases.importer import canonical_type
from evidock.daemon.errors import EvidockError, RetentionError
from evidock.daemon.ledger.base import Ledger
from evidock.daemon.ledger.records import MediaRecord
from evidock.daemon.store.base import WormStore
from evidock.daemon.timeutil import parse

log = structlog.get_logger("evidock.cases")


class HoldKeeper:
    def __init__(self, ledger: Ledger, store: WormStore, *, retention_days: int,
                 retention_days_by_type: dict[str, int] | None = None,
                 synonyms: dict[str, str] | None = None,
                 release_store: WormStore | None = None) -> None:
        self.ledger = ledger
        self.store = store
        #: releases go through the custodian's credential when one is configured: the
        #: daemon's own may then be denied hold release by the bucket policy
        self.release_store = release_store or store
        self.retention_days = retention_days
        self.synonyms = dict(synonyms or {})
        self.by_type: dict[str, int] = {}
        for name, days in (retention_days_by_type or {}).items():
            key = canonical_type(name, self.synonyms)
            self.by_type[key] = max(days, self.by_type.get(key, 0))

    # -- what the ledger requires ------------------------------------------------------------

    def required_retention(self, media: MediaRecord) -> datetime:
        """Recorded (or found, if later) + the policy, or longer for its evidence case types."""
        days = self.retention_days
        for case in self.ledger.evidence_cases(media.id):
            days = max(days, self.by_type.get(canonical_type(case["type"], self.synonyms), 0))
        return max(parse(media.recorded_at), parse(media.found_at)) + timedelta(days=days)

    def held(self, media_id: int) -> dict | None:
        """The active hold row of a recording, or None."""
        return self.ledger.hold(media_id)

    # -- making the store agree --------------------------------------------------------------

    def place(self, media_id: int) -> bool:
        """Put the store's legal hold on a held recording; True once the store confirms it.

        A recording not stored yet stays pending (it is placed after its handover)."""
        hold = self.held(media_id)
        media = self.ledger.media(media_id)
        if hold is None or media.object_key is None:
            return False
        version = media.version_id  # the recorded version, never a later one over it
        self.store.set_legal_hold(media.object_key, True, version_id=version)
        info = self.store.stat(media.object_key, version_id=version)
        if not info.legal_hold:
            raise RetentionError(
                f"store {self.store.name}: legal hold on {media.object_key} (recording "
                f"{media_id}) was requested but the store does not report it",
                hint="check the store's object-lock settings; the retention check retries")
        if hold["placed_at"] is None and self.ledger.record_hold_placed(
                media_id, object_key=media.object_key, store=self.store.name):
            log.info("legal_hold_placed", media_id=media_id, case_id=hold["case_id"])
        return True

    def place_pending(self) -> list[str]:
        """Place every hold the store does not confirm yet; returns problems as messages."""
        problems = []
        for media_id in self.ledger.pending_holds():
            try:
                self.place(media_id)
            except EvidockError as exc:
                problems.append(str(exc))
        return problems

    def release(self, media_id: int, by: str, reason: str) -> None:
        """Lift a hold, by name and with a reason; refused while an evidence link remains."""
        if not by.strip() or not reason.strip():
            raise EvidockError("releasing a legal hold needs who (--by) and why (--reason)")
        still = self.ledger.evidence_cases(media_id)
        if still:
            raise EvidockError(
                f"recording {media_id} is still evidence in case(s) "
                f"{', '.join(r['case_id'] for r in still)}: its legal hold stays",
                hint="unlink it from those cases first")
        if self.held(media_id) is None:
            return
        media = self.ledger.media(media_id)
        if media.object_key is not None:
            self.release_store.set_legal_hold(media.object_key, False,
                                              version_id=media.version_id)
        self.ledger.record_hold_released(media_id, by=by, reason=reason,
                                         object_key=media.object_key)

    def ensure_retention(self, media: MediaRecord) -> bool:
        """Extend the stored object's retention up to what is required; True if extended."""
        if media.object_key is None:
            return False
        want = self.required_retention(media)
        info = self.store.stat(media.object_key, version_id=media.version_id)
        if info.retain_until >= want and media.retain_until and parse(media.retain_until) >= want:
            return False
        target = max(want, info.retain_until)
        info = self.store.extend_retention(media.object_key, target,
                                           version_id=media.version_id)
        self.ledger.record_retention(media.id, object_key=media.object_key,
                                     retain_until=info.retain_until, required=want)
        return True


def officers_json(officers) -> str:
    return json.dumps(sorted(officers), ensure_ascii=False)
