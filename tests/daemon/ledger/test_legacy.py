"""Ledgers written before schema 6 still verify.

The landed code wrote event data without some of the times it set on the rows
(``attempts.started_at``, ``alerts.raised_at`` ...), reading the clock again for the row a
few microseconds after the event's ``at``.  Here events of exactly those shapes are
appended, the row times are moved by those microseconds, and the replay must accept them
(within a second of ``at``) while still naming a time moved further, and every other edit.
"""

from __future__ import annotations

import sqlite3
from datetime import timedelta

import pytest

from evidock.daemon.ledger.sqlite import SqliteLedger
from evidock.daemon.timeutil import parse, stamp

from .contract import Clock

#: (kind, subject, data) as the landed code wrote them
LEGACY = [
    ("device_seen", "device:CAM1", {"serial": "CAM1", "model": None, "vendor": None,
                                    "source": "usb", "officer_id": "0451",
                                    "officer_name": None, "unit": None}),
    ("device_assigned", "device:CAM2", {"serial": "CAM2", "by": "cli", "officer_id": "7"}),
    ("media_seen", "media:1", {
        "media_id": 1, "device_serial": "CAM1", "officer_id": "0451", "source_path": "a.mp4",
        "source_path_raw": b"a.mp4".hex(), "size": 3, "mtime_ns": 1, "kind": "video",
        "recorded_at": "2026-03-01T08:00:00.000000Z", "deadline_at": "2026-03-02T08:00:00.000000Z",
        "found_at": "2026-03-01T09:00:00.000000Z", "clock_offset_s": None, "flags": ""}),
    ("attempt_started", "media:1", {"media_id": 1, "attempt_id": 1}),
    ("attempt_failed", "media:1", {"media_id": 1, "attempt_id": 1, "error": "EIO",
                                   "retry_at": None, "action": "retry"}),
    ("attempt_started", "media:1", {"media_id": 1, "attempt_id": 2}),
    ("media_stored", "media:1", {"media_id": 1, "attempt_id": 2, "blake3": "b" * 64,
                                 "sha256": "c" * 64, "size": 3, "store": "local:x",
                                 "object_key": "k", "retain_until": "2028-03-01T08:00:00.000000Z"}),
    ("media_verified", "media:1", {"media_id": 1, "attempt_id": 2,
                                   "ingested_at": "2026-03-01T09:00:05.000000Z"}),
    ("case_imported", "case:C-1", {"type": "t", "officers": '["0451"]', "subject": "",
                                   "start_at": "a", "end_at": "b", "status": "open",
                                   "closed_at": None, "sensitivity": "normal", "by": "cli",
                                   "source": "f.csv"}),
    ("case_linked", "case:C-1", {"case_id": "C-1", "media_id": 1, "kind": "evidence",
                                 "note": "", "by": "li", "link_id": 1}),
    ("legal_hold_requested", "media:1", {"media_id": 1, "case_id": "C-1", "by": "li"}),
    ("legal_hold_placed", "media:1", {"media_id": 1, "object_key": "k", "store": "local:x",
                                      "case_id": "C-1"}),
    ("exemption_registered", "exemption:1", {
        "officer_id": "0451", "device_serial": None, "start_at": "a", "end_at": "b",
        "reason": "r", "note": "", "registered_by": "z", "exemption_id": 1}),
    ("alert_raised", "alert:1", {"alert_id": 1, "key": "k", "check": "handover", "rule": "R1",
                                 "severity": "warning", "subject": "device:CAM1",
                                 "message": "m"}),
    ("alert_acknowledged", "alert:1", {"alert_id": 1, "by": "li"}),
    ("fixity_checked", "media:1", {"media_id": 1, "ok": True, "detail": ""}),
    ("media_probed", "media:1", {"media_id": 1, "duration_s": 1.0, "container": None,
                                 "video_codec": None, "width": None, "height": None,
                                 "audio_codec": None, "error": None}),
]

#: the row times the landed code read from the clock apart from the event
TIMES = [("devices", "first_seen_at", "serial"), ("attempts", "started_at", "id"),
         ("attempts", "ended_at", "id"),  # failed attempts only (verified: ingested_at)
         ("cases", "imported_at", "case_id"),
         ("cases", "updated_at", "case_id"), ("case_links", "linked_at", "id"),
         ("legal_holds", "requested_at", "media_id"), ("legal_holds", "placed_at", "media_id"),
         ("exemptions", "registered_at", "id"), ("alerts", "raised_at", "id"),
         ("alerts", "acknowledged_at", "id"), ("fixity", "checked_at", "media_id"),
         ("media_probe", "probed_at", "media_id")]


@pytest.fixture
def legacy(tmp_path):
    ledger = SqliteLedger(tmp_path / "old.sqlite3", station="st", clock=Clock())
    with ledger._transaction() as conn:
        for kind, subject, data in LEGACY:
            ledger._emit(conn, kind, subject, data)
    return ledger


def shift(ledger, table, column, key, micros: int) -> None:
    where = " WHERE outcome != 'verified'" if (table, column) == ("attempts", "ended_at") else ""
    conn = sqlite3.connect(ledger.path)
    for value, row_key in conn.execute(f"SELECT {column}, {key} FROM {table}{where}").fetchall():
        if value is not None:
            moved = stamp(parse(value) + timedelta(microseconds=micros))
            conn.execute(f"UPDATE {table} SET {column} = ? WHERE {key} = ?", (moved, row_key))
    conn.commit()
    conn.close()


def test_a_ledger_of_the_landed_code_verifies(legacy):
    for table, column, key in TIMES:
        shift(legacy, table, column, key, 37)  # read from the clock just after the event
    report = legacy.verify()
    assert (True, []) == (report.ok, report.problems)


def test_a_legacy_row_time_moved_by_more_than_a_second_is_named(legacy):
    shift(legacy, "alerts", "raised_at", "id", 3_000_000)
    assert legacy.verify().problems[0].startswith("alerts 1: column raised_at is ")


def test_other_columns_of_a_legacy_row_are_exact(legacy):
    conn = sqlite3.connect(legacy.path)
    conn.execute("UPDATE alerts SET acknowledged_by = 'someone else'")
    conn.commit()
    conn.close()
    assert legacy.verify().problems[0].startswith("alerts 1: column acknowledged_by is ")
