"""``ledger verify`` names the first broken entry, whichever way the ledger was tampered with."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime

import pytest

from evidock.daemon.hashing import Digests
from evidock.daemon.ledger.sqlite import SqliteLedger

T0 = datetime(2026, 3, 1, tzinfo=UTC)


@pytest.fixture
def ledger(tmp_path):
    ledger = SqliteLedger(tmp_path / "ledger.sqlite3", station="st")
    ledger.ensure_device("CAM1", source="watch")
    for n in range(3):
        media, _ = ledger.register_media(device_serial="CAM1", source_path=f"{n}.mp4", size=3,
                                         mtime_ns=n, kind="video", recorded_at=T0,
                                         handover_hours=24)
        attempt = ledger.start_attempt(media.id)
        ledger.record_stored(media.id, attempt, Digests(3, f"{n}" * 64, f"{n}" * 64),
                             store="local:x", object_key=f"k{n}", retain_until=T0)
        ledger.record_verified(media.id, attempt)
    return ledger


def tamper(ledger, *sql: str) -> None:
    """Edit the file directly, as an attacker with the file would (triggers dropped)."""
    conn = sqlite3.connect(ledger.path)
    conn.execute("DROP TRIGGER events_append_only_update")
    conn.execute("DROP TRIGGER events_append_only_delete")
    for statement in sql:
        conn.execute(statement)
    conn.commit()
    conn.close()


def test_an_intact_ledger_verifies(ledger):
    report = ledger.verify()
    assert (True, 13, 3) == (report.ok, report.events, report.media)


def test_an_altered_event_is_named(ledger):
    tamper(ledger, "UPDATE events SET data = replace(data, 'k1', 'k9') WHERE seq = 8")
    report = ledger.verify()
    assert not report.ok
    assert report.problems[0].startswith("event 8 ")
    assert "altered" in report.problems[0]


def test_a_deleted_event_is_named(ledger):
    tamper(ledger, "DELETE FROM events WHERE seq = 5")
    report = ledger.verify()
    assert "event 6" in report.problems[0] and "missing" in report.problems[0]


def test_a_rehashed_forgery_breaks_the_chain_after_it(ledger):
    """Recomputing the forged event's own hash is not enough: the next event no longer chains."""
    from evidock.daemon.ledger.chain import event_hash

    conn = sqlite3.connect(ledger.path)
    seq, at, station, kind, subject, data, prev = conn.execute(
        "SELECT seq, at, station, kind, subject, data, prev_hash FROM events WHERE seq = 4"
    ).fetchone()
    conn.close()
    forged = data.replace("0000", "1111")
    tamper(ledger, f"UPDATE events SET data = '{forged}', hash = "
           f"'{event_hash(seq, at, station, kind, subject, forged, prev)}' WHERE seq = 4")
    report = ledger.verify()
    assert report.problems[0].startswith("event 5 ")


def test_an_edited_media_row_is_caught_by_the_replay(ledger):
    tamper(ledger, "UPDATE media SET sha256 = '" + "f" * 64 + "' WHERE id = 2")
    report = ledger.verify()
    assert report.problems == [
        f"media 2: column sha256 is {'f' * 64!r} but the events say {'1' * 64!r} "
        "(the row was altered)"
    ]


def test_a_media_row_without_history_is_caught(ledger):
    tamper(ledger, "INSERT INTO media (device_serial, source_path, source_path_raw, size, "
           "mtime_ns, kind, recorded_at, deadline_at, found_at, state) VALUES ('CAM1', 'x', "
           "x'78', 1, 1, 'video', 'a', 'b', 'c', 'verified')")
    assert "no history" in ledger.verify().problems[0]


def test_a_deleted_media_row_is_caught(ledger):
    tamper(ledger, "DELETE FROM media WHERE id = 3")
    assert ledger.verify().problems[0].startswith("media 3: recorded in the events")


def test_ledger_verify_names_an_edited_officer_and_exits_non_zero(tmp_path):
    """The court case of the issue: the officer of a recording is changed behind the
    ledger's back; `ledger list --officer` would give the altered answer, verify says so."""
    from ...daemon_proc import evidock
    from ..test_service import make_footage

    make_footage(tmp_path / "in", "CAM1", {"a.mp4": 2000})
    data = str(tmp_path / "d")
    evidock("run", "--data-dir", data, "--watch", str(tmp_path / "in"), "--settle", "0.1",
            "--until-idle")
    assert 0 == evidock("ledger", "verify", "--data-dir", data).returncode
    conn = sqlite3.connect(tmp_path / "d" / "ledger.sqlite3")
    conn.execute("UPDATE media SET officer_id = 'someone else' WHERE id = 1")
    conn.commit()
    conn.close()
    proc = evidock("ledger", "verify", "--data-dir", data, check=False)
    assert 5 == proc.returncode
    assert "media 1: column officer_id is 'someone else' but the events say None" in proc.stderr
