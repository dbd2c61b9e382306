"""Custody: people, sensitivity, access requests and time-stamped heads (part of SqliteLedger).

The rules (who may approve, what a clearance covers, when a request has expired) live in
daemon/custody/; these methods read the rows those rules need and write each decision with
its chained event (FORMATS.md, "Custody").  Views, exports and refusals change no table:
they are stand-alone events written with ``record`` and read back with ``access_events``.
"""

from __future__ import annotations

import json

from evidock.daemon.errors import InvalidTransition, NotFound

#: Events of the access log (``evidock access log``), in the chain.
ACCESS_KINDS = ("access_requested", "access_approved", "access_denied", "access_viewed",
                "case_exported", "access_refused")

_PERSON_COLUMNS = ("person_id, name, role, unit, os_user, clearance, active, registered_by, "
                   "registered_at, updated_at")


def _request(row) -> dict:
    doc = dict(row)
    doc["media"] = json.loads(doc["media"]) if doc["media"] is not None else None
    return doc


class CustodyMixin:
    # -- people ------------------------------------------------------------------------------

    def person(self, person_id: str) -> dict | None:
        row = self._one(f"SELECT {_PERSON_COLUMNS} FROM people WHERE person_id = ?",
                        (person_id,))
        return dict(row) if row else None

    def people(self) -> list[dict]:
        return [dict(r) for r in self._rows(f"SELECT {_PERSON_COLUMNS} FROM people ORDER BY "
                                            "person_id")]

    def people_count(self) -> int:
        return self._one("SELECT COUNT(*) AS n FROM people")["n"]

    def register_person(self, values: dict, *, by: str) -> bool:
        """Add a person (``person_id``, name, role, unit, os_user, clearance) or change the
        fields given of one already registered; False (no event) when nothing changed."""
        with self._transaction() as conn:
            old = conn.execute(f"SELECT {_PERSON_COLUMNS} FROM people WHERE person_id = ?",
                               (values["person_id"],)).fetchone()
            if old is None:
                self._emit(conn, "person_registered", f"person:{values['person_id']}", {
                    **values, "registered_by": by, "registered_at": self.now()})
                return True
            changed = {k: v for k, v in values.items() if old[k] != v}
            if not changed:
                return False
            self._emit(conn, "person_updated", f"person:{values['person_id']}", {
                "person_id": values["person_id"], "changed": changed,
                "before": {k: old[k] for k in changed}, "by": by, "updated_at": self.now()})
        return True

    def set_credential(self, person_id: str, credential: str, *, by: str) -> None:
        """Keep ``credential`` (a password hash) for a registered person and chain the fact
        (``person_password_set``, without the hash: FORMATS.md, "Review room logins")."""
        with self._transaction() as conn:
            if conn.execute("SELECT 1 FROM people WHERE person_id = ?",
                            (person_id,)).fetchone() is None:
                raise NotFound(f"no person {person_id} in the registry",
                               hint="register them first: evidock people add")
            at = self.now()
            self._emit(conn, "person_password_set", f"person:{person_id}",
                       {"person_id": person_id, "by": by, "set_at": at})
            conn.execute("INSERT INTO person_credentials (person_id, hash, set_by, set_at) "
                         "VALUES (?, ?, ?, ?) ON CONFLICT (person_id) DO UPDATE SET "
                         "hash = excluded.hash, set_by = excluded.set_by, "
                         "set_at = excluded.set_at", (person_id, credential, by, at))

    def credential(self, person_id: str) -> str | None:
        """The password hash kept for ``person_id``, or None (no login yet)."""
        row = self._one("SELECT hash FROM person_credentials WHERE person_id = ?",
                        (person_id,))
        return row["hash"] if row else None

    # -- sensitivity -------------------------------------------------------------------------

    def set_media_sensitivity(self, media_id: int, label: str, *, by: str,
                              reason: str) -> bool:
        """Mark a recording; False (no event) when it already carries ``label``."""
        with self._transaction() as conn:
            if conn.execute("SELECT 1 FROM media WHERE id = ?", (media_id,)).fetchone() is None:
                raise NotFound(f"no recording with id {media_id} in the ledger")
            row = conn.execute("SELECT label FROM media_sensitivity WHERE media_id = ?",
                               (media_id,)).fetchone()
            if row is not None and row["label"] == label:
                return False
            self._emit(conn, "media_sensitivity_set", f"media:{media_id}", {
                "media_id": media_id, "label": label, "was": row["label"] if row else None,
                "by": by, "reason": reason, "set_at": self.now()})
        return True

    def set_case_sensitivity(self, case_id: str, label: str, *, by: str, reason: str) -> bool:
        with self._transaction() as conn:
            row = conn.execute("SELECT sensitivity FROM cases WHERE case_id = ?",
                               (case_id,)).fetchone()
            if row is None:
                raise NotFound(f"no case {case_id} in the ledger",
                               hint="import it first with `evidock cases import FILE`")
            if row["sensitivity"] == label:
                return False
            self._emit(conn, "case_sensitivity_set", f"case:{case_id}", {
                "case_id": case_id, "label": label, "was": row["sensitivity"], "by": by,
                "reason": reason, "set_at": self.now()})
        return True

    def media_labels(self) -> dict[int, set[str]]:
        """Every recording that carries a sensitivity, its own or through a case it is linked
        to (links not removed): media id -> labels."""
        labels: dict[int, set[str]] = {}
        for r in self._rows(
                "SELECT media_id, label FROM media_sensitivity UNION "
                "SELECT l.media_id, c.sensitivity FROM case_links l JOIN cases c ON "
                "c.case_id = l.case_id WHERE l.unlinked_at IS NULL"):
            labels.setdefault(r["media_id"], set()).add(r["label"])
        return labels

    def case_media(self, case_id: str) -> list[int]:
        """The recordings linked to a case now (links not removed), by id."""
        return [r["media_id"] for r in self._rows(
            "SELECT DISTINCT media_id FROM case_links WHERE case_id = ? AND unlinked_at IS NULL "
            "ORDER BY media_id", (case_id,))]

    # -- access requests ---------------------------------------------------------------------

    def add_access_request(self, values: dict) -> int:
        """A new pending request (case_id, requested_by, purpose, scope, media); its id."""
        with self._transaction() as conn:
            request_id = self._next_id(conn, "access_requests")
            self._emit(conn, "access_requested", f"case:{values['case_id']}", {
                **values, "request_id": request_id, "requested_at": self.now()})
        return request_id

    def decide_access_request(self, request_id: int, *, approve: bool, by: str, reason: str,
                              expires_at: str | None) -> dict:
        """pending -> approved (with ``expires_at``) or denied; the request as it now is."""
        with self._transaction() as conn:
            row = conn.execute("SELECT * FROM access_requests WHERE id = ?",
                               (request_id,)).fetchone()
            if row is None:
                raise NotFound(f"no access request {request_id}",
                               hint="list them with `evidock access log`")
            if row["state"] != "pending":
                raise InvalidTransition(f"access request {request_id} is already "
                                        f"{row['state']} (by {row['decided_by']})")
            kind = "access_approved" if approve else "access_denied"
            self._emit(conn, kind, f"case:{row['case_id']}", {
                "request_id": request_id, "case_id": row["case_id"], "by": by,
                "reason": reason, "expires_at": expires_at if approve else None,
                "decided_at": self.now()})
        return self.access_request(request_id)

    def access_request(self, request_id: int) -> dict:
        row = self._one("SELECT * FROM access_requests WHERE id = ?", (request_id,))
        if row is None:
            raise NotFound(f"no access request {request_id}",
                           hint="list them with `evidock access log`")
        return _request(row)

    def access_requests(self, *, case_id: str | None = None) -> list[dict]:
        sql, params = "SELECT * FROM access_requests", []
        if case_id is not None:
            sql, params = sql + " WHERE case_id = ?", [case_id]
        return [_request(r) for r in self._rows(sql + " ORDER BY id", params)]

    def access_events(self, *, since: str | None = None) -> list[dict]:
        """Every access-log event (requests, decisions, views, exports, refusals) in chain
        order, as ``{seq, at, kind, subject, hash, **data}``."""
        return [{"seq": e.seq, "at": e.at, "kind": e.kind, "subject": e.subject,
                 "hash": e.hash, **json.loads(e.data)}
                for e in self.events(kinds=ACCESS_KINDS, since=since)]

    # -- time stamps -------------------------------------------------------------------------

    def add_timestamp(self, *, seq: int, head_hash: str, tsa: str, token: str,
                      gen_time: str, late: bool) -> None:
        """Record an RFC 3161 token over event ``seq``'s hash (``late``: the head had waited
        for an authority that was down)."""
        with self._transaction() as conn:
            self._emit(conn, "ledger_timestamped", f"event:{seq}", {
                "seq": seq, "head_hash": head_hash, "tsa": tsa, "token": token,
                "gen_time": gen_time, "late": late, "stamped_at": self.now()})

    def timestamps(self) -> list[dict]:
        return [dict(r) for r in self._rows("SELECT * FROM timestamps ORDER BY seq")]
