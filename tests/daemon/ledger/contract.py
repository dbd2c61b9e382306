"""The contract every ledger backend must pass (see evidock.daemon.ledger.base.Ledger).

A backend's test module subclasses :class:`LedgerContract` and provides these fixtures:

* ``open_ledger(name="main", clock=None)``: a new or reopened ledger of that backend (the
  same ``name`` is the same ledger);
* ``raw_sql(ledger)``: a function ``(sql, params=())`` that edits the backend's storage
  behind the ledger's back (append-only triggers dropped), as an attacker with the file
  or the database password would; ``?`` placeholders;
* ``rebuild(events)``: a new ledger of that backend built from ``events``;
* ``spawn_writer(ledger, tag, n)``: another process that appends ``n`` device
  registrations to the same ledger; returns an object with ``wait()`` (its exit code).
"""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta

import pytest

from evidock.daemon import faults
from evidock.daemon.errors import (
    Claimed,
    EvidockError,
    InvalidTransition,
    LedgerError,
    NotFound,
)
from evidock.daemon.hashing import Digests
from evidock.daemon.ledger import projection
from evidock.daemon.ledger.base import Ledger
from evidock.daemon.ledger.chain import GENESIS, event_hash

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)  # every reading a distinct time, as in life
        return self.now


def new_kinds(ledger: Ledger, fn, *args, **kw) -> tuple[object, list[str]]:
    """Run ``fn`` and return its result and the kinds of the events it appended."""
    before = ledger.head()[0]
    result = fn(*args, **kw)
    return result, [e.kind for e in ledger.events(after=before)]


def digests(n: int) -> Digests:
    return Digests(100 + n, f"{n:x}" * 64 if n < 16 else "e" * 64, f"{n:x}" * 64)


