"""Cases, case links, legal holds, retention and duty exemptions (part of SqliteLedger).

The domain rules (what to link, which hold to place, what a deadline becomes) live in
daemon/cases/ and daemon/exemptions.py; these methods read the rows those rules need and
write each decision with its event.
"""

from __future__ import annotations

import json
from datetime import datetime

from evidock.daemon.errors import EvidockError, NotFound
from evidock.daemon.ledger.records import FINISHED_SQL
from evidock.daemon.timeutil import stamp

_CASE_COLUMNS = ("case_id, type, officers, subject, start_at, end_at, status, closed_at, "
                 "sensitivity, imported_at, updated_at")
_EXEMPTION_COLUMNS = ("id, officer_id, device_serial, start_at, end_at, reason, note, "
                      "registered_by, registered_at, withdrawn_at, withdrawn_by, "
                      "withdraw_reason, corrected_at, corrected_by, correct_reason")
_EXEMPTION_FIELDS = ("officer_id", "device_serial", "start_at", "end_at", "reason", "note")
CANDIDATE, EVIDENCE = "candidate", "evidence"


def hold_state(row: dict) -> str:
    """``none``, ``pending`` (requested, the store has not confirmed it), ``placed`` or
    ``released``: the recording's legal hold as the ledger knows it."""
    if row.get("hold_requested_at") is None:
        return "none"
    if row.get("hold_released_at") is not None:
        return "released"
    return "placed" if row.get("hold_placed_at") else "pending"


def _case(row) -> dict:
    return {**dict(row), "officers": json.loads(row["officers"])}


