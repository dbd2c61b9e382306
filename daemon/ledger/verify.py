"""``evidock ledger verify``: recompute the chain, then replay it against every table.

Two checks, each naming the first entry that fails:

1. The chain: sequence numbers run 1, 2, 3 ... without gaps, each ``prev_hash`` is the hash
   of the event before, and each ``hash`` recomputes from its row.
2. The replay: every event goes through its projector (projection.py) into a fresh
   in-memory database with the same migrations, and every column of every row of every
   projected table must equal the ledger's.  The first difference is named: table, row
   key, column, the value found and the value the events say; a row with no history and a
   row whose history exists but is missing are named too.

Works on any :class:`~evidock.daemon.ledger.base.Ledger` (it reads ``events()`` and
``projected_rows()``); the replay database is always SQLite.  The anchor comparison (tail
truncation, rollback) sits on top of this, in anchor.py.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field

from evidock.daemon.ledger import migrate, projection
from evidock.daemon.ledger.chain import GENESIS, event_hash
from evidock.daemon.timeutil import parse


@dataclass
class Report:
    events: int = 0
    media: int = 0
    rows: int = 0  # rows compared, over every projected table
    head: tuple[int, str] = (0, GENESIS)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def _where(ev) -> str:
    return f"event {ev.seq} ({ev.kind} {ev.subject}, {ev.at})"


def _replica() -> sqlite3.Connection:
    db = sqlite3.connect(":memory:", isolation_level=None)
    db.row_factory = sqlite3.Row
    migrate.apply(db)
    db.execute("BEGIN")
    return db


def _show(value):
    return value.hex() if isinstance(value, bytes) else value


def _same(table: str, key: str, column: str, have, want, loose: set) -> bool:
    if have == want:
        return True
    if (table, key, column) in loose and isinstance(have, str) and isinstance(want, str):
        try:
            gap = abs((parse(have) - parse(want)).total_seconds())
        except ValueError:
            return False
        return gap <= projection.LOOSE_SECONDS
    return False


def verify(ledger) -> Report:
    """Check the chain and the replay of ``ledger``; the report names the first problem."""
    report = Report()
    db, loose = _replica(), set()
    prev, want_seq = GENESIS, 1
    for ev in ledger.events():
        report.events += 1
        if ev.seq != want_seq:
            report.problems.append(f"{_where(ev)}: expected sequence number {want_seq}: "
                                   f"events {want_seq}..{ev.seq - 1} are missing")
            return report
        if ev.prev_hash != prev:
            report.problems.append(f"{_where(ev)}: does not chain to the event before it")
            return report
        digest = event_hash(ev.seq, ev.at, ev.station, ev.kind, ev.subject, ev.data,
                            ev.prev_hash)
        if digest != ev.hash:
            report.problems.append(f"{_where(ev)}: its content does not match its hash "
                                   "(the entry was altered)")
            return report
        try:
            projection.apply(db, ev, loose)
        except (KeyError, TypeError, ValueError, json.JSONDecodeError, sqlite3.Error) as exc:
            report.problems.append(f"{_where(ev)}: cannot be replayed onto the tables: "
                                   f"{type(exc).__name__}: {exc}")
            return report
        prev, want_seq = ev.hash, want_seq + 1
    report.head = (want_seq - 1, prev)
    for table, key in projection.TABLES.items():
        problem = _compare(table, key, ledger.projected_rows(table),
                           db.execute(f"SELECT * FROM {table} ORDER BY {key}"), loose, report)
        if problem:
            report.problems.append(problem)
            return report
    return report


def _compare(table: str, key: str, found, expected, loose: set, report: Report) -> str | None:
    want = {row[key]: dict(row) for row in expected}
    for row in found:
        report.rows += 1
        report.media += table == "media"
        name = row[key]
        events_say = want.pop(name, None)
        if events_say is None:
            return (f"{table} {name}: the row has no history in the events (inserted behind "
                    "the ledger's back)")
        for column, have in row.items():
            should = events_say.get(column)
            if not _same(table, str(name), column, have, should, loose):
                return (f"{table} {name}: column {column} is {_show(have)!r} but the events "
                        f"say {_show(should)!r} (the row was altered)")
    if want:
        first = min(want)
        return (f"{table} {first}: recorded in the events but its row is missing (deleted "
                "behind the ledger's back)")
    return None


def station_part(ledger, station: str) -> dict:
    """One station's part of a shared chain (after :func:`verify` checked all of it): how
    many events it appended, where they lie in the chain, what it copied and handed over.
    A station's events are not a chain of their own: they are checked as links of the one
    chain every station appends to (FORMATS.md, "Many stations")."""
    first = last = None
    events = 0
    attempts = set()
    handed_over = set()
    for ev in ledger.events():
        if ev.station != station:
            continue
        events += 1
        first = ev.seq if first is None else first
        last = ev.seq
        if ev.kind == "attempt_started":
            attempts.add(json.loads(ev.data)["attempt_id"])
        elif ev.kind == "media_verified":
            handed_over.add(json.loads(ev.data)["media_id"])
    return {"station": station, "events": events, "first_seq": first, "last_seq": last,
            "attempts": len(attempts), "recordings": len(handed_over)}


def chain_head(ledger) -> tuple[int, str]:
    """``(seq, hash)`` of the newest event of ``ledger``."""
    return ledger.head()
