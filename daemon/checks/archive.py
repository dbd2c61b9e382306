"""Cases and their footage: the archive deadline (R7) and full-process recording (R10).

R7: from the day a case closes its footage must be linked, reviewed and stored within
``archive_days`` (30 by default): a warning while anything is outstanding, critical after the
deadline.  Outstanding means: a candidate link nobody has confirmed as evidence, a linked
recording not yet handed over, or a case officer's recording inside the case window that is
not linked at all (and was not unlinked by a person).

R10: a case of a type that must be recorded in full, with no linked recording once its
footage could have been handed over (its end + the handover window): a warning while the
case is open, critical once it is closed.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from evidock.daemon.alerts.book import Finding
from evidock.daemon.cases.importer import canonical_type
from evidock.daemon.ledger.base import Ledger
from evidock.daemon.timeutil import parse, stamp


class ArchiveCheck:
    name = "archive"

    def __init__(self, ledger: Ledger, *, archive_days: int, full_process_types: list[str],
                 handover_hours: float, synonyms: dict[str, str] | None = None) -> None:
        self.ledger = ledger
        self.archive = timedelta(days=archive_days)
        self.archive_days = archive_days
        self.synonyms = dict(synonyms or {})
        self.full_process = {self._name(t) for t in full_process_types}
        self.window = timedelta(hours=handover_hours)

    def _name(self, case_type: str) -> str:
        """Cases imported before the synonym table (or named in English) still count."""
        return canonical_type(case_type, self.synonyms)

    def run(self, now: datetime) -> list[Finding]:
        cases = self.ledger.cases()
        out = []
        for case in cases:
            if case["status"] == "closed":
                out.extend(self._archive(case, now))
            if self._name(case["type"]) in self.full_process:
                out.extend(self._full_process(case, now))
        return out

    def outstanding(self, case: dict) -> dict[str, int]:
        progress = self.ledger.case_progress(case["case_id"])
        unlinked = self.ledger.never_linked(case["case_id"], case["officers"],
                                            case["start_at"], case["end_at"])
        return {"unreviewed": progress["unreviewed"],
                "not_handed_over": progress["not_handed_over"], "not_linked": len(unlinked)}

    def _archive(self, case: dict, now: datetime) -> list[Finding]:
        left = {k: v for k, v in self.outstanding(case).items() if v}
        if not left:
            return []
        deadline = parse(case["closed_at"]) + self.archive
        late = now >= deadline
        what = ", ".join(f"{n} {k.replace('_', ' ')}" for k, n in left.items())
        when = (f"its archive deadline {stamp(deadline)} has passed" if late
                else f"archive it by {stamp(deadline)}")
        return [Finding(
            f"archive:case:{case['case_id']}", "R7", "critical" if late else "warning",
            f"case:{case['case_id']}",
            f"case {case['case_id']} closed {case['closed_at']}; {when} "
            f"({self.archive_days} days). Outstanding: {what}. Review the candidates: link "
            "the footage as evidence ('evidock cases link') and unlink what is not "
            f"('evidock cases unlink ... --reason'); see 'evidock cases show {case['case_id']}'; "
            "dock devices still holding recordings.")]

    def _full_process(self, case: dict, now: datetime) -> list[Finding]:
        linked = self.ledger.case_progress(case["case_id"])["active"]
        if linked or now < parse(case["end_at"]) + self.window:
            return []
        if self.ledger.no_footage(case["case_id"]) is not None:
            return []  # why none exists is recorded, with who approved it
        closed = case["status"] == "closed"
        return [Finding(
            f"fullprocess:case:{case['case_id']}", "R10", "critical" if closed else "warning",
            f"case:{case['case_id']}",
            f"case {case['case_id']} is a {case['type']} case, which must be recorded in full, "
            f"and has no linked recording. Find the footage of officer(s) "
            f"{', '.join(case['officers'])} and link it ('evidock cases link "
            f"{case['case_id']} MEDIA... --note TEXT --by NAME'), or record why none exists "
            f"('evidock cases no-footage {case['case_id']} --reason TEXT --by NAME "
            "--approver NAME').")]
