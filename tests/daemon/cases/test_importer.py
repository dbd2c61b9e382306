"""Case exports are read from CSV, JSON and JSON lines."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from evidock.daemon.cases.importer import read_cases

HEADER = "case_id,type,officers,subject,start,end,status,closed_at,sensitivity\n"
UTC = UTC


def test_csv_rows_become_cases_with_officers_split_on_semicolons(tmp_path):
    path = tmp_path / "cases.csv"
    path.write_text(HEADER + "C-1,seizure,110001;110002,Shop A,2026-03-01T09:00:00Z,"
                    "2026-03-01T11:00:00Z,open,,normal\n", encoding="utf-8")
    [case] = read_cases(path, UTC)
    assert ("C-1", "seizure", ("110001", "110002"), "Shop A", "open", None) == (
        case.case_id, case.type, case.officers, case.subject, case.status, case.closed_at)
    assert datetime(2026, 3, 1, 9, tzinfo=UTC) == case.start


def test_times_without_offset_are_taken_in_the_configured_zone(tmp_path):
    path = tmp_path / "cases.csv"
    path.write_text(HEADER + "C-1,hearing,110001,,2026-03-01 09:00,2026-03-01 10:00,closed,"
                    "2026-03-05 17:00,secret\n", encoding="utf-8")
    [case] = read_cases(path, ZoneInfo("Asia/Shanghai"))
    assert datetime(2026, 3, 1, 1, tzinfo=UTC) == case.start
    assert datetime(2026, 3, 5, 9, tzinfo=UTC) == case.closed_at
    assert "secret" == case.sensitivity


def test_json_list_and_json_lines_carry_the_same_fields(tmp_path):
    doc = {"case_id": "C-2", "type": "sampling", "officers": ["110003"], "subject": "",
           "start": "2026-03-01T09:00:00+08:00", "end": "2026-03-01T10:00:00+08:00",
           "status": "open", "closed_at": None, "sensitivity": "normal"}
    as_json = tmp_path / "cases.json"
    as_json.write_text(json.dumps({"cases": [doc]}))
    as_lines = tmp_path / "cases.jsonl"
    as_lines.write_text(json.dumps(doc) + "\n" + json.dumps({**doc, "case_id": "C-3"}) + "\n")
    assert ["C-2"] == [c.case_id for c in read_cases(as_json, UTC)]
    assert ["C-2", "C-3"] == [c.case_id for c in read_cases(as_lines, UTC)]
