"""Numbered, forward-only schema migrations (``migrations/NNNN_name.sql``)."""

from __future__ import annotations

import os
import re
import sqlite3
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import structlog

from evidock.daemon.errors import LedgerError, LedgerTooNew
from evidock.daemon.timeutil import stamp, utcnow

log = structlog.get_logger("evidock.ledger.migrate")


@dataclass(frozen=True)
class Migration:
    applied: list[str]  # file names, in order
    backup: Path | None  # the copy taken before, for an existing ledger

_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


def available() -> list[tuple[int, str, str]]:
    """(version, file name, SQL) of every migration shipped with this evidock, in order."""
    found = []
    for entry in resources.files("evidock.daemon.ledger.migrations").iterdir():
        match = _NAME.match(entry.name)
        if match:
            found.append((int(match.group(1)), entry.name, entry.read_text(encoding="utf-8")))
    return sorted(found)


def pending(conn: sqlite3.Connection) -> tuple[list[tuple[int, str, str]], bool]:
    """The migrations this ledger lacks, and whether it has any schema yet (a new file)."""
    has_table = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND "
                             "name = 'schema_migrations'").fetchone() is not None
    done = ({row[0] for row in conn.execute("SELECT version FROM schema_migrations")}
            if has_table else set())
    known = available()
    newest = max((v for v, _, _ in known), default=0)
    if done and max(done) > newest:
        raise LedgerTooNew(
            f"the ledger has schema version {max(done)}, this evidock knows up to {newest}",
            hint="run the newer evidock that wrote it; a ledger is never migrated backwards",
        )
    return [m for m in known if m[0] not in done], bool(done)


def backup(conn: sqlite3.Connection, path: Path, before: int) -> Path:
    """A consistent copy of the whole ledger (SQLite's online backup: a snapshot even while
    another process writes), beside it, named after the migration it precedes."""
    when = stamp(utcnow()).replace(":", "").replace("-", "")[:15]
    target = path.with_name(f"{path.name}.before-{before:04d}-{when}")
    copy = sqlite3.connect(target)
    try:
        conn.backup(copy)
        copy.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
    finally:
        copy.close()
    with open(target, "rb") as fh:
        os.fsync(fh.fileno())
    return target


def apply(conn: sqlite3.Connection, *, path: Path | None = None,
          allowed: bool = True) -> Migration:
    """Bring the database up to the newest schema: the files applied and the backup made.

    An existing ledger (``path``) is first copied whole (:func:`backup`), so a migration
    that goes wrong can be undone.  ``allowed`` False (a command that only reads) refuses
    to change an existing ledger's schema: ``LedgerError`` naming what is missing."""
    todo, existing = pending(conn)
    if not todo:
        return Migration([], None)
    if existing and not allowed:
        raise LedgerError(
            f"ledger {path}: its schema is older than this evidock "
            f"(missing {', '.join(name for _, name, _ in todo)}); a command that reads does "
            "not migrate it",
            hint="run `evidock ledger migrate` (it keeps a backup), or start the daemon")
    copy = None
    if existing and path is not None:
        copy = backup(conn, path, todo[0][0])
        log.warning("ledger_backed_up", ledger=str(path), backup=str(copy),
                    before=[name for _, name, _ in todo])
    conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations "
        "(version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"
    )
    applied = []
    # foreign keys off while a file runs, so one may rebuild a table others refer to
    # (SQLite's way of changing a constraint); checked whole before it commits
    enforced = conn.execute("PRAGMA foreign_keys").fetchone()[0]
    conn.execute("PRAGMA foreign_keys=OFF")
    try:
        for version, name, sql in todo:
            # executescript commits first; run each file in its own explicit transaction
            try:
                conn.executescript(f"BEGIN IMMEDIATE;\n{sql}\n"
                                   f"INSERT INTO schema_migrations VALUES ({version}, "
                                   f"'{name}', '{stamp(utcnow())}');")
                broken = conn.execute("PRAGMA foreign_key_check").fetchall()
                if broken:
                    raise LedgerError(f"migration {name} leaves {len(broken)} row(s) whose "
                                      f"reference is missing (first: {tuple(broken[0])})",
                                      hint="nothing was changed; report it with the ledger")
                conn.execute("COMMIT")
            except (sqlite3.Error, LedgerError):
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            applied.append(name)
    finally:
        conn.execute(f"PRAGMA foreign_keys={'ON' if enforced else 'OFF'}")
    return Migration(applied, copy)
