"""The ledger's per-file state machine: resumable, idempotent, every change an event."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from evidock.daemon.errors import InvalidTransition, NotFound
from evidock.daemon.hashing import Digests
from evidock.daemon.ledger.sqlite import SqliteLedger

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
D = Digests(3, "ab" * 32, "cd" * 32)


@pytest.fixture
def ledger(tmp_path):
    ledger = SqliteLedger(tmp_path / "ledger.sqlite3", station="st-1", clock=lambda: T0)
    ledger.ensure_device("CAM1", source="watch", officer_id="0451")
    return ledger


def register(ledger, path="DCIM/1.mp4", size=3, mtime_ns=1):
    return ledger.register_media(device_serial="CAM1", source_path=path, size=size,
                                 mtime_ns=mtime_ns, kind="video", recorded_at=T0,
                                 handover_hours=24, officer_id="0451")


def test_the_same_file_found_twice_is_one_row(ledger):
    first, created = register(ledger)
    again, created_again = register(ledger)
    assert (True, False, first.id) == (created, created_again, again.id)


def test_a_changed_file_under_the_same_name_is_a_new_recording(ledger):
    first, _ = register(ledger, mtime_ns=1)
    second, created = register(ledger, mtime_ns=2)
    assert created and first.id != second.id


def test_deadline_is_recording_time_plus_handover_window(ledger):
    media, _ = register(ledger)
    assert "2026-03-02T08:00:00.000000Z" == media.deadline_at


def test_full_life_of_a_file(ledger):
    media, _ = register(ledger)
    attempt = ledger.start_attempt(media.id)
    ledger.record_stored(media.id, attempt, D, store="local:x", object_key="k",
                         retain_until=T0 + timedelta(days=730))
    ledger.record_verified(media.id, attempt)
    got = ledger.media(media.id)
    assert ("verified", 1, D.blake3, "k") == (got.state, got.attempts, got.blake3, got.object_key)
    kinds = [e.kind for e in ledger.events(subject=f"media:{media.id}")]
    assert ["media_seen", "attempt_started", "media_stored", "media_verified"] == kinds


def test_a_verified_file_cannot_be_copied_again(ledger):
    media, _ = register(ledger)
    attempt = ledger.start_attempt(media.id)
    ledger.record_stored(media.id, attempt, D, store="s", object_key="k", retain_until=T0)
    ledger.record_verified(media.id, attempt)
    with pytest.raises(InvalidTransition):
        ledger.start_attempt(media.id)


def test_interrupted_copies_go_back_to_seen_with_the_attempt_closed(ledger):
    media, _ = register(ledger)
    ledger.start_attempt(media.id)
    assert [media.id] == ledger.recover_interrupted()
    assert "seen" == ledger.media(media.id).state
    assert ["interrupted"] == [a["outcome"] for a in ledger.attempts(media.id)]


def test_due_orders_by_deadline_and_respects_retry_time(ledger):
    late, _ = register(ledger, path="b")
    early, _ = ledger.register_media(device_serial="CAM1", source_path="a", size=1, mtime_ns=1,
                                     kind="video", recorded_at=T0 - timedelta(hours=5),
                                     handover_hours=24)
    failing, _ = register(ledger, path="c")
    attempt = ledger.start_attempt(failing.id)
    ledger.record_failure(failing.id, attempt, "boom", retry_at=T0 + timedelta(minutes=5),
                          action="retry")
    assert [early.id, late.id] == [m.id for m in ledger.due(T0)]
    assert failing.id in [m.id for m in ledger.due(T0 + timedelta(minutes=6))]


def test_events_cannot_be_updated_or_deleted(ledger):
    conn = ledger._conn()
    with pytest.raises(Exception, match="append-only"):
        conn.execute("UPDATE events SET kind = 'x' WHERE seq = 1")
    with pytest.raises(Exception, match="append-only"):
        conn.execute("DELETE FROM events")


def test_undecodable_names_are_kept_exactly(ledger):
    name = "DCIM/\udcb3\udcc2.mp4"  # GBK bytes that are not UTF-8
    media, _ = register(ledger, path=name)
    assert "DCIM/\\xb3\\xc2.mp4" == media.source_path
    again, created = register(ledger, path=name)
    assert (False, media.id) == (created, again.id)


def test_find_by_hash_prefix(ledger):
    media, _ = register(ledger)
    attempt = ledger.start_attempt(media.id)
    ledger.record_stored(media.id, attempt, D, store="s", object_key="k", retain_until=T0)
    assert media.id == ledger.find_media("abababab").id
    assert media.id == ledger.find_media("cdcdcdcdcd").id
    with pytest.raises(NotFound):
        ledger.find_media("ffffffff")


def test_list_filters_by_device_officer_and_time(ledger):
    ledger.ensure_device("CAM2", source="watch")
    register(ledger)
    ledger.register_media(device_serial="CAM2", source_path="x", size=1, mtime_ns=1,
                          kind="audio", recorded_at=T0 + timedelta(days=2), handover_hours=24)
    assert ["CAM1"] == [m.device_serial for m in ledger.list_media(officer="0451")]
    assert ["CAM2"] == [m.device_serial for m in ledger.list_media(device="CAM2")]
    assert ["CAM2"] == [m.device_serial for m in ledger.list_media(since=T0 + timedelta(days=1))]
    assert ["CAM1"] == [m.device_serial for m in ledger.list_media(until=T0 + timedelta(days=1))]


def test_two_ledger_objects_on_one_file_keep_one_chain(tmp_path):
    """Two processes (daemon and CLI) append to the same chain without forking it."""
    a = SqliteLedger(tmp_path / "l.db", station="a")
    b = SqliteLedger(tmp_path / "l.db", station="b")
    for i in range(20):
        (a if i % 2 else b).record("note", "station:x", {"i": i})
    report = a.verify()
    assert (True, 20) == (report.ok, report.events)


_LAZY_THEN_KILLED = """
import os, signal, sys
from datetime import UTC, datetime
from evidock.daemon.hashing import Digests
from evidock.daemon.ledger.sqlite import SqliteLedger
ledger = SqliteLedger(sys.argv[1], station="st")
ledger.ensure_device("CAM", source="usb")
media, _ = ledger.register_media(device_serial="CAM", source_path="a", size=3, mtime_ns=1,
                                 kind="video", recorded_at=datetime.now(UTC), handover_hours=24)
attempt = ledger.start_attempt(media.id)
ledger.record_stored(media.id, attempt, Digests(3, "b" * 64, "c" * 64), store="s",
                     object_key="k", retain_until=datetime.now(UTC))
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_lazy_writes_survive_the_process_being_killed(tmp_path):
    """The per-file steps commit without a WAL sync (base.py "Durability"): a kill -9 right
    after them loses none of them."""
    import signal
    import subprocess
    import sys

    path = tmp_path / "l.sqlite3"
    proc = subprocess.run([sys.executable, "-c", _LAZY_THEN_KILLED, str(path)])
    assert -signal.SIGKILL == proc.returncode
    ledger = SqliteLedger(path, station="st")
    assert (["stored"], True) == ([m.state for m in ledger.list_media()], ledger.verify().ok)
    assert ["device_seen", "media_seen", "attempt_started", "media_stored"] == [
        e.kind for e in ledger.events()]
