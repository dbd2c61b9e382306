"""Projectors of the custody events (schema 10): people, sensitivity, access requests and
time-stamped heads.  Registered into projection.PROJECTORS when projection.py is imported."""

from __future__ import annotations

import json

from evidock.daemon.ledger.projection import Applied, _insert, _update, projects

_PERSON_FIELDS = ("name", "role", "unit", "os_user", "clearance", "active")


@projects("person_registered")
def _person_registered(conn, a: Applied) -> None:
    d = a.d
    _insert(conn, "people", {
        "person_id": d["person_id"], **{k: d.get(k) for k in _PERSON_FIELDS if k in d},
        "registered_by": d["registered_by"], "registered_at": d["registered_at"]})


@projects("person_updated")
def _person_updated(conn, a: Applied) -> None:
    d = a.d
    _update(conn, "people", "person_id", d["person_id"],
            {**d["changed"], "updated_at": d["updated_at"]})


@projects("media_sensitivity_set")
def _media_sensitivity(conn, a: Applied) -> None:
    d = a.d
    _insert(conn, "media_sensitivity", {
        "media_id": d["media_id"], "label": d["label"], "reason": d["reason"],
        "set_by": d["by"], "set_at": d["set_at"]}, upsert_on="media_id")


@projects("case_sensitivity_set")
def _case_sensitivity(conn, a: Applied) -> None:
    d = a.d
    _update(conn, "cases", "case_id", d["case_id"],
            {"sensitivity": d["label"], "updated_at": d["set_at"]})


@projects("access_requested")
def _access_requested(conn, a: Applied) -> None:
    d = a.d
    _insert(conn, "access_requests", {
        "id": d["request_id"], "case_id": d["case_id"], "requested_by": d["requested_by"],
        "purpose": d["purpose"], "scope": d["scope"],
        "media": None if d["media"] is None else json.dumps(d["media"]),
        "requested_at": d["requested_at"], "state": "pending"})


@projects("access_approved", "access_denied")
def _access_decided(conn, a: Applied) -> None:
    d = a.d
    _update(conn, "access_requests", "id", d["request_id"], {
        "state": "approved" if a.ev.kind == "access_approved" else "denied",
        "decided_by": d["by"], "decided_at": d["decided_at"], "decision_reason": d["reason"],
        "expires_at": d["expires_at"]})


@projects("ledger_timestamped")
def _timestamped(conn, a: Applied) -> None:
    d = a.d
    _insert(conn, "timestamps", {k: d[k] for k in ("seq", "head_hash", "tsa", "token",
                                                   "gen_time", "stamped_at")})
