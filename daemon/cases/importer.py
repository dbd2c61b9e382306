"""Reading a case export (CSV, JSON or JSON lines) from an enforcement case system.

CSV header, in this order::

    case_id,type,officers,subject,start,end,status,closed_at,sensitivity

``officers`` are badge numbers (警号) separated by ``;``; times are ISO 8601 (without an
offset they are taken in ``[cases] time_zone``); ``status`` is ``open`` or ``closed`` and a
closed case needs ``closed_at``.  JSON is a list of objects with the same keys (``officers``
may be a list), or ``{"cases": [...]}``; JSON lines has one object per line.

The whole file is checked before anything is written: every bad row is reported with its
line (or item) number, and one bad row means none of the file is imported.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from pathlib import Path

from evidock.daemon.errors import CaseImportError

HEADER = ["case_id", "type", "officers", "subject", "start", "end", "status", "closed_at",
          "sensitivity"]
SENSITIVITIES = ("normal", "confidential", "secret", "privacy")
_MAX_SHOWN = 20
#: the csv module's own limit on one cell; JSON cells get the same bound
MAX_CELL = 128 * 1024
#: case times outside these years are typing errors (and would overflow retention sums)
YEARS = (1970, 2999)


@dataclass(frozen=True)
class CaseRow:
    case_id: str
    type: str
    officers: tuple[str, ...]
    subject: str
    start: datetime
    end: datetime
    status: str
    closed_at: datetime | None
    sensitivity: str


def read_cases(path: str | Path, tz: tzinfo) -> list[CaseRow]:
    """Every case in the file, or :class:`CaseImportError` naming each bad row."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise CaseImportError(f"case file {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise CaseImportError(f"case file {path}: cannot read it as UTF-8 text: {exc}") from None
    stripped = text.lstrip()
    if path.suffix.lower() == ".jsonl" or (stripped.startswith("{") and "\n{" in stripped):
        records = _jsonl(path, text)
    elif stripped.startswith(("[", "{")):
        records = _json(path, text)
    else:
        records = _csv(path, text)
    rows, errors, seen = [], [], {}
    for where, record in records:
        try:
            row = _row(record, tz)
        except ValueError as exc:
            errors.append(f"{path}:{where}: {exc}")
            continue
        if row.case_id in seen:
            errors.append(f"{path}:{where}: case {row.case_id} appears again (first at "
                          f"{seen[row.case_id]})")
            continue
        seen[row.case_id] = where
        rows.append(row)
    if errors:
        shown = errors[:_MAX_SHOWN]
        more = f"\n  ... and {len(errors) - _MAX_SHOWN} more" if len(errors) > _MAX_SHOWN else ""
        raise CaseImportError(
            f"{len(errors)} bad row(s), nothing imported:\n  " + "\n  ".join(shown) + more,
            hint="fix the rows named above (or export them again) and import the file again")
    return rows


def _csv(path: Path, text: str) -> list[tuple[str, dict]]:
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader, None)
    if header is None:
        raise CaseImportError(f"case file {path} is empty")
    if [h.strip() for h in header] != HEADER:
        raise CaseImportError(f"{path}:1: the header must be {','.join(HEADER)}",
                              hint="export with exactly these columns, in this order")
    out = []
    start = reader.line_num + 1
    while True:
        where = f"line {start}"
        try:
            values = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:  # a cell over MAX_CELL, or a NUL byte: the rest cannot be read
            out.append((where, {"__error__": f"not readable as CSV ({exc}); a cell may hold at "
                                             f"most {MAX_CELL // 1024} KiB"}))
            break
        start = reader.line_num + 1
        if not any(v.strip() for v in values):
            continue
        if len(values) != len(HEADER):
            out.append((where, {"__error__": f"{len(values)} fields, expected {len(HEADER)}"}))
            continue
        out.append((where, dict(zip(HEADER, values, strict=True))))
    return out