def populate(ledger: Ledger) -> dict:
    """Exercise every write method so that every projected table has rows, and check each
    appends the events its contract names.  Returns the ids made."""
    def step(expected: list[str], fn, *args, **kw):
        result, kinds = new_kinds(ledger, fn, *args, **kw)
        assert expected == kinds, fn.__name__
        return result

    step(["device_seen"], ledger.ensure_device, "CAM1", source="usb", model="DSJ-V9",
         vendor="V", officer_id="0451", officer_name="张三", unit="一所")
    step(["device_assigned"], ledger.assign_device, "CAM1", {"unit": "二所"}, by="cli")
    step(["device_assigned"], ledger.assign_device, "CAM2", {"officer_id": "0452"}, by="cli")
    step(["device_docked"], ledger.record_dock, "CAM1", "usb-1", {"registered": True})
    step(["device_undocked"], ledger.record_undock, "CAM1", "usb-1")
    ids = []
    for n in range(4):
        media, created = step(["media_seen"], ledger.register_media, device_serial="CAM1",
                              source_path=f"DCIM/\udcb3{n}.MP4", size=100 + n, mtime_ns=n,
                              kind="video", recorded_at=T0 + timedelta(minutes=n),
                              handover_hours=24, officer_id="0451", clock_offset_s=1.5,
                              flags=("time_from_mtime",))
        assert created
        ids.append(media.id)
    a, b, c, d = ids
    for media_id in (a, b):
        attempt = step(["attempt_started"], ledger.start_attempt, media_id)
        step(["media_stored"], ledger.record_stored, media_id, attempt, digests(media_id),
             store="local:x", object_key=f"k{media_id}", retain_until=T0 + timedelta(days=730),
             version_id=f"v{media_id}")
        step(["media_verified"], ledger.record_verified, media_id, attempt)
    attempt = step(["attempt_started"], ledger.start_attempt, c)
    step(["attempt_failed"], ledger.record_failure, c, attempt, "EIO", action="retry",
         retry_at=T0 + timedelta(hours=1))
    step(["attempt_started"], ledger.start_attempt, d)
    assert [d] == step(["attempt_interrupted"], ledger.recover_interrupted)
    # a watch folder's file rewritten before it was read: its new version supersedes it
    old, _ = step(["media_seen"], ledger.register_media, device_serial="CAM1",
                  source_path="drop/1.wav", size=10, mtime_ns=1, kind="audio",
                  recorded_at=T0 + timedelta(days=1), handover_hours=24, changes_in_place=True)
    new, _ = step(["media_seen", "media_superseded"], ledger.register_media,
                  device_serial="CAM1", source_path="drop/1.wav", size=20, mtime_ns=2,
                  kind="audio", recorded_at=T0 + timedelta(days=2), handover_hours=24,
                  changes_in_place=True)
    assert [old.id] == [m.id for m in ledger.superseded_by(new.id)]
    step(["media_cleared_from_device"] * 2, ledger.record_cleared, "CAM1", ["a", "b"])
    step(["media_relocated"], ledger.record_relocated, "local:x", f"k{b}", store="s3:b",
         retain_until=T0 + timedelta(days=800), version_id="v1", sha256=digests(b).sha256)
    step(["case_imported", "case_imported"], ledger.import_cases, [
        {"case_id": "C-1", "type": "seizure", "officers": '["0451"]', "subject": "s",
         "start_at": "2026-03-01T00:00:00.000000Z", "end_at": "2026-03-02T00:00:00.000000Z",
         "status": "open", "closed_at": None, "sensitivity": "normal"},
        {"case_id": "C-2", "type": "traffic", "officers": '["0451"]', "subject": "",
         "start_at": "2026-03-01T00:00:00.000000Z", "end_at": "2026-03-02T00:00:00.000000Z",
         "status": "closed", "closed_at": "2026-03-03T00:00:00.000000Z",
         "sensitivity": "secret"}], by="cli", source="cases.csv")
    step(["case_updated"], ledger.import_cases, [
        {"case_id": "C-1", "type": "seizure", "officers": '["0451"]', "subject": "s2",
         "start_at": "2026-03-01T00:00:00.000000Z", "end_at": "2026-03-02T00:00:00.000000Z",
         "status": "open", "closed_at": None, "sensitivity": "normal"}], by="cli", source="f")
    step(["case_linked", "case_linked"], ledger.link_media, "C-1", [a, b], kind="candidate",
         note="window", by="rule")
    step(["case_link_upgraded", "legal_hold_requested"], ledger.link_media, "C-1", [a],
         kind="evidence", note="seen", by="li")
    step(["case_linked", "legal_hold_requested"], ledger.link_media, "C-2", [b],
         kind="evidence", note="", by="li")
    assert ("candidate", True) == step(["case_unlinked"], ledger.unlink_media, "C-1", b,
                                       by="li", reason="other", keep_hold=True)
    step(["legal_hold_placed"], ledger.record_hold_placed, a, object_key=f"k{a}",
         store="local:x")
    step(["legal_hold_released"], ledger.record_hold_released, b, by="li", reason="done",
         object_key=f"k{b}")
    step(["retention_extended"], ledger.record_retention, a, object_key=f"k{a}",
         retain_until=T0 + timedelta(days=3650), required=T0 + timedelta(days=3650))
    exemption = step(["exemption_registered"], ledger.add_exemption, {
        "officer_id": "0451", "device_serial": None, "start_at": "2026-03-01T00:00:00.000000Z",
        "end_at": "2026-03-04T00:00:00.000000Z", "reason": "remote_area", "note": "n",
        "registered_by": "z"})
    step(["deadline_moved"], ledger.move_deadline, c, T0 + timedelta(days=5),
         exemption_id=exemption)
    step(["exemption_corrected"], ledger.correct_exemption, exemption,
         {"end_at": "2026-03-05T00:00:00.000000Z", "note": "n2"}, by="z", reason="typo")
    step([], ledger.correct_exemption, exemption, {"note": "n2"}, by="z", reason="same")
    step(["exemption_withdrawn"], ledger.withdraw_exemption, exemption, by="z",
         reason="registered in error")
    step(["deadline_recomputed"], ledger.recompute_deadline, c, T0 + timedelta(days=1),
         cause="withdrawn", exemption_id=None)
    step(["case_no_footage_recorded"], ledger.record_no_footage, "C-1",
         reason="camera broken", by="li", approver="head")
    finding = {"key": "k:1", "rule": "R1", "severity": "warning", "subject": "device:CAM1",
               "message": "m"}
    [(_, alert)] = step(["alert_raised"], ledger.sync_alerts, "handover", [finding])
    step(["alert_escalated"], ledger.sync_alerts, "handover", [{**finding,
                                                                "severity": "critical"}])
    step(["alert_acknowledged"], ledger.acknowledge_alert, alert, "li", "seen")
    step(["alert_raised"], ledger.sync_alerts, "archive", [{**finding, "key": "k:2"}])
    step(["alert_resolved"], ledger.sync_alerts, "archive", [])
    step(["alert_delivery_failed"], ledger.queue_delivery, alert, "raised", "webhook", "down")
    [row] = ledger.undelivered("webhook")
    step([], ledger.delivery_retried, row["id"], "still down")
    step(["alert_delivered"], ledger.delivered_late, row["id"])
    step(["fixity_checked"], ledger.record_fixity, a, ok=True, detail="")
    step(["fixity_checked"], ledger.record_fixity, b, ok=False, detail="bad")
    step(["handover_late"], ledger.record_late, [{
        "media_id": a, "device_serial": "CAM1", "officer_id": "0451",
        "deadline_at": "2026-03-02T08:00:00.000000Z",
        "handed_over_at": "2026-03-02T09:00:00.000000Z", "late_seconds": 3600.25}])
    [(_, late)] = step(["alert_raised"], ledger.sync_alerts, "lateness", [
        {**finding, "key": f"late:media:{a}"}])
    step(["alert_acknowledged", "handover_late_acknowledged", "alert_resolved"],
         ledger.acknowledge_alert, late, "sup", "traffic jam")
    step([], ledger.sync_alerts, "lateness", [{**finding, "key": f"late:media:{a}"}])
    step(["check_failed"], ledger.record, "check_failed", "check:x", {"error": "e"})
    step(["media_probed", "media_probed"], ledger.record_probes, [
        (a, {"duration_s": 3.0, "container": "wav", "audio_codec": "pcm_s16le"}),
        (b, {"error": "Invalid data found when processing input"})])
    # custody (schema 10): people, sensitivity, access requests, time-stamped heads
    person = {"person_id": "A1", "name": "李", "role": "archivist", "unit": "一所",
              "os_user": "li", "clearance": "", "active": 1}
    assert step(["person_registered"], ledger.register_person, person, by="A0")
    assert not step([], ledger.register_person, person, by="A0")
    step(["person_updated"], ledger.register_person, {**person, "clearance": "privacy"},
         by="A0")
    step(["media_sensitivity_set"], ledger.set_media_sensitivity, a, "privacy", by="A1",
         reason="a face")
    step([], ledger.set_media_sensitivity, a, "privacy", by="A1", reason="again")
    step(["case_sensitivity_set"], ledger.set_case_sensitivity, "C-1", "trade_secret",
         by="A1", reason="a shop's books")
    request = step(["access_requested"], ledger.add_access_request, {
        "case_id": "C-1", "requested_by": "A1", "purpose": "court", "scope": "export",
        "media": [a]})
    step(["access_approved"], ledger.decide_access_request, request, approve=True, by="H1",
         reason="ok", expires_at="2026-04-01T00:00:00.000000Z")
    with pytest.raises(InvalidTransition):
        ledger.decide_access_request(request, approve=False, by="H1", reason="", expires_at=None)
    step(["access_denied"], ledger.decide_access_request,
         step(["access_requested"], ledger.add_access_request, {
             "case_id": "C-2", "requested_by": "A1", "purpose": "p", "scope": "view",
             "media": None}), approve=False, by="H1", reason="no", expires_at=None)
    seq, head = ledger.head()
    step(["ledger_timestamped"], ledger.add_timestamp, seq=seq, head_hash=head,
         tsa="http://tsa", token="dG9rZW4=", gen_time="2026-03-01T09:00:00.000000Z",
         late=False)
    [proxy, poster] = step(["derivative_queued"] * 2, ledger.queue_derivatives, a,
                           ["proxy", "poster"])
    step([], ledger.queue_derivatives, a, ["proxy"])
    step(["derivative_started"], ledger.start_derivative, proxy)
    step(["derivative_stored"], ledger.finish_derivative, proxy, digests(9),
         store="local", object_key="media/b3/99/99/" + "9" * 64,
         retain_until=T0 + timedelta(days=800))
    step(["derivative_started"], ledger.start_derivative, poster)
    step(["derivative_failed"], ledger.fail_derivative, poster, "moov atom not found",
         give_up=True)
    step(["derivative_retried"], ledger.retry_derivative, poster, by="li")
    step(["derivative_started"], ledger.start_derivative, poster)
    step(["derivative_interrupted"], ledger.recover_derivatives, 3)
    [fp] = step(["derivative_queued"], ledger.queue_derivatives, a, ["fingerprint"])
    step(["derivative_started"], ledger.start_derivative, fp)
    step(["derivative_stored", "fingerprint_recorded"], ledger.finish_fingerprint, fp,
         digests(8), store="local", object_key="media/b3/88/88/" + "8" * 64,
         retain_until=T0 + timedelta(days=800), algorithm="pdq-1s", duration_s=3.0,
         frames=[[0.0, "ab" * 32], [1.0, "ab" * 31 + "aa"], [2.0, "0f" * 32]])
    step(["derivative_rebuilt"], ledger.rebuild_derivatives, "2000-01-01T00:00:00.000000Z",
         by="li", kinds=["fingerprint"])
    step(["derivative_started"], ledger.start_derivative, fp)
    step(["derivative_stored", "fingerprint_recorded"], ledger.finish_fingerprint, fp,
         digests(7), store="local", object_key="media/b3/77/77/" + "7" * 64,
         retain_until=T0 + timedelta(days=800), algorithm="pdq-1s", duration_s=3.0,
         frames=[[0.0, "cd" * 32], [1.0, "0f" * 32]])
    step(["media_probed"], ledger.record_probe, a, {
        "duration_s": 12.5, "container": "mov", "video_codec": "h264", "width": 1920,
        "height": 1080, "audio_codec": "aac", "error": "none", "frame_rate": 29.97,
        "rotation": 90, "creation_time": "2026-03-01T01:00:00.000000Z", "device_make": "Hik",
        "device_model": "DSJ-X1", "location": "+31.2304+121.4737/", "latitude": 31.2304,
        "longitude": 121.4737, "recorded_start": "2026-03-01T00:59:58.000000Z",
        "recorded_end": "2026-03-01T01:00:10.500000Z", "time_source": "container",
        "time_sources": {"container": "2026-03-01T01:00:00.000000Z",
                         "name": "2026-03-01T01:00:00.000000Z"},
        "time_correction_s": 2.0, "time_spread_s": 0.0, "time_disagree": False})
    return {"media": ids, "alert": alert, "exemption": exemption,
            "derivatives": [proxy, poster], "request": request}


