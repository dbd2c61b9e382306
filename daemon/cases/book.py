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
from evidock.daemon.cases.importer import CaseRow
from evidock.daemon.errors import EvidockError, NotFound
from evidock.daemon.ledger.sqlite import SqliteLedger
from evidock.daemon.timeutil import stamp

log = structlog.get_logger("evidock.cases")

CANDIDATE, EVIDENCE = "candidate", "evidence"
AUTO_LINKER = "auto-link rule"

_CASE_COLUMNS = ("case_id, type, officers, subject, start_at, end_at, status, closed_at, "
                 "sensitivity, imported_at, updated_at")


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
    def __init__(self, ledger: SqliteLedger, holds: HoldKeeper, *,
                 auto_link: str = CANDIDATE) -> None:
        self.ledger = ledger
        self.holds = holds
        self.auto_link_mode = auto_link

    # -- cases -------------------------------------------------------------------------------

    def case(self, case_id: str) -> dict:
        row = self.ledger.reader().execute(
            f"SELECT {_CASE_COLUMNS} FROM cases WHERE case_id = ?", (case_id,)).fetchone()
        if row is None:
            raise NotFound(f"no case {case_id!r} in the ledger",
                           hint="import it first with 'evidock cases import FILE'")
        doc = dict(row)
        doc["officers"] = json.loads(doc["officers"])
        return doc

    def cases(self, *, status: str | None = None) -> list[dict]:
        sql, params = f"SELECT {_CASE_COLUMNS} FROM cases", []
        if status:
            sql, params = sql + " WHERE status = ?", [status]
        rows = self.ledger.reader().execute(sql + " ORDER BY case_id", params)
        return [{**dict(r), "officers": json.loads(r["officers"])} for r in rows]

    def import_rows(self, rows: list[CaseRow], *, by: str, source: str) -> ImportResult:
        """All rows in one transaction: a file is imported whole or not at all."""
        added = updated = unchanged = 0
        with self.ledger.transaction() as conn:
            now = self.ledger.now()
            for row in rows:
                values = _values(row)
                old = conn.execute(f"SELECT {_CASE_COLUMNS} FROM cases WHERE case_id = ?",
                                   (row.case_id,)).fetchone()
                if old is None:
                    conn.execute(
                        "INSERT INTO cases (case_id, type, officers, subject, start_at, end_at, "
                        "status, closed_at, sensitivity, imported_at, updated_at) VALUES "
                        "(:case_id, :type, :officers, :subject, :start_at, :end_at, :status, "
                        ":closed_at, :sensitivity, :now, :now)",
                        {**values, "case_id": row.case_id, "now": now})
                    self.ledger.append_event(conn, "case_imported", f"case:{row.case_id}",
                                             {**values, "by": by, "source": source})
                    added += 1
                    continue
                changed = {k: v for k, v in values.items() if old[k] != v}
                if not changed:
                    unchanged += 1
                    continue
                sets = ", ".join(f"{k} = :{k}" for k in changed)
                conn.execute(f"UPDATE cases SET {sets}, updated_at = :now WHERE case_id = :id",
                             {**changed, "now": now, "id": row.case_id})
                self.ledger.append_event(conn, "case_updated", f"case:{row.case_id}", {
                    "changed": changed, "before": {k: old[k] for k in changed},
                    "by": by, "source": source})
                updated += 1
        linked = self.auto_link([r.case_id for r in rows]) if self.auto_link_mode != "off" else 0
        return ImportResult(added, updated, unchanged, linked)

    # -- links -------------------------------------------------------------------------------

    def links(self, case_id: str, *, include_unlinked: bool = False) -> list[dict]:
        sql = ("SELECT l.id, l.media_id, l.kind, l.note, l.linked_by, l.linked_at, "
               "l.unlinked_by, l.unlinked_at, l.unlink_reason, m.device_serial, m.officer_id, "
               "m.recorded_at, m.source_path, m.size, m.state, m.blake3, m.retain_until, "
               "h.placed_at AS hold_placed_at FROM case_links l JOIN media m ON m.id = l.media_id "
               "LEFT JOIN legal_holds h ON h.media_id = l.media_id AND h.released_at IS NULL "
               "WHERE l.case_id = ?")
        if not include_unlinked:
            sql += " AND l.unlinked_at IS NULL"
        return [dict(r) for r in self.ledger.reader().execute(sql + " ORDER BY m.recorded_at, "
                                                               "l.id", (case_id,))]

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
        changed = []
        with self.ledger.transaction() as conn:
            for media_id in media_ids:
                if self._link(conn, case_id, media_id, kind, note, by):
                    changed.append(media_id)
        if kind == EVIDENCE:
            self._secure(media_ids)
        return changed

    def _link(self, conn, case_id: str, media_id: int, kind: str, note: str, by: str) -> bool:
        now = self.ledger.now()
        old = conn.execute("SELECT id, kind FROM case_links WHERE case_id = ? AND media_id = ? "
                           "AND unlinked_at IS NULL", (case_id, media_id)).fetchone()
        data = {"case_id": case_id, "media_id": media_id, "kind": kind, "note": note, "by": by}
        if old is not None and (old["kind"] == kind or kind == CANDIDATE):
            return False  # already linked as this, or as evidence (never downgraded here)
        if old is not None:
            conn.execute("UPDATE case_links SET kind = ?, note = ?, linked_by = ?, linked_at = ? "
                         "WHERE id = ?", (kind, note or "", by, now, old["id"]))
            self.ledger.append_event(conn, "case_link_upgraded", f"case:{case_id}",
                                     {**data, "link_id": old["id"], "was": old["kind"]})
        else:
            link_id = conn.execute(
                "INSERT INTO case_links (case_id, media_id, kind, note, linked_by, linked_at) "
                "VALUES (?, ?, ?, ?, ?, ?)", (case_id, media_id, kind, note or "", by, now),
            ).lastrowid
            self.ledger.append_event(conn, "case_linked", f"case:{case_id}",
                                     {**data, "link_id": link_id})
        if kind == EVIDENCE:
            self.holds.request(conn, media_id, case_id, by)
        return True

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
            others = self.ledger.reader().execute(
                "SELECT case_id FROM case_links WHERE media_id = ? AND kind = 'evidence' AND "
                "unlinked_at IS NULL AND case_id != ?", (media_id, case_id)).fetchall()
            if others:
                raise EvidockError(
                    f"recording {media_id} is still evidence in case(s) "
                    f"{', '.join(r['case_id'] for r in others)}: its legal hold stays",
                    hint="unlink it without --release-hold, or from those cases first")
        with self.ledger.transaction() as conn:
            old = conn.execute("SELECT id, kind FROM case_links WHERE case_id = ? AND "
                               "media_id = ? AND unlinked_at IS NULL",
                               (case_id, media_id)).fetchone()
            if old is None:
                raise NotFound(f"recording {media_id} is not linked to case {case_id}")
            conn.execute("UPDATE case_links SET unlinked_by = ?, unlinked_at = ?, "
                         "unlink_reason = ? WHERE id = ?",
                         (by, self.ledger.now(), reason, old["id"]))
            held = conn.execute("SELECT 1 FROM legal_holds WHERE media_id = ? AND "
                                "released_at IS NULL", (media_id,)).fetchone() is not None
            self.ledger.append_event(conn, "case_unlinked", f"case:{case_id}", {
                "case_id": case_id, "media_id": media_id, "link_id": old["id"],
                "kind": old["kind"], "by": by, "reason": reason,
                "hold_kept": held and not release_hold})
        if held and release_hold:
            self.holds.release(media_id, by, reason)
        return UnlinkResult(media_id, old["kind"], held and not release_hold)

    # -- the automatic rule ------------------------------------------------------------------

    def auto_link(self, case_ids: list[str] | None = None) -> int:
        """Link each case officer's recordings made inside the case's window.

        A recording a person unlinked from a case is never linked to it again by the rule."""
        if self.auto_link_mode == "off":
            return 0
        conn = self.ledger.reader()
        cases = self.cases() if case_ids is None else [self.case(c) for c in case_ids]
        linked = 0
        for case in cases:
            if not case["officers"]:
                continue
            marks = ",".join("?" * len(case["officers"]))
            rows = conn.execute(
                f"SELECT id FROM media WHERE officer_id IN ({marks}) AND recorded_at >= ? AND "
                "recorded_at <= ? AND id NOT IN (SELECT media_id FROM case_links WHERE "
                "case_id = ?) ORDER BY recorded_at, id",
                (*case["officers"], case["start_at"], case["end_at"], case["case_id"]),
            ).fetchall()
            if not rows:
                continue
            ids = [r["id"] for r in rows]
            note = (f"recorded by a case officer inside the case window "
                    f"{case['start_at']} .. {case['end_at']}")
            linked += len(self.link(case["case_id"], ids, kind=self.auto_link_mode, note=note,
                                    by=AUTO_LINKER))
        return linked