def _json(path: Path, text: str) -> list[tuple[str, dict]]:
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CaseImportError(f"{path}:line {exc.lineno}: not valid JSON: {exc.msg}") from None
    if isinstance(doc, dict):
        doc = doc.get("cases")
    if not isinstance(doc, list):
        raise CaseImportError(f"{path}: expected a list of cases or {{\"cases\": [...]}}")
    return [(f"item {n}", item) for n, item in enumerate(doc, 1)]


def _jsonl(path: Path, text: str) -> list[tuple[str, dict]]:
    out = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            out.append((f"line {n}", json.loads(line)))
        except json.JSONDecodeError as exc:
            out.append((f"line {n}", {"__error__": f"not valid JSON: {exc.msg}"}))
    return out


def _row(record, tz: tzinfo) -> CaseRow:
    if not isinstance(record, dict):
        raise ValueError("expected an object with the case's fields")
    if "__error__" in record:
        raise ValueError(record["__error__"])
    unknown = sorted(set(record) - set(HEADER))
    if unknown:
        raise ValueError(f"unknown field(s) {', '.join(unknown)}")

    def text(key: str) -> str:
        value = record.get(key)
        value = "" if value is None else str(value).strip()
        if len(value.encode()) > MAX_CELL:
            raise ValueError(f"{key} is over {MAX_CELL // 1024} KiB")
        return value

    case_id, case_type = text("case_id"), text("type")
    if not case_id:
        raise ValueError("case_id is empty")
    if not case_type:
        raise ValueError(f"case {case_id}: type is empty")
    raw = record.get("officers") or ""
    officers = raw if isinstance(raw, list) else str(raw).split(";")
    officers = tuple(o for o in (str(x).strip() for x in officers) if o)
    if not officers:
        raise ValueError(f"case {case_id}: no officers (badge numbers separated by ';')")
    start, end = _time(case_id, "start", text("start"), tz), _time(case_id, "end", text("end"), tz)
    if end < start:
        raise ValueError(f"case {case_id}: end {text('end')} is before start {text('start')}")
    status = text("status").lower() or "open"
    if status not in ("open", "closed"):
        raise ValueError(f"case {case_id}: status {status!r} is neither open nor closed")
    closed_at = _time(case_id, "closed_at", text("closed_at"), tz) if text("closed_at") else None
    if status == "closed" and closed_at is None:
        raise ValueError(f"case {case_id}: closed but closed_at is empty")
    if status == "open":
        closed_at = None
    sensitivity = text("sensitivity").lower() or "normal"
    if sensitivity not in SENSITIVITIES:
        raise ValueError(f"case {case_id}: sensitivity {sensitivity!r} is not one of "
                         f"{', '.join(SENSITIVITIES)}")
    return CaseRow(case_id, case_type, officers, text("subject"), start, end, status, closed_at,
                   sensitivity)


def _time(case_id: str, key: str, value: str, tz: tzinfo) -> datetime:
    if not value:
        raise ValueError(f"case {case_id}: {key} is empty")
    try:
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"case {case_id}: {key} {value!r} is not an ISO 8601 time") from None
    dt = dt if dt.tzinfo else dt.replace(tzinfo=tz)
    try:
        year = dt.astimezone(UTC).year
    except OverflowError:  # year 1 or 9999 with an offset: beyond what a datetime holds
        year = dt.year
    if not YEARS[0] <= year <= YEARS[1]:
        raise ValueError(f"case {case_id}: {key} {value!r} is out of range (years "
                         f"{YEARS[0]} to {YEARS[1]})")
    return dt


def canonical_type(case_type: str, synonyms: dict[str, str]) -> str:
    """A case type as this station names it: ``[cases] type_synonyms`` maps what a case
    system writes (查封扣押财产, seizure ...) to the listed name (查封扣押)."""
    text = case_type.strip()
    return synonyms.get(text, synonyms.get(text.lower(), text))