def table_rows(ledger: Ledger) -> dict[str, list[dict]]:
    return {table: list(ledger.projected_rows(table)) for table in projection.TABLES}


#: Columns with a CHECK constraint: a tampered value must still pass it.
ALLOWED = {
    ("media", "state"): ["seen", "copying", "stored", "verified", "failed", "superseded"],
    ("attempts", "outcome"): ["verified", "failed", "interrupted"],
    ("cases", "status"): ["open", "closed"],
    ("case_links", "kind"): ["candidate", "evidence"],
    ("alerts", "severity"): ["info", "warning", "critical"],
    ("alerts", "state"): ["raised", "acknowledged", "resolved"],
    ("derivatives", "state"): ["pending", "running", "done", "failed"],
    ("access_requests", "scope"): ["view", "export"],
    ("access_requests", "state"): ["pending", "approved", "denied"],
    ("media_probe", "time_source"): ["container", "name", "mtime"],
    ("media_probe", "time_disagree"): [0, 1],
}


def other_value(table: str, column: str, value):
    if (table, column) in ALLOWED:
        return next(v for v in ALLOWED[(table, column)] if v != value)
    if isinstance(value, bool) or isinstance(value, int):
        return value + 1000
    if isinstance(value, float):
        return value + 0.5
    if isinstance(value, bytes):
        return value + b"x"
    if isinstance(value, str):
        return value + "x"
    return "tampered"


