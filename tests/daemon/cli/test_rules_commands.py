"""Issue 11 from the command line, on a real data directory with recordings handed over by
``evidock run``: R10 closed with a recorded reason, the seeds' activity names, exemptions
withdrawn and corrected, and legal holds in their true state."""

from __future__ import annotations

import json

from evidock.daemon.config import Config

from . import test_compliance_commands as base

# the station fixtures of the compliance commands: recordings handed over by 'evidock run'
handed_over, station = base.handed_over, base.station

CHINESE = ("case_id,type,officers,subject,start,end,status,closed_at,sensitivity\n"
           "C-7,听证会,110009,,2026-01-02T00:00Z,2026-01-02T01:00Z,closed,"
           "2026-01-03T00:00Z,normal\n")


def lines(out: str) -> list[dict]:
    return [json.loads(x) for x in out.splitlines()]


def test_the_default_full_process_list_names_the_activities_as_the_seeds_do():
    listed = Config().cases.full_process_types
    for name in ("查封扣押", "强制拆除", "现场检查", "抽样取证", "听证", "留置送达"):
        assert name in listed


def test_imported_case_types_are_mapped_through_the_synonym_table(station):
    cases = station.tmp / "cases.csv"
    cases.write_text(
        "case_id,type,officers,subject,start,end,status,closed_at,sensitivity\n"
        "A,查封扣押财产,110001,,2026-01-01T00:00Z,2026-01-01T02:00Z,open,,normal\n"
        "B,seizure,110001,,2026-01-01T00:00Z,2026-01-01T02:00Z,open,,normal\n"
        "C,抽样调查,110001,,2026-01-01T00:00Z,2026-01-01T02:00Z,open,,normal\n"
        "D,交通,110001,,2026-01-01T00:00Z,2026-01-01T02:00Z,open,,normal\n")
    assert 0 == station("cases", "import", str(cases), "--by", "li")[0]
    types = {c["case_id"]: c["type"] for c in lines(station("cases", "list", "--json")[1])}
    assert {"A": "查封扣押", "B": "查封扣押", "C": "抽样取证", "D": "交通"} == types
    code, out, _ = station("check", "archive", "--json")
    open_keys = {a["key"] for a in json.loads(out)["open"]}
    assert {"fullprocess:case:A", "fullprocess:case:B", "fullprocess:case:C"} == open_keys


def test_an_r10_alert_is_closed_by_recording_why_no_footage_exists(station):
    cases = station.tmp / "cases.csv"
    cases.write_text(CHINESE)
    station("cases", "import", str(cases), "--by", "li")
    code, out, _ = station("check", "archive")
    assert 1 == code and "R10" in out and "cases no-footage C-7" in out
    code, out, err = station("cases", "no-footage", "C-7", "--reason", "不适宜音像记录: 涉密听证",
                             "--by", "archivist Wang", "--approver", "director Zhou")
    assert 0 == code, err
    assert "approved by director Zhou" in out
    assert 0 == station("check", "archive")[0]
    [doc] = lines(station("cases", "show", "C-7", "--json")[1])
    assert ("不适宜音像记录: 涉密听证", "archivist Wang", "director Zhou") == (
        doc["no_footage"]["reason"], doc["no_footage"]["recorded_by"],
        doc["no_footage"]["approver"])
    [alert] = [a for a in lines(station("alerts", "list", "--all", "--json")[1])
               if a["subject"] == "case:C-7"]
    assert "resolved" == alert["state"]
    [report] = lines(station("report", "annual", "--year", "2026", "--json")[1])
    assert 1 == report["full_process_without_footage"]
    assert "director Zhou" == report["no_footage_records"][0]["approver"]
    assert 0 == station("ledger", "verify")[0]


def test_recording_no_footage_needs_an_approver_and_a_known_case(station):
    code, _, err = station("cases", "no-footage", "C-404", "--reason", "r", "--by", "a",
                           "--approver", "b")
    assert 0 != code and "no case 'C-404'" in err
    cases = station.tmp / "cases.csv"
    cases.write_text(CHINESE)
    station("cases", "import", str(cases))
    code, _, err = station("cases", "no-footage", "C-7", "--reason", "r", "--by", "a",
                           "--approver", " ")
    assert 0 != code and "--approver needs a name" in err


def test_a_released_hold_shows_released_not_pending(station):
    cases = station.tmp / "cases.csv"
    cases.write_text(CHINESE)
    station("cases", "import", str(cases))
    assert 0 == station("cases", "link", "C-7", "1", "--note", "n", "--by", "Li")[0]
    [doc] = lines(station("cases", "show", "C-7", "--json")[1])
    assert "placed" == doc["links"][0]["hold_state"]
    code, out, err = station("cases", "unlink", "C-7", "1", "--by", "Li", "--reason", "wrong",
                             "--release-hold")
    assert 0 == code, err
    [doc] = lines(station("cases", "show", "C-7", "--all", "--json")[1])
    [link] = doc["links"]
    assert ("released", "Li", None) == (link["hold_state"], link["hold_released_by"],
                                        link["hold_placed_at"])
    out = station("cases", "show", "C-7", "--all")[1]
    assert "pending" not in out and "released" in out


def test_exemptions_are_withdrawn_and_corrected_from_the_command_line(station):
    code, out, err = station("exemptions", "add", "--device", "DSJ-001", "--from",
                             "2026-01-01T00:00Z", "--until", "2026-01-03T00:00Z", "--reason",
                             "remote_area", "--by", "Zhao")
    assert 0 == code, err
    code, out, err = station("exemptions", "correct", "1", "--until", "2026-01-04T00:00Z",
                             "--by", "Zhao", "--why", "typo in the end date")
    assert 0 == code and "corrected by Zhao (end_at)" in out, err
    code, out, err = station("exemptions", "withdraw", "1", "--by", "Zhao", "--reason",
                             "registered for the wrong device")
    assert 0 == code and "withdrawn by Zhao" in out, err
    assert [] == lines(station("exemptions", "list", "--json")[1])
    [row] = lines(station("exemptions", "list", "--all", "--json")[1])
    assert ("2026-01-04T00:00:00.000000Z", "registered for the wrong device") == (
        row["end_at"], row["withdraw_reason"])
    code, _, err = station("exemptions", "withdraw", "1", "--by", "Zhao", "--reason", "again")
    assert 0 != code and "already withdrawn" in err
    assert 0 == station("ledger", "verify")[0]