class CaseworkMixin:
    # -- cases -------------------------------------------------------------------------------

    def case(self, case_id: str) -> dict | None:
        """The case (``officers`` as a list), or None."""
        row = self._one(f"SELECT {_CASE_COLUMNS} FROM cases WHERE case_id = ?", (case_id,))
        return _case(row) if row else None

    def cases(self, *, status: str | None = None) -> list[dict]:
        sql, params = f"SELECT {_CASE_COLUMNS} FROM cases", []
        if status:
            sql, params = sql + " WHERE status = ?", [status]
        return [_case(r) for r in self._rows(sql + " ORDER BY case_id", params)]

    def import_cases(self, cases: list[dict], *, by: str, source: str) -> tuple[int, int, int]:
        """Add or update cases (``case_id`` plus the columns of ``cases``, ``officers`` as
        JSON text), all in one transaction; returns ``(added, updated, unchanged)``.  An
        unchanged case writes no event."""
        added = updated = unchanged = 0
        with self._transaction() as conn:
            now = self.now()
            for values in cases:
                case_id = values["case_id"]
                fields = {k: v for k, v in values.items() if k != "case_id"}
                old = conn.execute(f"SELECT {_CASE_COLUMNS} FROM cases WHERE case_id = ?",
                                   (case_id,)).fetchone()
                if old is None:
                    self._emit(conn, "case_imported", f"case:{case_id}", {
                        **fields, "case_id": case_id, "by": by, "source": source,
                        "imported_at": now})
                    added += 1
                    continue
                changed = {k: v for k, v in fields.items() if old[k] != v}
                if not changed:
                    unchanged += 1
                    continue
                self._emit(conn, "case_updated", f"case:{case_id}", {
                    "case_id": case_id, "changed": changed,
                    "before": {k: old[k] for k in changed}, "by": by, "source": source,
                    "updated_at": now})
                updated += 1
        return added, updated, unchanged

    # -- links -------------------------------------------------------------------------------

    def case_links(self, case_id: str, *, include_unlinked: bool = False) -> list[dict]:
        """The case's links with their recordings and whether a hold is placed."""
        sql = ("SELECT l.id, l.media_id, l.kind, l.note, l.linked_by, l.linked_at, "
               "l.unlinked_by, l.unlinked_at, l.unlink_reason, m.device_serial, m.officer_id, "
               "m.recorded_at, m.source_path, m.size, m.state, m.blake3, m.retain_until, "
               "h.placed_at AS hold_placed_at, h.released_at AS hold_released_at, "
               "h.released_by AS hold_released_by, h.release_reason AS hold_release_reason, "
               "h.requested_at AS hold_requested_at FROM case_links l "
               "JOIN media m ON m.id = l.media_id "
               "LEFT JOIN legal_holds h ON h.media_id = l.media_id WHERE l.case_id = ?")
        if not include_unlinked:
            sql += " AND l.unlinked_at IS NULL"
        rows = [dict(r) for r in self._rows(sql + " ORDER BY m.recorded_at, l.id", (case_id,))]
        for row in rows:
            row["hold_state"] = hold_state(row)
            if row["hold_state"] != "placed":  # the old key meant "placed and not released"
                row["hold_placed_at"] = None
        return rows

    def media_links(self, media_id: int) -> list[dict]:
        """The cases a recording is linked to now: case_id, kind, note, linked_by, linked_at."""
        return [dict(r) for r in self._rows(
            "SELECT case_id, kind, note, linked_by, linked_at FROM case_links WHERE media_id = ? "
            "AND unlinked_at IS NULL ORDER BY linked_at, id", (media_id,))]

    def link_media(self, case_id: str, media_ids: list[int], *, kind: str, note: str,
                   by: str) -> list[int]:
        """Link recordings to a case in one transaction; an evidence link also requests the
        recording's legal hold.  A recording already linked as ``kind``, or as evidence, is
        left alone (a link is never downgraded here).  Returns the ids linked or upgraded."""
        if kind not in (CANDIDATE, EVIDENCE):
            raise EvidockError(f"link kind {kind!r} is neither candidate nor evidence")
        changed = []
        with self._transaction() as conn:
            now = self.now()
            for media_id in media_ids:
                old = conn.execute(
                    "SELECT id, kind FROM case_links WHERE case_id = ? AND media_id = ? AND "
                    "unlinked_at IS NULL", (case_id, media_id)).fetchone()
                if old is not None and (old["kind"] == kind or kind == CANDIDATE):
                    continue
                data = {"case_id": case_id, "media_id": media_id, "kind": kind,
                        "note": note or "", "by": by, "linked_at": now}
                if old is not None:
                    self._emit(conn, "case_link_upgraded", f"case:{case_id}",
                               {**data, "link_id": old["id"], "was": old["kind"]})
                else:
                    self._emit(conn, "case_linked", f"case:{case_id}",
                               {**data, "link_id": self._next_id(conn, "case_links")})
                if kind == EVIDENCE:
                    self._request_hold(conn, media_id, case_id, by)
                changed.append(media_id)
        return changed

    def _request_hold(self, conn, media_id: int, case_id: str, by: str) -> bool:
        row = conn.execute("SELECT released_at FROM legal_holds WHERE media_id = ?",
                           (media_id,)).fetchone()
        if row is not None and row["released_at"] is None:
            return False
        self._emit(conn, "legal_hold_requested", f"media:{media_id}", {
            "media_id": media_id, "case_id": case_id, "by": by, "requested_at": self.now()})
        return True

    def unlink_media(self, case_id: str, media_id: int, *, by: str, reason: str,
                     keep_hold: bool) -> tuple[str, bool]:
        """Mark the active link unlinked (the row stays); returns ``(kind it had, whether
        the recording is under an active hold)``.  ``keep_hold`` is what the event records
        as ``hold_kept``; releasing is :meth:`release_hold`."""
        with self._transaction() as conn:
            old = conn.execute("SELECT id, kind FROM case_links WHERE case_id = ? AND "
                               "media_id = ? AND unlinked_at IS NULL",
                               (case_id, media_id)).fetchone()
            if old is None:
                raise NotFound(f"recording {media_id} is not linked to case {case_id}")
            held = conn.execute("SELECT 1 FROM legal_holds WHERE media_id = ? AND "
                                "released_at IS NULL", (media_id,)).fetchone() is not None
            self._emit(conn, "case_unlinked", f"case:{case_id}", {
                "case_id": case_id, "media_id": media_id, "link_id": old["id"],
                "kind": old["kind"], "by": by, "reason": reason,
                "hold_kept": held and keep_hold, "unlinked_at": self.now()})
        return old["kind"], held

    def evidence_cases(self, media_id: int, *, besides: str | None = None) -> list[dict]:
        """The cases (``case_id``, ``type``) the recording is active evidence in."""
        rows = self._rows(
            "SELECT DISTINCT c.case_id, c.type FROM case_links l JOIN cases c ON "
            "c.case_id = l.case_id WHERE l.media_id = ? AND l.kind = 'evidence' AND "
            "l.unlinked_at IS NULL ORDER BY c.case_id", (media_id,))
        return [dict(r) for r in rows if r["case_id"] != besides]

    def never_linked(self, case_id: str, officers: list[str], start_at: str,
                     end_at: str) -> list[int]:
        """Recordings of these officers inside the window never linked to the case (a link
        a person removed counts as linked: the rule does not bring it back)."""
        if not officers:
            return []
        marks = ",".join("?" * len(officers))
        return [r["id"] for r in self._rows(
            f"SELECT id FROM media WHERE officer_id IN ({marks}) AND recorded_at >= ? AND "
            "recorded_at <= ? AND id NOT IN (SELECT media_id FROM case_links WHERE "
            "case_id = ?) ORDER BY recorded_at, id", (*officers, start_at, end_at, case_id))]

    def case_progress(self, case_id: str) -> dict[str, int]:
        """Links of a case: ``active``, ``unreviewed`` (candidates), ``not_handed_over``."""
        row = self._one(
            "SELECT COUNT(*) AS active, "
            "COALESCE(SUM(CASE WHEN l.kind = 'candidate' THEN 1 ELSE 0 END), 0) AS unreviewed, "
            f"COALESCE(SUM(CASE WHEN m.state NOT IN {FINISHED_SQL} THEN 1 ELSE 0 END), 0) "
            "AS not_handed_over FROM case_links l JOIN media m ON m.id = l.media_id "
            "WHERE l.case_id = ? AND l.unlinked_at IS NULL", (case_id,))
        return dict(row)

    def evidence_expiring(self, before: datetime) -> list[dict]:
        """Evidence links of open cases whose recording's retention ends by ``before``."""
        return [dict(r) for r in self._rows(
            "SELECT l.media_id, l.case_id, m.retain_until FROM case_links l "
            "JOIN cases c ON c.case_id = l.case_id JOIN media m ON m.id = l.media_id "
            "WHERE l.kind = 'evidence' AND l.unlinked_at IS NULL AND c.status = 'open' "
            "AND m.retain_until IS NOT NULL AND m.retain_until <= ? ORDER BY l.media_id",
            (stamp(before),))]

    # -- holds and retention -----------------------------------------------------------------

    def hold(self, media_id: int) -> dict | None:
        """The active hold row of a recording, or None."""
        row = self._one("SELECT * FROM legal_holds WHERE media_id = ? AND released_at IS NULL",
                        (media_id,))
        return dict(row) if row else None

    def pending_holds(self) -> list[int]:
        """Recordings with a stored copy whose requested hold the store has not confirmed."""
        return [r["media_id"] for r in self._rows(
            "SELECT h.media_id FROM legal_holds h JOIN media m ON m.id = h.media_id "
            "WHERE h.released_at IS NULL AND h.placed_at IS NULL AND m.object_key IS NOT NULL "
            "ORDER BY h.media_id")]

    def record_hold_placed(self, media_id: int, *, object_key: str, store: str) -> bool:
        """The store confirmed the hold; False (no event) if it was already recorded."""
        with self._transaction() as conn:
            row = conn.execute("SELECT case_id, placed_at FROM legal_holds WHERE media_id = ? "
                               "AND released_at IS NULL", (media_id,)).fetchone()
            if row is None or row["placed_at"] is not None:
                return False
            self._emit(conn, "legal_hold_placed", f"media:{media_id}", {
                "media_id": media_id, "object_key": object_key, "store": store,
                "case_id": row["case_id"], "placed_at": self.now()})
        return True

    def record_hold_released(self, media_id: int, *, by: str, reason: str,
                             object_key: str | None) -> bool:
        """The hold was lifted by name; False (no event) if none was active."""
        with self._transaction() as conn:
            if conn.execute("SELECT 1 FROM legal_holds WHERE media_id = ? AND released_at IS "
                            "NULL", (media_id,)).fetchone() is None:
                return False
            self._emit(conn, "legal_hold_released", f"media:{media_id}", {
                "media_id": media_id, "by": by, "reason": reason, "object_key": object_key,
                "released_at": self.now()})
        return True

    def record_retention(self, media_id: int, *, object_key: str, retain_until: datetime,
                         required: datetime) -> None:
        """The store now keeps the recording until ``retain_until`` (only ever later)."""
        with self._transaction() as conn:
            self._emit(conn, "retention_extended", f"media:{media_id}", {
                "media_id": media_id, "object_key": object_key,
                "retain_until": stamp(retain_until), "required": stamp(required)})

    # -- duty exemptions ---------------------------------------------------------------------

    def add_exemption(self, values: dict) -> int:
        """Register an exemption (officer_id, device_serial, start_at, end_at, reason, note,
        registered_by); returns its id."""
        with self._transaction() as conn:
            exemption_id = self._next_id(conn, "exemptions")
            self._emit(conn, "exemption_registered", f"exemption:{exemption_id}",
                       {**values, "exemption_id": exemption_id, "registered_at": self.now()})
        return exemption_id

    def exemption(self, exemption_id: int) -> dict:
        row = self._one(f"SELECT {_EXEMPTION_COLUMNS} FROM exemptions WHERE id = ?",
                        (exemption_id,))
        if row is None:
            raise NotFound(f"no exemption with id {exemption_id}")
        return dict(row)

    def exemptions(self, *, active_at: datetime | None = None,
                   include_withdrawn: bool = False) -> list[dict]:
        """Exemptions in force (withdrawn ones only when asked), optionally those covering
        ``active_at``."""
        where, params = [], []
        if not include_withdrawn:
            where.append("withdrawn_at IS NULL")
        if active_at is not None:
            where.append("start_at <= ? AND end_at >= ?")
            params = [stamp(active_at)] * 2
        sql = f"SELECT {_EXEMPTION_COLUMNS} FROM exemptions"
        if where:
            sql += " WHERE " + " AND ".join(where)
        return [dict(r) for r in self._rows(sql + " ORDER BY id", params)]

    def withdraw_exemption(self, exemption_id: int, *, by: str, reason: str) -> None:
        """``exemption_withdrawn``: it no longer moves any deadline (the row stays)."""
        with self._transaction() as conn:
            row = self._exemption_row(conn, exemption_id)
            if row["withdrawn_at"] is not None:
                raise EvidockError(f"exemption {exemption_id} was already withdrawn "
                                   f"({row['withdrawn_at']} by {row['withdrawn_by']})")
            self._emit(conn, "exemption_withdrawn", f"exemption:{exemption_id}", {
                "exemption_id": exemption_id, "by": by, "reason": reason,
                "withdrawn_at": self.now()})

    def correct_exemption(self, exemption_id: int, changes: dict, *, by: str,
                          reason: str) -> dict:
        """``exemption_corrected`` with the fields changed and what they were; returns the
        changed fields (none: no event)."""
        with self._transaction() as conn:
            row = self._exemption_row(conn, exemption_id)
            if row["withdrawn_at"] is not None:
                raise EvidockError(f"exemption {exemption_id} was withdrawn: it cannot be "
                                   "corrected", hint="register a new exemption")
            changed = {k: v for k, v in changes.items()
                       if k in _EXEMPTION_FIELDS and row[k] != v}
            if not changed:
                return {}
            after = {**dict(row), **changed}
            if not (after["officer_id"] or after["device_serial"]):
                raise EvidockError("an exemption names an officer or a device")
            if after["end_at"] <= after["start_at"]:
                raise EvidockError(f"the exemption would end ({after['end_at']}) before it "
                                   f"starts ({after['start_at']})")
            self._emit(conn, "exemption_corrected", f"exemption:{exemption_id}", {
                "exemption_id": exemption_id, "changed": changed,
                "before": {k: row[k] for k in changed}, "by": by, "reason": reason,
                "corrected_at": self.now()})
        return changed

    def _exemption_row(self, conn, exemption_id: int):
        row = conn.execute(f"SELECT {_EXEMPTION_COLUMNS} FROM exemptions WHERE id = ?",
                           (exemption_id,)).fetchone()
        if row is None:
            raise NotFound(f"no exemption with id {exemption_id}")
        return row

    def recompute_deadline(self, media_id: int, deadline_at: datetime, *, cause: str,
                           exemption_id: int | None) -> bool:
        """``deadline_recomputed``: set the deadline again after an exemption was withdrawn
        or corrected (it may move earlier); False (no event) when unchanged."""
        new = stamp(deadline_at)
        with self._transaction() as conn:
            row = conn.execute("SELECT deadline_at FROM media WHERE id = ?",
                               (media_id,)).fetchone()
            if row is None:
                raise NotFound(f"no recording with id {media_id} in the ledger")
            if new == row["deadline_at"]:
                return False
            self._emit(conn, "deadline_recomputed", f"media:{media_id}", {
                "media_id": media_id, "deadline_at": new, "was": row["deadline_at"],
                "cause": cause, "exemption_id": exemption_id})
        return True

    def media_for_exemption(self, *, officer_id: str | None, device_serial: str | None,
                            start_at: str, end_at: str) -> list:
        """Recordings of that officer or device made inside the span, any state."""
        from evidock.daemon.ledger.records import MediaRecord

        return [MediaRecord(**dict(r)) for r in self._rows(
            f"SELECT {MediaRecord.COLUMNS} FROM media WHERE (officer_id = ? OR "
            "device_serial = ?) AND recorded_at >= ? AND recorded_at <= ? ORDER BY id",
            (officer_id, device_serial, start_at, end_at))]

    # -- R10: why a full-process case has no footage -------------------------------------------

    def record_no_footage(self, case_id: str, *, reason: str, by: str, approver: str) -> None:
        """``case_no_footage_recorded``: why the case has no recording, who says so and who
        approved it (a new record replaces the old, both stay in the chain)."""
        with self._transaction() as conn:
            if conn.execute("SELECT 1 FROM cases WHERE case_id = ?",
                            (case_id,)).fetchone() is None:
                raise NotFound(f"no case {case_id!r} in the ledger",
                               hint="import it first with `evidock cases import FILE`")
            self._emit(conn, "case_no_footage_recorded", f"case:{case_id}", {
                "case_id": case_id, "reason": reason, "by": by, "approver": approver,
                "recorded_at": self.now()})

    def no_footage(self, case_id: str) -> dict | None:
        row = self._one("SELECT case_id, reason, recorded_by, approver, recorded_at FROM "
                        "case_no_footage WHERE case_id = ?", (case_id,))
        return dict(row) if row else None

    def move_deadline(self, media_id: int, deadline_at: datetime, *, exemption_id: int) -> bool:
        """Move a recording's handover deadline later; False (no event) if it is not later."""
        new = stamp(deadline_at)
        with self._transaction() as conn:
            row = conn.execute("SELECT deadline_at FROM media WHERE id = ?",
                               (media_id,)).fetchone()
            if row is None:
                raise NotFound(f"no recording with id {media_id} in the ledger")
            if new <= row["deadline_at"]:
                return False
            self._emit(conn, "deadline_moved", f"media:{media_id}", {
                "media_id": media_id, "deadline_at": new, "was": row["deadline_at"],
                "exemption_id": exemption_id})
        return True
