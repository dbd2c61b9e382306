"""Before a migration changes an existing ledger, a consistent copy of it is kept; commands
that only read refuse to migrate and say what to run."""

from __future__ import annotations

import sqlite3

from evidock.daemon.ledger import migrate

from ...daemon_proc import evidock
from ..test_service import make_footage

ENV = {"EVIDOCK_CONFIG": ""}


def older_ledger(tmp_path):
    """A station whose ledger predates the newest migration: its rows, in the schema of
    every migration but the newest (whatever that one changes: tables, columns, checks)."""
    make_footage(tmp_path / "in", "CAM-OLD", {"a.mp4": 1000})
    data = tmp_path / "d"
    # no probe: this evidock's probe events carry the fields migration 13 added, which the
    # rows of an older ledger cannot have (verify would say they were altered)
    config = tmp_path / "old.toml"
    config.write_text("[ingest]\nprobe = false\n")
    evidock("run", "--data-dir", str(data), "--watch", str(tmp_path / "in"), "--settle", "0",
            "--until-idle", "--no-derivatives", "--config", str(config), env=ENV)
    *older, (version, name, _) = migrate.available()
    path = data / "ledger.sqlite3"
    path.rename(tmp_path / "new.sqlite3")
    new, old = sqlite3.connect(tmp_path / "new.sqlite3"), sqlite3.connect(path)
    old.execute("CREATE TABLE schema_migrations "
                "(version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)")
    for v, n, sql in older:
        old.executescript(f"{sql};INSERT INTO schema_migrations VALUES ({v}, '{n}', 'then');")
    tables = [t for (t,) in old.execute("SELECT name FROM sqlite_master WHERE type = 'table' "
                                        "AND name != 'schema_migrations'")]
    for table in tables:
        cols = ", ".join(c[1] for c in old.execute(f"PRAGMA table_info({table})"))
        old.executemany(f"INSERT INTO {table} ({cols}) VALUES "
                        f"({', '.join('?' * len(cols.split(', ')))})",
                        new.execute(f"SELECT {cols} FROM {table}").fetchall())
    old.commit()
    new.close()
    old.close()
    return data, version, name


def versions(path) -> set[int]:
    db = sqlite3.connect(path)
    try:
        return {v for (v,) in db.execute("SELECT version FROM schema_migrations")}
    finally:
        db.close()


def test_a_read_command_refuses_to_migrate_and_changes_nothing(tmp_path):
    data, version, name = older_ledger(tmp_path)
    proc = evidock("ledger", "list", "--data-dir", str(data), check=False, env=ENV)
    assert 3 == proc.returncode, proc.stderr
    assert f"missing {name}); a command that reads does not migrate it" in proc.stderr
    assert f"`evidock ledger migrate --data-dir {data}`" in proc.stderr
    assert version not in versions(data / "ledger.sqlite3")
    assert [] == list(data.glob("ledger.sqlite3.before-*"))


def test_ledger_migrate_keeps_a_consistent_copy_first(tmp_path):
    data, version, name = older_ledger(tmp_path)
    out = evidock("ledger", "migrate", "--data-dir", str(data), env=ENV).stdout
    assert f"applied {name}" in out
    (copy,) = data.glob(f"ledger.sqlite3.before-{version:04d}-*")
    assert f"the ledger as it was is kept in {copy}" in out
    assert version in versions(data / "ledger.sqlite3")
    assert version not in versions(copy)
    db = sqlite3.connect(copy)
    assert [("ok",)] == db.execute("PRAGMA integrity_check").fetchall()
    assert 1 == db.execute("SELECT COUNT(*) FROM media").fetchone()[0]
    db.close()
    assert 0o640 == copy.stat().st_mode & 0o777
    assert "schema is up to date" in evidock("ledger", "migrate", "--data-dir", str(data),
                                             env=ENV).stdout
    assert "OK" in evidock("ledger", "verify", "--data-dir", str(data), env=ENV).stdout


def test_the_daemon_migrates_with_a_backup(tmp_path):
    data, version, _ = older_ledger(tmp_path)
    evidock("run", "--data-dir", str(data), "--watch", str(tmp_path / "in"), "--settle", "0",
            "--until-idle", "--no-derivatives", env=ENV)
    assert version in versions(data / "ledger.sqlite3")
    assert 1 == len(list(data.glob(f"ledger.sqlite3.before-{version:04d}-*")))
