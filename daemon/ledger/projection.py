"""The tables as a projection of the chain: one projector per event kind.

A write method builds an event whose data carries every value it sets (ids included) and
the table change is made only by applying that event here, in the same transaction.
``verify`` replays every event through the same projectors into a fresh database and
compares the two, column by column, so a row edited, added or removed behind the ledger's
back is named.  Events without a projector (daemon_started, check_failed ...) change no
table.

Events written before schema 6 did not always carry the times they set (``started_at``,
``raised_at`` ...): the row's time was read from the clock a few microseconds apart from
the event's ``at``.  For those the projector takes ``at`` and marks the column *loose*, and
``verify`` accepts a row time within :data:`LOOSE_SECONDS` of it (see FORMATS.md).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field

from evidock.daemon.ledger.records import Event

#: Every projected table and its key (the ``ORDER BY`` of a comparison).
TABLES: dict[str, str] = {
    "devices": "serial", "media": "id", "attempts": "id", "cases": "case_id",
    "case_links": "id", "legal_holds": "media_id", "exemptions": "id", "alerts": "id",
    "fixity": "media_id", "late_handovers": "media_id", "media_probe": "media_id",
    "derivatives": "id", "case_no_footage": "case_id", "people": "person_id",
    "media_sensitivity": "media_id", "access_requests": "id", "timestamps": "seq",
    "fingerprints": "media_id", "fingerprint_bands": "band",
}
LOOSE_SECONDS = 1.0


@dataclass
class Applied:
    """One event as its projector sees it."""

    ev: Event
    d: dict
    loose: set | None = field(default=None)

    @property
    def at(self) -> str:
        return self.ev.at

    def time(self, name: str, table: str, key, column: str | None = None) -> str:
        """The time the event gives as ``name``, else (an older event) its ``at``, loose."""
        if self.d.get(name) is not None:
            return self.d[name]
        if self.loose is not None:
            self.loose.add((table, str(key), column or name))
        return self.at


Projector = Callable[[object, Applied], None]
PROJECTORS: dict[str, Projector] = {}


def projects(*kinds: str):
    def register(fn: Projector) -> Projector:
        for kind in kinds:
            PROJECTORS[kind] = fn
        return fn
    return register


def apply(conn, ev: Event, loose: set | None = None) -> None:
    """Apply one event to the tables (nothing for a kind that projects nothing)."""
    fn = PROJECTORS.get(ev.kind)
    if fn is not None:
        fn(conn, Applied(ev, json.loads(ev.data), loose))


def _update(conn, table: str, key: str, value, values: dict) -> None:
    sets = ", ".join(f"{column} = ?" for column in values)
    conn.execute(f"UPDATE {table} SET {sets} WHERE {key} = ?", (*values.values(), value))


def _insert(conn, table: str, values: dict, *, upsert_on: str | None = None) -> None:
    cols = ", ".join(values)
    sql = f"INSERT INTO {table} ({cols}) VALUES ({', '.join('?' * len(values))})"
    if upsert_on is not None:
        sql += f" ON CONFLICT ({upsert_on}) DO UPDATE SET " + ", ".join(
            f"{c} = excluded.{c}" for c in values if c != upsert_on)
    conn.execute(sql, tuple(values.values()))


# -- devices ---------------------------------------------------------------------------------

_DEVICE_FIELDS = ("model", "vendor", "officer_id", "officer_name", "unit")


@projects("device_seen")
def _device_seen(conn, a: Applied) -> None:
    d = a.d
    _insert(conn, "devices", {
        "serial": d["serial"], **{k: d.get(k) for k in _DEVICE_FIELDS}, "source": d["source"],
        "registered": int(bool(d.get("registered", False))),
        "first_seen_at": a.time("first_seen_at", "devices", d["serial"])})


@projects("device_assigned")
def _device_assigned(conn, a: Applied) -> None:
    d = a.d
    exists = conn.execute("SELECT 1 FROM devices WHERE serial = ?", (d["serial"],)).fetchone()
    if exists is None:
        _insert(conn, "devices", {"serial": d["serial"], "source": "registry", "registered": 1,
                                  "first_seen_at": a.time("first_seen_at", "devices",
                                                          d["serial"])})
    _update(conn, "devices", "serial", d["serial"],
            {"registered": 1, **{k: d[k] for k in _DEVICE_FIELDS if k in d}})


@projects("device_docked")
def _device_docked(conn, a: Applied) -> None:
    _update(conn, "devices", "serial", a.d["serial"],
            {"last_dock_at": a.d["at"], "last_port": a.d["port"]})


@projects("device_undocked")
def _device_undocked(conn, a: Applied) -> None:
    _update(conn, "devices", "serial", a.d["serial"], {"last_undock_at": a.d["at"]})


# -- media and attempts ----------------------------------------------------------------------


@projects("media_seen")
def _media_seen(conn, a: Applied) -> None:
    d = a.d
    _insert(conn, "media", {
        "id": d["media_id"], "device_serial": d["device_serial"], "officer_id": d["officer_id"],
        "source_path": d["source_path"], "source_path_raw": bytes.fromhex(d["source_path_raw"]),
        "size": d["size"], "mtime_ns": d["mtime_ns"], "kind": d["kind"],
        "recorded_at": d["recorded_at"], "deadline_at": d["deadline_at"],
        "found_at": d["found_at"], "state": "seen", "attempts": 0,
        "clock_offset_s": d.get("clock_offset_s"), "flags": d.get("flags", "")})


@projects("attempt_started")
def _attempt_started(conn, a: Applied) -> None:
    d = a.d
    conn.execute("UPDATE media SET state = 'copying', attempts = attempts + 1, retry_at = NULL "
                 "WHERE id = ?", (d["media_id"],))
    _insert(conn, "attempts", {
        "id": d["attempt_id"], "media_id": d["media_id"],
        "station": d.get("station", a.ev.station),
        "started_at": a.time("started_at", "attempts", d["attempt_id"])})


@projects("media_stored")
def _media_stored(conn, a: Applied) -> None:
    d = a.d
    _update(conn, "media", "id", d["media_id"], {
        "state": "stored", **{k: d[k] for k in ("blake3", "sha256", "store", "object_key",
                                                "retain_until")},
        "version_id": d.get("version_id")})
    if d.get("attempt_id") is not None:
        _update(conn, "attempts", "id", d["attempt_id"], {"bytes": d["size"]})


@projects("media_verified")
def _media_verified(conn, a: Applied) -> None:
    d = a.d
    _update(conn, "media", "id", d["media_id"],
            {"state": "verified", "ingested_at": d["ingested_at"], "last_error": None})
    if d.get("attempt_id") is not None:
        _update(conn, "attempts", "id", d["attempt_id"],
                {"ended_at": d["ingested_at"], "outcome": "verified"})


@projects("attempt_failed")
def _attempt_failed(conn, a: Applied) -> None:
    d = a.d
    _update(conn, "media", "id", d["media_id"],
            {"state": "failed", "retry_at": d["retry_at"], "last_error": d["error"]})
    if d.get("attempt_id") is not None:
        _update(conn, "attempts", "id", d["attempt_id"], {
            "ended_at": a.time("ended_at", "attempts", d["attempt_id"]), "outcome": "failed",
            "error": d["error"]})


@projects("media_superseded")
def _media_superseded(conn, a: Applied) -> None:
    d = a.d
    _update(conn, "media", "id", d["media_id"], {
        "state": "superseded", "superseded_by": d["by_media_id"], "retry_at": None,
        "last_error": d["reason"]})


@projects("attempt_interrupted")
def _attempt_interrupted(conn, a: Applied) -> None:
    d = a.d
    _update(conn, "media", "id", d["media_id"], {"state": "seen"})
    for attempt in d.get("attempt_ids", []):
        _update(conn, "attempts", "id", attempt, {
            "ended_at": a.time("ended_at", "attempts", attempt), "outcome": "interrupted"})


@projects("media_relocated")
def _media_relocated(conn, a: Applied) -> None:
    if a.ev.subject.startswith("media:"):
        _update(conn, "media", "id", int(a.ev.subject.split(":", 1)[1]), {
            **{k: a.d[k] for k in ("store", "object_key", "retain_until")},
            "version_id": a.d.get("version_id")})


@projects("retention_extended")
def _retention_extended(conn, a: Applied) -> None:
    _update(conn, "media", "id", a.d["media_id"], {"retain_until": a.d["retain_until"]})


@projects("deadline_moved", "deadline_recomputed")
def _deadline_moved(conn, a: Applied) -> None:
    _update(conn, "media", "id", a.d["media_id"], {"deadline_at": a.d["deadline_at"]})


#: The probe's fields since schema 13 (frame rate, tags, when it was recorded); an older
#: event has none of them.
PROBE_FIELDS_13 = ("frame_rate", "rotation", "creation_time", "device_make", "device_model",
                   "location", "latitude", "longitude", "recorded_start", "recorded_end",
                   "time_source", "time_sources", "time_correction_s", "time_spread_s",
                   "time_disagree")


@projects("media_probed")
def _media_probed(conn, a: Applied) -> None:
    d = a.d
    later = {k: d.get(k) for k in PROBE_FIELDS_13}
    if later["time_sources"] is not None:
        later["time_sources"] = json.dumps(later["time_sources"], sort_keys=True)
    if later["time_disagree"] is not None:
        later["time_disagree"] = int(bool(later["time_disagree"]))
    _insert(conn, "media_probe", {
        "media_id": d["media_id"], "probed_at": a.time("probed_at", "media_probe", d["media_id"]),
        **{k: d.get(k) for k in ("duration_s", "container", "video_codec", "width", "height",
                                 "audio_codec", "error")}, **later}, upsert_on="media_id")


# -- derivatives (ledger/derivatives.py) ----------------------------------------------------


@projects("derivative_queued")
def _derivative_queued(conn, a: Applied) -> None:
    d = a.d
    _insert(conn, "derivatives", {
        "id": d["derivative_id"], "media_id": d["media_id"], "kind": d["kind"],
        "state": "pending", "attempts": 0, "source_blake3": d["source_blake3"],
        "source_sha256": d["source_sha256"], "queued_at": d["queued_at"]})


@projects("derivative_started")
def _derivative_started(conn, a: Applied) -> None:
    d = a.d
    _update(conn, "derivatives", "id", d["derivative_id"], {
        "state": "running", "attempts": d["attempt"], "started_at": d["started_at"],
        "ended_at": None, "error": None})


@projects("derivative_stored")
def _derivative_stored(conn, a: Applied) -> None:
    d = a.d
    _update(conn, "derivatives", "id", d["derivative_id"], {
        "state": "done", "ended_at": d["ended_at"], "error": None,
        "detail": canonical_detail(d.get("detail")),
        **{k: d[k] for k in ("store", "object_key", "blake3", "sha256", "size",
                             "retain_until")}})


def canonical_detail(detail) -> str | None:
    return None if detail is None else json.dumps(detail, sort_keys=True,
                                                  separators=(",", ":"))


@projects("derivative_failed")
def _derivative_failed(conn, a: Applied) -> None:
    d = a.d
    _update(conn, "derivatives", "id", d["derivative_id"], {
        "state": "pending" if d["retry"] else "failed", "ended_at": d["ended_at"],
        "error": d["error"]})


@projects("derivative_interrupted")
def _derivative_interrupted(conn, a: Applied) -> None:
    d = a.d
    _update(conn, "derivatives", "id", d["derivative_id"], {
        "state": "pending", "ended_at": d["ended_at"],
        "error": "interrupted (the daemon stopped or crashed while making it)"})


@projects("derivative_retried")
def _derivative_retried(conn, a: Applied) -> None:
    _update(conn, "derivatives", "id", a.d["derivative_id"], {"state": "pending",
                                                               "attempts": 0})


@projects("derivative_rebuilt")
def _derivative_rebuilt(conn, a: Applied) -> None:
    _update(conn, "derivatives", "id", a.d["derivative_id"], {"state": "pending",
                                                               "attempts": 0, "error": None})


@projects("fingerprint_recorded")
def _fingerprint_recorded(conn, a: Applied) -> None:
    from evidock.daemon.ledger.fingerprints import index_rows

    d = a.d
    before = conn.execute("SELECT hashes FROM fingerprints WHERE media_id = ?",
                          (d["media_id"],)).fetchone()
    if before is not None:  # fingerprinted again: its old index entries go
        conn.executemany("DELETE FROM fingerprint_bands WHERE band = ?",
                         [(b,) for b in index_rows(d["media_id"], json.loads(before[0]))])
    _insert(conn, "fingerprints", {
        "media_id": d["media_id"], "derivative_id": d["derivative_id"],
        "algorithm": d["algorithm"], "duration_s": d.get("duration_s"),
        "frames": len(d["frames"]), "hashes": json.dumps(d["frames"], separators=(",", ":"))},
        upsert_on="media_id")
    conn.executemany("INSERT INTO fingerprint_bands (band) VALUES (?) "
                     "ON CONFLICT (band) DO NOTHING",
                     [(b,) for b in index_rows(d["media_id"], d["frames"])])


# -- cases, links, holds, exemptions ---------------------------------------------------------

CASE_FIELDS = ("type", "officers", "subject", "start_at", "end_at", "status", "closed_at",
               "sensitivity")


def _case_id(a: Applied) -> str:
    return a.d.get("case_id") or a.ev.subject.split(":", 1)[1]


@projects("case_imported")
def _case_imported(conn, a: Applied) -> None:
    case_id = _case_id(a)
    when = a.time("imported_at", "cases", case_id)
    a.time("imported_at", "cases", case_id, "updated_at")  # the same time, loose alike
    _insert(conn, "cases", {"case_id": case_id, **{k: a.d[k] for k in CASE_FIELDS},
                            "imported_at": when, "updated_at": when})


@projects("case_updated")
def _case_updated(conn, a: Applied) -> None:
    case_id = _case_id(a)
    _update(conn, "cases", "case_id", case_id, {
        **a.d["changed"], "updated_at": a.time("updated_at", "cases", case_id)})


@projects("case_linked")
def _case_linked(conn, a: Applied) -> None:
    d = a.d
    _insert(conn, "case_links", {
        "id": d["link_id"], "case_id": d["case_id"], "media_id": d["media_id"],
        "kind": d["kind"], "note": d.get("note") or "", "linked_by": d["by"],
        "linked_at": a.time("linked_at", "case_links", d["link_id"])})


@projects("case_link_upgraded")
def _case_link_upgraded(conn, a: Applied) -> None:
    d = a.d
    _update(conn, "case_links", "id", d["link_id"], {
        "kind": d["kind"], "note": d.get("note") or "", "linked_by": d["by"],
        "linked_at": a.time("linked_at", "case_links", d["link_id"])})


@projects("case_unlinked")
def _case_unlinked(conn, a: Applied) -> None:
    d = a.d
    _update(conn, "case_links", "id", d["link_id"], {
        "unlinked_by": d["by"], "unlinked_at": a.time("unlinked_at", "case_links", d["link_id"]),
        "unlink_reason": d["reason"]})


@projects("legal_hold_requested")
def _hold_requested(conn, a: Applied) -> None:
    d = a.d
    _insert(conn, "legal_holds", {
        "media_id": d["media_id"], "case_id": d["case_id"],
        "requested_at": a.time("requested_at", "legal_holds", d["media_id"]),
        "requested_by": d["by"], "placed_at": None, "released_at": None, "released_by": None,
        "release_reason": None}, upsert_on="media_id")


@projects("legal_hold_placed")
def _hold_placed(conn, a: Applied) -> None:
    _update(conn, "legal_holds", "media_id", a.d["media_id"],
            {"placed_at": a.time("placed_at", "legal_holds", a.d["media_id"])})


@projects("legal_hold_released")
def _hold_released(conn, a: Applied) -> None:
    d = a.d
    _update(conn, "legal_holds", "media_id", d["media_id"], {
        "released_at": a.time("released_at", "legal_holds", d["media_id"]),
        "released_by": d["by"], "release_reason": d["reason"]})


@projects("exemption_registered")
def _exemption_registered(conn, a: Applied) -> None:
    d = a.d
    exemption_id = d.get("exemption_id") or int(a.ev.subject.split(":", 1)[1])
    _insert(conn, "exemptions", {
        "id": exemption_id, **{k: d.get(k) for k in ("officer_id", "device_serial")},
        **{k: d[k] for k in ("start_at", "end_at", "reason", "registered_by")},
        "note": d.get("note") or "",
        "registered_at": a.time("registered_at", "exemptions", exemption_id)})


@projects("exemption_withdrawn")
def _exemption_withdrawn(conn, a: Applied) -> None:
    d = a.d
    _update(conn, "exemptions", "id", d["exemption_id"], {
        "withdrawn_at": d["withdrawn_at"], "withdrawn_by": d["by"],
        "withdraw_reason": d["reason"]})


@projects("exemption_corrected")
def _exemption_corrected(conn, a: Applied) -> None:
    d = a.d
    _update(conn, "exemptions", "id", d["exemption_id"], {
        **d["changed"], "corrected_at": d["corrected_at"], "corrected_by": d["by"],
        "correct_reason": d["reason"]})


@projects("case_no_footage_recorded")
def _case_no_footage(conn, a: Applied) -> None:
    d = a.d
    _insert(conn, "case_no_footage", {
        "case_id": d["case_id"], "reason": d["reason"], "recorded_by": d["by"],
        "approver": d["approver"], "recorded_at": d["recorded_at"]}, upsert_on="case_id")


# -- audits and alerts -----------------------------------------------------------------------


@projects("handover_late")
def _handover_late(conn, a: Applied) -> None:
    _insert(conn, "late_handovers", {k: a.d[k] for k in (
        "media_id", "device_serial", "officer_id", "deadline_at", "handed_over_at",
        "late_seconds")})


@projects("handover_late_acknowledged")
def _handover_late_acknowledged(conn, a: Applied) -> None:
    d = a.d
    _update(conn, "late_handovers", "media_id", d["media_id"], {
        "acknowledged_by": d["by"], "acknowledged_at": d["acknowledged_at"],
        "acknowledged_reason": d["reason"]})


@projects("fixity_checked")
def _fixity_checked(conn, a: Applied) -> None:
    d = a.d
    _insert(conn, "fixity", {
        "media_id": d["media_id"], "checked_at": a.time("checked_at", "fixity", d["media_id"]),
        "ok": int(bool(d["ok"])), "detail": d.get("detail") or ""}, upsert_on="media_id")


@projects("alert_raised")
def _alert_raised(conn, a: Applied) -> None:
    d = a.d
    _insert(conn, "alerts", {
        "id": d["alert_id"], "key": d["key"], "check_name": d["check"], "rule": d["rule"],
        "severity": d["severity"], "subject": d["subject"], "message": d["message"],
        "state": "raised", "raised_at": a.time("raised_at", "alerts", d["alert_id"])})


@projects("alert_escalated")
def _alert_escalated(conn, a: Applied) -> None:
    d = a.d
    _update(conn, "alerts", "id", d["alert_id"], {
        "severity": d["severity"], "message": d["message"], "state": "raised",
        "acknowledged_at": None, "acknowledged_by": None, "acknowledged_reason": None})


@projects("alert_acknowledged")
def _alert_acknowledged(conn, a: Applied) -> None:
    d = a.d
    _update(conn, "alerts", "id", d["alert_id"], {
        "state": "acknowledged",
        "acknowledged_at": a.time("acknowledged_at", "alerts", d["alert_id"]),
        "acknowledged_by": d["by"], "acknowledged_reason": d.get("reason")})


@projects("alert_resolved")
def _alert_resolved(conn, a: Applied) -> None:
    d = a.d
    _update(conn, "alerts", "id", d["alert_id"], {
        "state": "resolved", "resolved_at": a.time("resolved_at", "alerts", d["alert_id"])})


# -- a ledger rebuilt from the store (ledger/rebuild.py) --------------------------------------


@projects("media_recovered_from_store")
def _media_recovered(conn, a: Applied) -> None:
    """A recording the anchors did not record, taken back from its object's metadata: its
    row (and its device's, if the anchors never saw the device) as handed over."""
    d = a.d
    if conn.execute("SELECT 1 FROM devices WHERE serial = ?", (d["device_serial"],)).fetchone() \
            is None:
        _insert(conn, "devices", {"serial": d["device_serial"], "source": "store",
                                  "registered": 0, "first_seen_at": d["found_at"]})
    stored = {"state": "verified", **{k: d[k] for k in ("blake3", "sha256", "store",
                                                        "object_key", "retain_until",
                                                        "ingested_at")}, "last_error": None}
    if conn.execute("SELECT 1 FROM media WHERE id = ?", (d["media_id"],)).fetchone() is None:
        _insert(conn, "media", {
            "id": d["media_id"], "device_serial": d["device_serial"],
            "officer_id": d["officer_id"], "source_path": d["source_path"],
            "source_path_raw": bytes.fromhex(d["source_path_raw"]), "size": d["size"],
            "mtime_ns": d["mtime_ns"], "kind": d["kind"], "recorded_at": d["recorded_at"],
            "deadline_at": d["deadline_at"], "found_at": d["found_at"], "attempts": 0,
            "flags": "recovered_from_store", **stored})
    else:
        _update(conn, "media", "id", d["media_id"], stored)


# the custody projectors (schema 10) live in their own module; importing it registers them
from evidock.daemon.ledger import projection_custody  # noqa: E402, F401
