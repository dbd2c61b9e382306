"""Access requests (R8) and case exports as BagIt bags, from the command line."""

from __future__ import annotations

import hashlib
import time

import bagit

from evidock.daemon.errors import ExitCode


def approved(station, *, media=("1",), scope="export", days=None, by="AR1"):
    code, out, err = station("access", "request", "C-1", "--by", by, "--purpose",
                             "for the prosecutor", "--scope", scope, "--media", *media)
    assert 0 == code, err
    rid = out.split()[2].rstrip(":")
    extra = ["--days", str(days)] if days is not None else []
    code, _, err = station("access", "approve", rid, "--by", "AP1", "--reason", "ok", *extra)
    assert 0 == code, err
    return rid


def test_a_request_is_approved_and_the_case_exported_as_a_bag_bagit_validates(station):
    rid = approved(station)
    bag = station.tmp / "bag"
    code, out, err = station("export", "C-1", "--request", rid, "--to", str(bag), "--as", "AR1")
    assert 0 == code, err
    assert "no time-stamping authority is configured" in err
    bagit.Bag(str(bag)).validate()  # the library itself, every file hashed
    original = next((bag / "data" / "originals").iterdir())
    assert (b"recording 0 " * 5000) == original.read_bytes()
    code, out, err = station("export", "verify", str(bag))
    assert 0 == code, err
    assert "agrees with this station's ledger" in out
    log = station.json("access", "log", "--as", "AU1", "--case", "C-1")
    assert ["access_requested", "access_approved", "case_exported"] == [
        e["kind"] for e in log]
    assert ("AR1", [1], "AP1") == (log[2]["person"], log[2]["media_ids"],
                                   log[2]["approved_by"])


def test_an_approver_cannot_approve_their_own_request(station):
    code, out, _ = station("access", "request", "C-1", "--by", "AP1", "--purpose", "x")
    rid = out.split()[2].rstrip(":")
    code, _, err = station("access", "approve", rid, "--by", "AP1")
    assert (ExitCode.ACCESS_DENIED, True) == (code, "their own request" in err)
    assert 0 == station("access", "approve", rid, "--by", "AP2")[0]


def test_only_an_approver_decides(station):
    code, out, _ = station("access", "request", "C-1", "--by", "O1", "--purpose", "x")
    rid = out.split()[2].rstrip(":")
    code, _, err = station("access", "approve", rid, "--by", "AR1")
    assert (ExitCode.ACCESS_DENIED, True) == (code, "may not approve" in err)


def test_a_denied_request_cannot_be_used_for_an_export(station):
    code, out, _ = station("access", "request", "C-1", "--by", "AR1", "--purpose", "x")
    rid = out.split()[2].rstrip(":")
    assert 0 == station("access", "deny", rid, "--by", "AP1", "--reason", "not needed")[0]
    bag = station.tmp / "bag"
    code, _, err = station("export", "C-1", "--request", rid, "--to", str(bag), "--as", "AR1")
    assert ExitCode.ACCESS_DENIED == code
    assert "it is denied (not needed)" in err
    assert not bag.exists()


def test_an_expired_approval_cannot_be_used_for_an_export(station):
    rid = approved(station, days=0.00002)  # about two seconds
    time.sleep(2.5)
    code, _, err = station("export", "C-1", "--request", rid, "--to", str(station.tmp / "b"),
                           "--as", "AR1")
    assert (ExitCode.ACCESS_DENIED, True) == (code, "its approval expired" in err)


def test_a_recording_outside_the_requests_scope_is_refused(station):
    rid = approved(station, media=("1",))
    code, _, err = station("export", "C-1", "--request", rid, "--to", str(station.tmp / "b"),
                           "--media", "2", "--as", "AR1")
    assert (ExitCode.ACCESS_DENIED, True) == (code, "recording 2 is outside its scope" in err)
    refusals = [e for e in station.json("access", "log", "--as", "AU1")
                if e["kind"] == "access_refused"]
    assert [("export", 2)] == [(e["action"], e["media_id"]) for e in refusals]


def test_a_view_request_does_not_allow_an_export(station):
    rid = approved(station, scope="view")
    code, _, err = station("export", "C-1", "--request", rid, "--to", str(station.tmp / "b"),
                           "--as", "AR1")
    assert (ExitCode.ACCESS_DENIED, True) == (code, "viewing only" in err)


def test_someone_elses_request_cannot_be_used(station):
    rid = approved(station)
    code, _, err = station("export", "C-1", "--request", rid, "--to", str(station.tmp / "b"),
                           "--as", "O1")
    assert (ExitCode.ACCESS_DENIED, True) == (code, "made by AR1, not O1" in err)


def test_the_access_report_counts_decisions_uses_and_refusals(station):
    rid = approved(station)
    station("export", "C-1", "--request", rid, "--to", str(station.tmp / "b"), "--media", "2",
            "--as", "AR1")
    assert 0 == station("export", "C-1", "--request", rid, "--to", str(station.tmp / "bag"),
                        "--as", "AR1")[0]
    year = time.gmtime().tm_year
    doc = station.json("report", "access", "--year", str(year), "--as", "AU1")[0]
    assert (1, 1, 0, 1, 1) == (doc["requests"], doc["approved"], doc["denied"],
                               doc["exports"], doc["refusals"])
    assert [("export", "AR1", "AP1")] == [(u["kind"], u["person"], u["approved_by"])
                                          for u in doc["uses"]]
    annual = station.json("report", "annual", "--year", str(year))[0]
    assert (1, 1) == (annual["access"]["exports"], annual["access"]["refusals"])
    code, _, err = station("report", "access", "--as", "O1")
    assert ExitCode.ACCESS_DENIED == code


def test_the_bag_binds_each_original_to_its_ingest_entry(station):
    rid = approved(station)
    bag = station.tmp / "bag"
    assert 0 == station("export", "C-1", "--request", rid, "--to", str(bag), "--as", "AR1")[0]
    shown = station.json("ledger", "show", "1", "--as", "AR1")[0]
    original = next((bag / "data" / "originals").iterdir())
    assert shown["sha256"] == hashlib.sha256(original.read_bytes()).hexdigest()
    stored = [p for p in (bag / "data" / "ledger-proof" / "events").iterdir()
              if b'"media_stored"' in p.read_bytes() and b'"media:1"' in p.read_bytes()]
    assert 1 == len(stored) and shown["sha256"].encode() in stored[0].read_bytes()