def _cells(rows: dict[str, list[dict]]):
    for table, key in projection.TABLES.items():
        assert rows[table], f"populate() leaves table {table} empty"
        for column in rows[table][0]:
            row = next((r for r in rows[table] if r[column] is not None), rows[table][0])
            yield table, key, row, column


class LedgerContract:
    """Behaviour shared by every ledger backend."""

    @pytest.fixture
    def ledger(self, open_ledger):
        return open_ledger(clock=Clock())

    @pytest.fixture
    def populated(self, ledger):
        populate(ledger)
        return ledger

    def test_it_is_a_ledger(self, ledger):
        assert isinstance(ledger, Ledger)

    # -- a file that changed in place ---------------------------------------------------------

    def test_a_new_version_supersedes_only_unstored_rows_and_keeps_the_earliest_deadline(
            self, ledger):
        ledger.ensure_device("W1", source="watch")

        def found(n: int, *, in_place: bool = True, path: str = "drop/a.mp4"):
            return ledger.register_media(
                device_serial="W1", source_path=path, size=100 + n, mtime_ns=n, kind="video",
                recorded_at=T0 + timedelta(hours=n), handover_hours=24,
                changes_in_place=in_place)[0]
        first = found(1)
        stored = found(2, path="drop/b.mp4")
        attempt = ledger.start_attempt(stored.id)
        ledger.record_stored(stored.id, attempt, digests(7), store="local:x", object_key="kb",
                             retain_until=T0 + timedelta(days=730))
        ledger.record_failure(stored.id, attempt, "read-back", action="retry", retry_at=None)
        second = found(3)
        assert ("superseded", second.id) == (ledger.media(first.id).state,
                                             ledger.media(first.id).superseded_by)
        assert first.deadline_at == ledger.media(second.id).deadline_at
        assert [first.id] == [m.id for m in ledger.superseded_by(second.id)]
        # a row whose bytes reached the store is evidence: a new version never ends it
        found(4, path="drop/b.mp4")
        assert "failed" == ledger.media(stored.id).state
        # on a camera's card nothing is rewritten: an old row there stays not handed over
        card = found(5, in_place=False, path="DCIM/c.mp4")
        found(6, in_place=False, path="DCIM/c.mp4")
        assert "seen" == ledger.media(card.id).state
        assert {second.id, card.id} <= {m.id for m in ledger.pending_media()}
        assert first.id not in {m.id for m in ledger.pending_media()}
        with pytest.raises(InvalidTransition):
            ledger.start_attempt(first.id)
        assert ledger.verify().ok

    def test_a_row_read_while_its_file_changed_is_superseded_by_the_version_found_then(
            self, ledger):
        ledger.ensure_device("W1", source="watch")

        def found(n: int):
            return ledger.register_media(
                device_serial="W1", source_path="drop/a.mp4", size=100, mtime_ns=n,
                kind="video", recorded_at=T0 + timedelta(hours=n), handover_hours=24,
                changes_in_place=True)[0]
        first = found(1)
        attempt = ledger.start_attempt(first.id)
        assert None is ledger.supersede_if_replaced(first.id)  # copying: nothing newer yet
        second = found(2)  # found while the first was read: not superseded at once
        assert "copying" == ledger.media(first.id).state
        ledger.record_failure(first.id, attempt, "changed while it was read",
                              action="retry", retry_at=T0 + timedelta(hours=1))
        assert second.id == ledger.supersede_if_replaced(first.id)
        assert "superseded" == ledger.media(first.id).state
        assert first.deadline_at == ledger.media(second.id).deadline_at
        assert None is ledger.supersede_if_replaced(first.id)
        assert ledger.verify().ok

    def test_every_write_method_appends_its_events_and_the_ledger_verifies(self, populated):
        report = populated.verify()
        assert (True, []) == (report.ok, report.problems)
        assert report.rows == sum(len(rows) for rows in table_rows(populated).values())

    def test_media_links_are_a_recordings_links_now_without_removed_ones(self, populated):
        a, b = (m.id for m in populated.list_media()[:2])
        assert [("C-1", "evidence")] == [(x["case_id"], x["kind"])
                                         for x in populated.media_links(a)]
        assert ["C-2"] == [x["case_id"] for x in populated.media_links(b)]  # C-1's removed
        assert [] == populated.media_links(9999)

    def test_a_credential_is_kept_beside_the_chain_which_only_says_who_set_it(self, populated):
        assert None is populated.credential("A1")
        populated.set_credential("A1", "scrypt$1$1$1$c2FsdA==$aGFzaA==", by="A0")
        populated.set_credential("A1", "scrypt$2$1$1$c2FsdA==$aGFzaA==", by="A1")
        assert "scrypt$2$1$1$c2FsdA==$aGFzaA==" == populated.credential("A1")
        events = list(populated.events(kinds=["person_password_set"]))
        assert [("A0",), ("A1",)] == [(json.loads(e.data)["by"],) for e in events]
        assert all("hash" not in e.data and "scrypt" not in e.data for e in events)
        with pytest.raises(NotFound):
            populated.set_credential("NOBODY", "scrypt$x", by="A0")
        assert populated.verify().ok

    # -- finding a recording ------------------------------------------------------------------

    def test_find_media_takes_ascii_ids_and_all_digit_hash_prefixes(self, populated):
        a, b = (m.id for m in populated.list_media()[:2])  # stored: blake3 "111..", "222.."
        assert b == populated.find_media(str(b)).id
        assert b == populated.find_media(f"id:{b}").id
        digits = populated.media(b).blake3[:8]
        assert digits.isdigit()  # e.g. "22222222": a hash prefix, not id 22222222
        assert b == populated.find_media(digits).id

    @pytest.mark.parametrize("ref", ["\u00b2", "\u0661", "1\u00b2", "a" * 100_000, "zz" * 5,
                                     "1" * 65, "\u0661" * 8])
    def test_find_media_refuses_what_is_neither_an_id_nor_a_hash(self, populated, ref):
        with pytest.raises(NotFound) as caught:
            populated.find_media(ref)
        assert len(caught.value.message) < 300  # a 100,000-character ref is not echoed whole

    # -- duplicates --------------------------------------------------------------------------

    def test_duplicates_return_the_existing_row_and_append_nothing(self, populated):
        ledger, case = populated, populated.case("C-1")
        first = ledger.list_media()[0]
        again = [
            lambda: ledger.ensure_device("CAM1", source="usb"),
            lambda: ledger.register_media(
                device_serial="CAM1", source_path=f"DCIM/\udcb3{0}.MP4", size=100, mtime_ns=0,
                kind="video", recorded_at=T0, handover_hours=24),
            lambda: ledger.import_cases([{k: (v if k != "officers" else '["0451"]')
                                          for k, v in case.items()
                                          if k not in ("imported_at", "updated_at")}],
                                        by="cli", source="again"),
            lambda: ledger.link_media("C-1", [first.id], kind="candidate", note="", by="x"),
            lambda: ledger.record_hold_placed(first.id, object_key="k", store="s"),
            lambda: ledger.record_hold_released(999, by="x", reason="y", object_key=None),
            lambda: ledger.move_deadline(first.id, T0, exemption_id=1),
            lambda: ledger.sync_alerts("handover", [{
                "key": "k:1", "rule": "R1", "severity": "warning", "subject": "device:CAM1",
                "message": "m"}]),
            lambda: ledger.record_late([{
                "media_id": first.id, "device_serial": "CAM1", "officer_id": "0451",
                "deadline_at": "x", "handed_over_at": "y", "late_seconds": 1.0}]),
        ]
        for n, call in enumerate(again):
            _, kinds = new_kinds(ledger, call)
            assert ([], n) == (kinds, n)
        media, created = again[1]()
        assert (False, first.id) == (created, media.id)
        assert ledger.verify().ok

    # -- failures inside a write -------------------------------------------------------------

    def test_an_exception_inside_a_write_leaves_neither_row_nor_event(self, populated,
                                                                      monkeypatch):
        before, rows = populated.head(), table_rows(populated)

        def boom(conn, applied):
            raise RuntimeError("killed between the event and its row")
        monkeypatch.setitem(projection.PROJECTORS, "media_seen", boom)
        with pytest.raises(RuntimeError):
            populated.register_media(device_serial="CAM1", source_path="new.mp4", size=1,
                                     mtime_ns=1, kind="video", recorded_at=T0,
                                     handover_hours=24)
        assert (before, rows) == (populated.head(), table_rows(populated))

    def test_a_crash_at_commit_leaves_every_write_of_the_transaction_out(self, populated,
                                                                          monkeypatch):
        before, rows = populated.head(), table_rows(populated)

        def kill(name):
            if name == "ledger_commit":
                raise KeyboardInterrupt("killed at the commit")
        monkeypatch.setattr(faults, "point", kill)
        with pytest.raises(KeyboardInterrupt):
            populated.link_media("C-1", [m.id for m in populated.list_media()],
                                 kind="evidence", note="", by="x")
        assert (before, rows) == (populated.head(), table_rows(populated))

    def test_a_refused_write_is_a_ledger_error_and_writes_nothing(self, populated):
        before = populated.head()
        verified = populated.list_media(state="verified")[0]
        with pytest.raises(InvalidTransition):
            populated.start_attempt(verified.id)
        with pytest.raises(LedgerError):  # no such recording: the backend refuses the link
            populated.link_media("C-1", [9999], kind="candidate", note="", by="x")
        with pytest.raises(EvidockError):
            populated.record("media_seen", "media:1", {})  # tables change by method only
        assert before == populated.head()

    # -- group commit and durability (base.py "Durability") --------------------------------

    @staticmethod
    def _stored(ledger, n: int) -> list[tuple[int, int]]:
        ledger.ensure_device("GRP", source="usb")
        out = []
        for i in range(n):
            media, _ = ledger.register_media(device_serial="GRP", source_path=f"g/{i}", size=3,
                                             mtime_ns=i, kind="video", recorded_at=T0,
                                             handover_hours=24)
            attempt = ledger.start_attempt(media.id)
            ledger.record_stored(media.id, attempt, digests(media.id), store="local:x",
                                 object_key=f"g{media.id}",
                                 retain_until=T0 + timedelta(days=730))
            out.append((media.id, attempt))
        return out

    def test_a_group_commit_hands_over_every_file_in_order_in_one_write(self, ledger):
        items = self._stored(ledger, 3)
        _, kinds = new_kinds(ledger, lambda: ledger.record_verified_many(items))
        assert ["media_verified"] * 3 == kinds
        got = [(e.subject, ledger.event_data(e)["attempt_id"])
               for e in ledger.events(kinds=["media_verified"])]
        assert [(f"media:{m}", a) for m, a in items] == got
        assert {"verified"} == {ledger.media(m).state for m, _ in items}
        assert ledger.verify().ok

    def test_a_group_commit_with_one_refused_file_hands_over_none(self, ledger):
        items = self._stored(ledger, 3)
        not_stored, _ = ledger.register_media(device_serial="GRP", source_path="g/x", size=3,
                                              mtime_ns=99, kind="video", recorded_at=T0,
                                              handover_hours=24)
        before = ledger.head()
        with pytest.raises(InvalidTransition):
            ledger.record_verified_many([*items[:2], (not_stored.id, None), items[2]])
        assert before == ledger.head()
        assert {"stored"} == {ledger.media(m).state for m, _ in items}
        ledger.record_verified_many([])  # nothing to hand over writes nothing
        assert before == ledger.head()

    def test_lazy_writes_are_seen_by_another_connection_and_sync_keeps_them(self, ledger,
                                                                           open_ledger):
        items = self._stored(ledger, 2)
        ledger.sync()
        other = open_ledger()
        assert ["stored", "stored"] == [other.media(m).state for m, _ in items]
        assert ledger.head() == other.head()

    # -- concurrent writers ------------------------------------------------------------------

    def test_threads_writing_at_once_keep_one_gap_free_chain(self, ledger):
        ledger.ensure_device("CAM1", source="usb")
        errors = []

        def work(t: int) -> None:
            try:
                for i in range(15):
                    media, _ = ledger.register_media(
                        device_serial="CAM1", source_path=f"{t}/{i}", size=1, mtime_ns=i,
                        kind="video", recorded_at=T0, handover_hours=24)
                    ledger.start_attempt(media.id)
            except Exception as exc:  # noqa: BLE001 - reported below
                errors.append(exc)
        threads = [threading.Thread(target=work, args=(t,)) for t in range(4)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        assert [] == errors
        seqs = [e.seq for e in ledger.events()]
        assert list(range(1, 1 + 1 + 4 * 15 * 2)) == seqs
        assert 60 == len(ledger.list_media()) and ledger.verify().ok

    def test_two_processes_writing_at_once_keep_one_chain(self, ledger, spawn_writer):
        ledger.record("note", "station:x", {"i": 0})
        writers = [spawn_writer(ledger, tag, 20) for tag in ("p", "q")]
        for i in range(20):
            ledger.ensure_device(f"main-{i}", source="usb")
        assert [0, 0] == [w.wait() for w in writers]
        report = ledger.verify()
        assert (True, 61, 60) == (report.ok, report.events, len(ledger.devices()))

    # -- rebuild and verify ------------------------------------------------------------------

    def test_rebuild_from_the_events_gives_identical_tables(self, populated, rebuild):
        again = rebuild(list(populated.events()))
        assert table_rows(populated) == table_rows(again)
        assert (populated.head(), True) == (again.head(), again.verify().ok)

    def test_every_edited_column_of_every_table_is_named(self, populated, raw_sql):
        rows = table_rows(populated)
        for table, key, row, column in _cells(rows):
            value = row[column]
            tampered = other_value(table, column, value)
            raw_sql(f"UPDATE {table} SET {column} = ? WHERE {key} = ?", (tampered, row[key]))
            problems = populated.verify().problems
            raw_sql(f"UPDATE {table} SET {column} = ? WHERE {key} = ?",
                    (value, tampered if column == key else row[key]))
            assert problems, f"an edit of {table}.{column} went unnoticed"
            if column == key:  # the row moved: the table and both keys are named
                assert problems[0].startswith(f"{table} "), problems
            else:
                assert problems[0].startswith(f"{table} {row[key]}: column {column} is "), \
                    problems
        assert populated.verify().ok

    def test_a_deleted_row_is_named(self, populated, raw_sql):
        hold = table_rows(populated)["legal_holds"][-1]
        raw_sql("DELETE FROM legal_holds WHERE media_id = ?", (hold["media_id"],))
        assert populated.verify().problems == [
            f"legal_holds {hold['media_id']}: recorded in the events but its row is missing "
            "(deleted behind the ledger's back)"]

    def test_an_inserted_row_is_named(self, populated, raw_sql):
        raw_sql("INSERT INTO exemptions (id, officer_id, start_at, end_at, reason, note, "
                "registered_by, registered_at) VALUES (77, 'x', 'a', 'b', 'r', '', 'z', 'c')")
        assert populated.verify().problems == [
            "exemptions 77: the row has no history in the events (inserted behind the "
            "ledger's back)"]

    def test_an_edited_and_rehashed_event_breaks_the_chain_after_it(self, populated, raw_sql):
        ev = next(e for e in populated.events() if e.kind == "case_linked")
        self._rehash(raw_sql, ev, ev.data.replace('"window"', '"forged"'))
        assert populated.verify().problems[0].startswith(f"event {ev.seq + 1} ")

    def test_a_rehashed_last_event_is_caught_by_the_replay(self, populated, raw_sql):
        *_, last = populated.events()
        assert "media_probed" == last.kind
        self._rehash(raw_sql, last, last.data.replace("12.5", "99.5"))
        assert populated.verify().problems[0].startswith(
            "media_probe 1: column duration_s is 12.5 but the events say 99.5")

    def test_custody_reads_give_what_the_writes_recorded(self, populated):
        a, b, *_ = [m.id for m in populated.list_media()]
        assert [("A1", "privacy", 1)] == [(p["person_id"], p["clearance"], p["active"])
                                          for p in populated.people()]
        assert 1 == populated.people_count() and populated.person("nobody") is None
        # a's own label and its case's (C-1); b was unlinked from C-1 but is linked to C-2
        labels = populated.media_labels()
        assert ({"privacy", "trade_secret"}, {"secret"}) == (labels[a], labels[b])
        assert ([a], [b]) == (populated.case_media("C-1"), populated.case_media("C-2"))
        first, second = populated.access_requests()
        assert (("approved", [a], "H1"), ("denied", None)) == (
            (first["state"], first["media"], first["decided_by"]),
            (second["state"], second["media"]))
        assert ["access_requested", "access_approved", "access_requested", "access_denied"] \
            == [e["kind"] for e in populated.access_events()]
        [stamp] = populated.timestamps()
        assert stamp["head_hash"] == next(e.hash for e in populated.events()
                                          if e.seq == stamp["seq"])
    def test_a_claim_taken_over_refuses_the_old_attempts_results(self, ledger):
        """A recording left ``copying`` (a crash, or a station that died) is taken over: its
        attempt ends ``interrupted`` and whatever that attempt reports later is refused, so
        the recording is handed over once, by the attempt that holds the claim."""
        ledger.ensure_device("CAM9", source="usb")
        media, _ = ledger.register_media(device_serial="CAM9", source_path="a.mp4", size=1,
                                         mtime_ns=1, kind="video", recorded_at=T0,
                                         handover_hours=24)
        old = ledger.start_attempt(media.id)
        (_, kinds) = new_kinds(ledger, ledger.take_over, media.id)
        assert ["attempt_interrupted"] == kinds
        new = ledger.start_attempt(media.id)
        keep = dict(store="local:x", object_key="k", retain_until=T0 + timedelta(days=730))
        before = ledger.head()
        with pytest.raises(Claimed, match=f"attempt {old} .* ended"):
            ledger.record_stored(media.id, old, digests(1), **keep)
        with pytest.raises(Claimed):
            ledger.record_failure(media.id, old, "late", retry_at=None, action="retry")
        assert before == ledger.head()
        ledger.record_stored(media.id, new, digests(1), **keep)
        ledger.record_verified(media.id, new)
        assert [(old, "interrupted"), (new, "verified")] == [
            (a["id"], a["outcome"]) for a in ledger.attempts(media.id)]
        assert ledger.verify().ok

    def test_a_recording_verified_without_its_attempt_closes_the_claim_that_stored_it(
            self, ledger):
        """Stored, then the station stopped before verifying (or another station verifies
        it): the verification adopts the open attempt, so no claim stays open on a
        handed-over recording, and a stored recording is never sent back to be copied."""
        ledger.ensure_device("CAM9", source="usb")
        media, _ = ledger.register_media(device_serial="CAM9", source_path="a.mp4", size=1,
                                         mtime_ns=1, kind="video", recorded_at=T0,
                                         handover_hours=24)
        attempt = ledger.start_attempt(media.id)
        ledger.record_stored(media.id, attempt, digests(1), store="local:x", object_key="k",
                             retain_until=T0 + timedelta(days=730))
        assert ledger.take_over(media.id)  # its own claim: may be finished
        assert "stored" == ledger.media(media.id).state
        ledger.record_verified(media.id, None)
        assert [(attempt, "verified")] == [(a["id"], a["outcome"])
                                           for a in ledger.attempts(media.id)]
        assert ledger.verify().ok

    def test_an_empty_ledger_verifies_with_nothing(self, ledger):
        report = ledger.verify()
        assert (True, 0, (0, GENESIS)) == (report.ok, report.events, report.head)

    @staticmethod
    def _rehash(raw_sql, ev, data: str) -> None:
        digest = event_hash(ev.seq, ev.at, ev.station, ev.kind, ev.subject, data, ev.prev_hash)
        raw_sql("UPDATE events SET data = ?, hash = ? WHERE seq = ?", (data, digest, ev.seq))
