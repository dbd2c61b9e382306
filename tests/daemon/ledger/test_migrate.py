"""Migrations are numbered, applied once, and a newer ledger is refused."""

from __future__ import annotations

import sqlite3

import pytest

from evidock.daemon.errors import LedgerTooNew
from evidock.daemon.ledger import migrate
from evidock.daemon.ledger.sqlite import SqliteLedger


def test_migrations_are_numbered_without_duplicates():
    versions = [v for v, _, _ in migrate.available()]
    assert versions == sorted(set(versions)) and versions[0] == 1


def test_opening_twice_applies_nothing_the_second_time(tmp_path):
    SqliteLedger(tmp_path / "l.db", station="s").close()
    conn = sqlite3.connect(tmp_path / "l.db")
    assert [] == migrate.apply(conn).applied


def test_a_ledger_from_a_newer_evidock_is_refused(tmp_path):
    SqliteLedger(tmp_path / "l.db", station="s").close()
    conn = sqlite3.connect(tmp_path / "l.db")
    conn.execute("INSERT INTO schema_migrations VALUES (9999, '9999_future.sql', 'x')")
    conn.commit()
    with pytest.raises(LedgerTooNew):
        migrate.apply(conn)
