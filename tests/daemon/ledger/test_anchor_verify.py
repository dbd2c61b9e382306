"""``evidock ledger verify`` holds the ledger against the anchors in the write-once store and
names history that vanished or changed: a cut tail, an older copy restored, a write-ahead log
lost after ``kill -9``, a rewritten and rechained history, deleted events, a deleted or empty
ledger.  Real daemon runs, real files, the real local store."""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
from pathlib import Path

import pytest

from evidock.daemon.ledger.chain import GENESIS, event_hash

from ...daemon_proc import evidock, ledger_rows, start_daemon, wait_for
from ..test_service import make_footage

pytestmark = pytest.mark.usefixtures("station")  # conftest.py: USB off


def run_once(tmp_path: Path, files: dict[str, int], serial: str = "CAM1") -> Path:
    make_footage(tmp_path / "in", serial, files)
    data = tmp_path / "d"
    evidock("run", "--data-dir", str(data), "--watch", str(tmp_path / "in"), "--settle", "0.1",
            "--until-idle")
    return data


def verify(data: Path, *extra: str):
    return evidock("ledger", "verify", "--data-dir", str(data), *extra, check=False)


def anchors(data: Path) -> list[str]:
    top = data / "store" / "ledger"
    return sorted(p.name for p in top.rglob("*.jsonl"))


def edit(db: Path, *sql: str, params=()) -> None:
    """Change the file as someone holding it could: triggers dropped, rows rewritten."""
    conn = sqlite3.connect(db)
    conn.execute("DROP TRIGGER IF EXISTS events_append_only_update")
    conn.execute("DROP TRIGGER IF EXISTS events_append_only_delete")
    for statement in sql:
        conn.execute(statement, params)
    conn.commit()
    conn.close()


def test_an_intact_ledger_agrees_with_its_anchors(tmp_path):
    data = run_once(tmp_path, {"a.mp4": 3000, "b.mp4": 4000})
    assert 1 == len(anchors(data))  # written at stop
    proc = verify(data)
    assert 0 == proc.returncode, proc.stderr
    assert "agrees with the store's anchors: 1 anchor(s)" in proc.stdout


def test_a_truncated_tail_is_named(tmp_path):
    data = run_once(tmp_path, {"a.mp4": 3000, "b.mp4": 4000})
    edit(data / "ledger.sqlite3", "DELETE FROM events WHERE seq > 6")
    proc = verify(data)
    assert 5 == proc.returncode
    assert "the ledger ends at event 6" in proc.stderr
    assert "its tail was truncated" in proc.stderr


def test_a_restored_older_copy_is_named(tmp_path):
    data = run_once(tmp_path, {"a.mp4": 3000})
    shutil.copy(data / "ledger.sqlite3", tmp_path / "backup.sqlite3")
    before = ledger_rows(data)
    run_once(tmp_path, {"b.mp4": 5000})  # a second day's recording
    shutil.copy(tmp_path / "backup.sqlite3", data / "ledger.sqlite3")
    assert before == ledger_rows(data)  # the old copy verifies on its own ...
    assert 0 == verify(data, "--no-store").returncode
    proc = verify(data)  # ... but not against the store
    assert 5 == proc.returncode
    assert "the whole database is an older copy" in proc.stderr
    assert "among them 1 recording(s) (media 2)" in proc.stderr


def test_a_write_ahead_log_lost_after_kill_9_is_named(tmp_path):
    make_footage(tmp_path / "in", "CAM1", {"a.mp4": 3000, "b.mp4": 6000})
    data = tmp_path / "d"
    daemon = start_daemon(data, tmp_path / "in", extra=("--settle", "0.1"))
    wait_for(lambda: anchors(data), 120, 0.2, what="an anchor (the device handed over)")
    assert ["verified", "verified"] == [r["state"] for r in ledger_rows(data)]
    daemon.send_signal(signal.SIGKILL)  # no clean close: the last commits are in the WAL only
    daemon.wait(10)
    wal = data / "ledger.sqlite3-wal"
    assert wal.exists()
    wal.unlink()
    (data / "ledger.sqlite3-shm").unlink(missing_ok=True)
    proc = verify(data)
    assert 5 == proc.returncode, proc.stdout
    assert "write-ahead log" in proc.stderr, proc.stderr  # whatever the file had kept
    assert "media 1, 2" in proc.stderr or "media 2" in proc.stderr


