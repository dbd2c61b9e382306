"""A bad row is reported by its line number and nothing of the file is imported."""

from __future__ import annotations

from datetime import UTC

import pytest

from evidock.daemon.cases.importer import CaseImportError, read_cases

from ..world import World

HEADER = "case_id,type,officers,subject,start,end,status,closed_at,sensitivity\n"
GOOD = "C-1,seizure,110001,,2026-03-01T09:00Z,2026-03-01T10:00Z,open,,normal\n"


def write(tmp_path, text):
    path = tmp_path / "cases.csv"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("row, says", [
    ("C-2,seizure,110001,,yesterday,2026-03-01T10:00Z,open,,normal\n", "not an ISO 8601 time"),
    ("C-2,seizure,,,2026-03-01T09:00Z,2026-03-01T10:00Z,open,,normal\n", "no officers"),
    ("C-2,seizure,110001,,2026-03-01T11:00Z,2026-03-01T10:00Z,open,,normal\n", "before start"),
    ("C-2,seizure,110001,,2026-03-01T09:00Z,2026-03-01T10:00Z,closed,,normal\n",
     "closed but closed_at is empty"),
    ("C-2,seizure,110001\n", "3 fields, expected 9"),
    (GOOD, "appears again (first at line 2)"),
])
def test_the_bad_row_is_named_by_its_line(tmp_path, row, says):
    path = write(tmp_path, HEADER + GOOD + row)
    with pytest.raises(CaseImportError) as err:
        read_cases(path, UTC)
    assert f"{path}:line 3: " in err.value.message
    assert says in err.value.message


def test_a_wrong_header_is_refused(tmp_path):
    path = write(tmp_path, "id,type\nC-1,seizure\n")
    with pytest.raises(CaseImportError, match="header must be case_id,type,officers"):
        read_cases(path, UTC)


def test_a_quoted_multi_line_subject_keeps_later_line_numbers_right(tmp_path):
    path = write(tmp_path, HEADER + 'C-1,seizure,110001,"two\nlines",2026-03-01T09:00Z,'
                 '2026-03-01T10:00Z,open,,normal\nC-2,seizure,110001,,bad,bad,open,,normal\n')
    with pytest.raises(CaseImportError, match=r"line 4: case C-2"):
        read_cases(path, UTC)


def test_nothing_of_a_file_with_one_bad_row_reaches_the_ledger(tmp_path):
    world = World(tmp_path)
    path = write(tmp_path, HEADER + GOOD + "C-2,seizure,110001,,x,y,open,,normal\n")
    with pytest.raises(CaseImportError):
        world.c.cases.import_rows(read_cases(path, UTC), by="t", source=str(path))
    assert [] == world.c.cases.cases()
    assert [] == [e for e in world.ledger.events() if e.kind.startswith("case_")]
