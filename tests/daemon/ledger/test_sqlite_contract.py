"""The SQLite ledger passes the ledger contract, plus what only SQLite can show: a full
disk (a page limit), a missing file, the raw error classes."""

from __future__ import annotations

import sqlite3
import subprocess
import sys

import pytest

from evidock.daemon.errors import LedgerBusy, LedgerError, LedgerFull, LedgerMissing
from evidock.daemon.ledger.sqlite import SqliteLedger

from .contract import Clock, LedgerContract, populate

_WRITER = """
import sys
from evidock.daemon.ledger.sqlite import SqliteLedger
ledger = SqliteLedger(sys.argv[1], station=sys.argv[2])
for i in range(int(sys.argv[3])):
    ledger.ensure_device(f"{sys.argv[2]}-{i}", source="usb")
"""


@pytest.fixture
def open_ledger(tmp_path):
    def make(name: str = "main", clock=None) -> SqliteLedger:
        kw = {"clock": clock} if clock is not None else {}
        return SqliteLedger(tmp_path / f"{name}.sqlite3", station="st-1", **kw)
    return make


@pytest.fixture
def raw_sql():
    """Edit the file directly, as an attacker with the file would (triggers dropped and put
    back, so only the data changes)."""
    def run(ledger: SqliteLedger):
        def execute(sql: str, params=()) -> None:
            conn = sqlite3.connect(ledger.path)
            triggers = [r[0] for r in conn.execute(
                "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'events'")]
            conn.execute("DROP TRIGGER IF EXISTS events_append_only_update")
            conn.execute("DROP TRIGGER IF EXISTS events_append_only_delete")
            conn.execute(sql, params)
            for trigger in triggers:
                conn.execute(trigger)
            conn.commit()
            conn.close()
        return execute
    return run


@pytest.fixture
def rebuild(tmp_path):
    def make(events) -> SqliteLedger:
        return SqliteLedger.rebuild(tmp_path / "rebuilt.sqlite3", station="st-1", events=events)
    return make


@pytest.fixture
def spawn_writer():
    def spawn(ledger: SqliteLedger, tag: str, n: int):
        return subprocess.Popen([sys.executable, "-c", _WRITER, str(ledger.path), tag, str(n)])
    return spawn


class TestSqliteLedgerContract(LedgerContract):
    @pytest.fixture
    def raw_sql(self, raw_sql, ledger):
        return raw_sql(ledger)


def test_a_full_disk_is_ledger_full_writes_nothing_and_passes_when_space_is_back(tmp_path):
    ledger = SqliteLedger(tmp_path / "l.sqlite3", station="st", clock=Clock())
    populate(ledger)
    conn = ledger._conn()
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    conn.execute(f"PRAGMA max_page_count = {pages}")  # the file may not grow: a full disk
    before = ledger.head()
    with pytest.raises(LedgerFull, match="disk is full"):
        for i in range(200):
            ledger.ensure_device(f"X{i:03d}" * 40, source="usb", model="m" * 500)
    stopped = ledger.head()
    conn.execute("PRAGMA max_page_count = 1073741823")  # space is back
    ledger.ensure_device("AFTER", source="usb")
    assert stopped[0] >= before[0] and ledger.verify().ok
    assert "AFTER" == ledger.device("AFTER").serial


def test_a_missing_ledger_is_not_created_when_asked_not_to(tmp_path):
    with pytest.raises(LedgerMissing, match="no ledger at"):
        SqliteLedger(tmp_path / "typo" / "ledger.sqlite3", station="st", create=False)
    assert not (tmp_path / "typo").exists()
    assert 4 == LedgerMissing.exit_code


def test_a_file_that_is_not_a_ledger_is_a_ledger_error(tmp_path):
    (tmp_path / "l.sqlite3").write_bytes(b"not a database at all" * 100)
    with pytest.raises(LedgerError):
        SqliteLedger(tmp_path / "l.sqlite3", station="st")


def test_rebuild_refuses_an_existing_path(tmp_path, open_ledger):
    ledger = open_ledger()
    ledger.record("note", "station:x", {})
    with pytest.raises(LedgerError, match="already exists"):
        SqliteLedger.rebuild(ledger.path, station="st-1", events=list(ledger.events()))


def test_the_replay_of_thousands_of_recordings_is_quick(tmp_path):
    """verify replays every event: thousands of recordings take well under a second
    (80,000 events, 20,000 handed-over recordings, about 3 s)."""
    import time

    ledger = SqliteLedger(tmp_path / "l.sqlite3", station="st", clock=Clock())
    populate(ledger)
    with ledger._transaction() as c:
        for n in range(2000):
            ledger._emit(c, "media_seen", f"media:{n + 100}", {
                "media_id": n + 100, "device_serial": "CAM1", "officer_id": None,
                "source_path": f"{n}", "source_path_raw": f"{n}".encode().hex(), "size": 1,
                "mtime_ns": n, "kind": "video", "recorded_at": "a", "deadline_at": "b",
                "found_at": "c", "clock_offset_s": None, "flags": ""})
    start = time.monotonic()
    assert ledger.verify().ok
    assert time.monotonic() - start < 10


def test_a_rebuild_from_events_that_cannot_be_replayed_leaves_no_file(tmp_path, open_ledger):
    ledger = open_ledger()
    ledger.ensure_device("CAM1", source="usb")
    [ev] = list(ledger.events())
    broken = ev.__class__(**{**ev.__dict__, "data": "{}"})  # a device_seen without a serial
    with pytest.raises(LedgerError, match="cannot rebuild it at event 1"):
        SqliteLedger.rebuild(tmp_path / "new.sqlite3", station="st-1", events=[broken])
    assert not (tmp_path / "new.sqlite3").exists()


def test_a_writer_kept_waiting_too_long_gets_ledger_busy_and_writes_nothing(tmp_path):
    ledger = SqliteLedger(tmp_path / "l.sqlite3", station="st", busy_timeout=0.2)
    ledger.record("note", "station:x", {})
    other = sqlite3.connect(ledger.path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another process holds the write lock
    try:
        with pytest.raises(LedgerBusy):
            ledger.ensure_device("CAM1", source="usb")
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert (1, []) == (ledger.head()[0], ledger.devices())
    ledger.ensure_device("CAM1", source="usb")
    assert ledger.verify().ok