def test_rewritten_and_rechained_history_is_named(tmp_path):
    """Every hash recomputed after the forged event: the chain verifies, the anchor does not."""
    data = run_once(tmp_path, {"a.mp4": 3000})
    db = data / "ledger.sqlite3"
    conn = sqlite3.connect(db)
    rows = conn.execute("SELECT seq, at, station, kind, subject, data FROM events ORDER BY seq"
                        ).fetchall()
    conn.close()
    forged, prev = [], GENESIS
    for seq, at, station, kind, subject, body in rows:
        if kind == "media_seen":
            body = body.replace('"officer_id":null', '"officer_id":"999999"')
        digest = event_hash(seq, at, station, kind, subject, body, prev)
        forged.append((body, prev, digest, seq))
        prev = digest
    conn = sqlite3.connect(db)
    conn.execute("DROP TRIGGER events_append_only_update")
    conn.executemany("UPDATE events SET data = ?, prev_hash = ?, hash = ? WHERE seq = ?", forged)
    conn.execute("UPDATE media SET officer_id = '999999'")
    conn.commit()
    conn.close()
    assert 0 == verify(data, "--no-store").returncode  # the chain alone cannot tell
    proc = verify(data)
    assert 5 == proc.returncode
    assert "differs from the anchored event" in proc.stderr
    assert "history was rewritten and the chain recomputed" in proc.stderr


def test_deleted_events_are_named(tmp_path):
    data = run_once(tmp_path, {"a.mp4": 3000, "b.mp4": 4000})
    edit(data / "ledger.sqlite3", "DELETE FROM events WHERE seq IN (4, 5)")
    proc = verify(data)
    assert 5 == proc.returncode
    assert "events 4..5 are missing" in proc.stderr
    assert "event 4 (" in proc.stderr and "not in the ledger: events were deleted" in proc.stderr


def test_a_deleted_ledger_is_an_error_while_anchors_exist(tmp_path):
    data = run_once(tmp_path, {"a.mp4": 3000})
    for name in os.listdir(data):
        if name.startswith("ledger.sqlite3"):
            (data / name).unlink()
    proc = verify(data)
    assert 5 == proc.returncode
    assert "there is no ledger at" in proc.stderr
    assert "records 9 events" in proc.stderr or "the ledger has no events" in proc.stderr
    assert not (data / "ledger.sqlite3").exists()  # verifying created nothing


def test_an_emptied_ledger_is_not_ok(tmp_path):
    data = run_once(tmp_path, {"a.mp4": 3000})
    tables = [r[0] for r in sqlite3.connect(data / "ledger.sqlite3").execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT IN "
        "('schema_migrations', 'sqlite_sequence')")]
    edit(data / "ledger.sqlite3", "PRAGMA foreign_keys = OFF",
         *(f"DELETE FROM {t}" for t in tables))
    proc = verify(data)
    assert 5 == proc.returncode
    assert "OK" not in proc.stdout
    assert "the ledger has no events, but the newest anchor" in proc.stderr


def test_a_device_handed_over_is_anchored_without_waiting_for_the_interval(tmp_path, station):
    station.write_text(station.read_text() + "[checks]\nanchor_every_minutes = 1440\n")
    make_footage(tmp_path / "in", "CAM1", {"a.mp4": 3000})
    data = tmp_path / "d"
    daemon = start_daemon(data, tmp_path / "in", extra=("--settle", "0.1"))
    try:
        wait_for(lambda: anchors(data), 60, 0.2, what="the first anchor")
        make_footage(tmp_path / "in", "CAM1", {"b.mp4": 4000})  # docked again, more footage
        wait_for(lambda: len(anchors(data)) == 2, 60, 0.2, what="an anchor after the handover")
        assert ["verified", "verified"] == [r["state"] for r in ledger_rows(data)]
    finally:
        daemon.send_signal(signal.SIGTERM)
        daemon.wait(30)
    assert 0 == verify(data).returncode
