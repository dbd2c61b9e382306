"""Cases and their footage (R6): import, link, unlink, show, and the automatic linking rule.

Every import, link and unlink is a chained ledger event naming who, when and why.  Linking as
evidence requests a legal hold (R3) that :class:`HoldKeeper` places through the store and
confirms with ``stat``; unlinking never lifts a hold unless the person unlinking asks for it
by name, so a hold is never dropped silently.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import structlog

from evidock.daemon.cases.holds import HoldKeeper
from evidock.daemon.cases.importer import CaseRow, canonical_type
from evidock.daemon.errors import EvidockError, NotFound
from evidock.daemon.ledger.base import Ledger
from evidock.daemon.timeutil import stamp

log = structlog.get_logger("evidock.cases")

CANDIDATE, EVIDENCE = "candidate", "evidence"
AUTO_LINKER = "auto-link rule"


@dataclass(frozen=True)
class ImportResult:
    added: int
    updated: int
    unchanged: int
    linked: int


@dataclass(frozen=True)
class UnlinkResult:
    media_id: int
    was: str
    hold_kept: bool  # the recording stays under legal hold (no --release-hold)


def _values(row: CaseRow) -> dict:
    return {"type": row.type, "officers": json.dumps(sorted(row.officers), ensure_ascii=False),
            "subject": row.subject, "start_at": stamp(row.start), "end_at": stamp(row.end),
            "status": row.status, "closed_at": stamp(row.closed_at) if row.closed_at else None,
            "sensitivity": row.sensitivity}


class CaseBook:
    def __init__(self, ledger: Ledger, holds: HoldKeeper, *,
                 auto_link: str = CANDIDATE, synonyms: dict[str, str] | None = None) -> None:
        self.ledger = ledger
        self.holds = holds
        self.auto_link_mode = auto_link
        self.synonyms = dict(synonyms or {})

    def canonical_type(self, case_type: str) -> str:
        """The case type as this station names it ([cases] type_synonyms)."""
        return canonical_type(case_type, self.synonyms)

    # -- R10: a full-process case without footage -----------------------------------------------

    def no_footage(self, case_id: str) -> dict | None:
        """The record of why the case has no footage, or None."""
        return self.ledger.no_footage(case_id)

    def record_no_footage(self, case_id: str, *, reason: str, by: str, approver: str) -> dict:
        """Why a case that must be recorded in full has no recording (R10: 不适宜音像记录的
        除外，但需书面记录原因), who records it and who approved it; the R10 alert then
        resolves."""
        self.case(case_id)
        if not reason.strip():
            raise EvidockError("recording why no footage exists needs the reason",
                               hint="pass --reason TEXT")
        if self.ledger.case_progress(case_id)["active"]:
            raise EvidockError(f"case {case_id} has linked footage: nothing to explain",
                               hint="see 'evidock cases show " + case_id + "'")
        self.ledger.record_no_footage(case_id, reason=reason, by=by, approver=approver)
        log.info("case_no_footage_recorded", case_id=case_id, by=by, approver=approver)
        return self.ledger.no_footage(case_id)

    # -- cases -------------------------------------------------------------------------------

    def case(self, case_id: str) -> dict:
        doc = self.ledger.case(case_id)
        if doc is None:
            raise NotFound(f"no case {case_id!r} in the ledger",
                           hint="import it first with `evidock cases import FILE`")
        return doc

    def cases(self, *, status: str | None = None) -> list[dict]:
        return self.ledger.cases(status=status)

    def import_rows(self, rows: list[CaseRow], *, by: str, source: str) -> ImportResult:
        """All rows in one transaction: a file is imported whole or not at all."""
        added, updated, unchanged = self.ledger.import_cases(
            [{"case_id": row.case_id, **_values(row), "type": self.canonical_type(row.type)}
             for row in rows], by=by, source=source)
        linked = self.auto_link([r.case_id for r in rows]) if self.auto_link_mode != "off" else 0
        return ImportResult(added, updated, unchanged, linked)

    # -- links -------------------------------------------------------------------------------

    def links(self, case_id: str, *, include_unlinked: bool = False) -> list[dict]:
        return self.ledger.case_links(case_id, include_unlinked=include_unlinked)

    def link(self, case_id: str, media_ids: list[int], *, kind: str, note: str,
             by: str) -> list[int]:
        """Link recordings; evidence links get a legal hold.  Returns the ids newly linked
        or upgraded from candidate to evidence."""
        if kind not in (CANDIDATE, EVIDENCE):
            raise EvidockError(f"link kind {kind!r} is neither candidate nor evidence")
        if not by.strip():
            raise EvidockError("a link needs the name of who links", hint="pass --by NAME")
        self.case(case_id)
        for media_id in media_ids:
            self.ledger.media(media_id)  # NotFound before anything is written
        changed = self.ledger.link_media(case_id, media_ids, kind=kind, note=note, by=by)
        if kind == EVIDENCE:
            self._secure(media_ids)
        return changed

    def _secure(self, media_ids: list[int]) -> None:
        """Hold and retain evidence now if the store can; what fails is retried by the
        retention check, which alerts while a hold is pending."""
        for media_id in media_ids:
            try:
                if self.holds.place(media_id):
                    self.holds.ensure_retention(self.ledger.media(media_id))
            except EvidockError as exc:
                log.warning("legal_hold_pending", media_id=media_id, error=str(exc))

    def unlink(self, case_id: str, media_id: int, *, by: str, reason: str,
               release_hold: bool = False) -> UnlinkResult:
        if not by.strip() or not reason.strip():
            raise EvidockError("unlinking needs who (--by) and why (--reason)")
        if release_hold:  # refuse before writing anything, not after the unlink
            others = self.ledger.evidence_cases(media_id, besides=case_id)
            if others:
                raise EvidockError(
                    f"recording {media_id} is still evidence in case(s) "
                    f"{', '.join(r['case_id'] for r in others)}: its legal hold stays",
                    hint="unlink it without --release-hold, or from those cases first")
        was, held = self.ledger.unlink_media(case_id, media_id, by=by, reason=reason,
                                             keep_hold=not release_hold)
        if held and release_hold:
            self.holds.release(media_id, by, reason)
        return UnlinkResult(media_id, was, held and not release_hold)

    # -- the automatic rule ------------------------------------------------------------------

    def auto_link(self, case_ids: list[str] | None = None) -> int:
        """Link each case officer's recordings made inside the case's window.

        A recording a person unlinked from a case is never linked to it again by the rule."""
        if self.auto_link_mode == "off":
            return 0
        cases = self.cases() if case_ids is None else [self.case(c) for c in case_ids]
        linked = 0
        for case in cases:
            ids = self.ledger.never_linked(case["case_id"], case["officers"], case["start_at"],
                                           case["end_at"])
            if not ids:
                continue
            note = (f"recorded by a case officer inside the case window "
                    f"{case['start_at']} .. {case['end_at']}")
            linked += len(self.link(case["case_id"], ids, kind=self.auto_link_mode, note=note,
                                    by=AUTO_LINKER))
        return linked
