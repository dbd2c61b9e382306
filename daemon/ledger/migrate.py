"""Numbered, forward-only schema migrations (``migrations/NNNN_name.sql``)."""

from __future__ import annotations

import re
import sqlite3
from importlib import resources

from evidock.daemon.errors import LedgerTooNew
from evidock.daemon.timeutil import stamp, utcnow

_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


def available() -> list[tuple[int, str, str]]:
    """(version, file name, SQL) of every migration shipped with this evidock, in order."""
    found = []
    for entry in resources.files("evidock.daemon.ledger.migrations").iterdir():
        match = _NAME.match(entry.name)
        if match:
            found.append((int(match.group(1)), entry.name, entry.read_text(encoding="utf-8")))
    return sorted(found)


def apply(conn: sqlite3.Connection) -> list[str]:
    """Bring the database up to the newest schema; returns the names of applied files."""
    conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations "
        "(version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"
    )
    done = {row[0] for row in conn.execute("SELECT version FROM schema_migrations")}
    known = available()
    newest = max((v for v, _, _ in known), default=0)
    if done and max(done) > newest:
        raise LedgerTooNew(
            f"the ledger has schema version {max(done)}, this evidock knows up to {newest}",
            hint="run the newer evidock that wrote it; a ledger is never migrated backwards",
        )
    applied = []
    for version, name, sql in known:
        if version in done:
            continue
        # executescript commits first; run each file in its own explicit transaction
        try:
            conn.executescript(f"BEGIN IMMEDIATE;\n{sql}\n"
                               f"INSERT INTO schema_migrations VALUES ({version}, '{name}', "
                               f"'{stamp(utcnow())}');\nCOMMIT;")
        except sqlite3.Error:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        applied.append(name)
    return applied
