"""The PostgreSQL ledger passes the ledger contract on a real PostgreSQL, plus what only a
shared server can show: a writer kept waiting by another station, a server that cannot be
reached, a ledger that is not there, the error classes."""

from __future__ import annotations

import subprocess
import sys

import psycopg
import pytest

from evidock.daemon.errors import (
    LedgerBusy,
    LedgerError,
    LedgerFull,
    LedgerMissing,
    LedgerTooNew,
    LedgerUnavailable,
)
from evidock.daemon.ledger.postgres import PostgresLedger, translate

from ..pg_helpers import ledger_for, password
from .contract import Clock, LedgerContract, populate

pytestmark = pytest.mark.postgres

_WRITER = """
import sys
from evidock.daemon.ledger.postgres import PostgresLedger
ledger = PostgresLedger(sys.argv[1], password=sys.argv[2], schema=sys.argv[3], station=sys.argv[4])
for i in range(int(sys.argv[5])):
    ledger.ensure_device(f"{sys.argv[4]}-{i}", source="usb")
ledger.close()
"""


@pytest.fixture
def open_ledger(pg_server, pg_schema):
    opened = []

    def make(name: str = "main", clock=None) -> PostgresLedger:
        kw = {"clock": clock} if clock is not None else {}
        ledger = ledger_for(pg_server, f"{pg_schema}_{name}", **kw)
        opened.append(ledger)
        return ledger
    yield make
    for ledger in opened:
        ledger.close()


@pytest.fixture
def raw_sql(pg_server):
    """Edit the tables directly, as someone with the database's superuser password would
    (triggers and foreign keys off for the session, as a replica's apply does, so only the
    data changes)."""
    def run(ledger: PostgresLedger):
        def execute(sql: str, params=()) -> None:
            with pg_server.connect(autocommit=True) as conn:
                conn.execute(f"SET search_path TO {ledger.schema}")
                conn.execute("SET session_replication_role = replica")
                conn.execute(sql.replace("?", "%s"), params)
        return execute
    return run


@pytest.fixture
def rebuild(pg_server, pg_schema):
    made = []

    def make(events) -> PostgresLedger:
        ledger = PostgresLedger.rebuild(pg_server.dsn, password=password(pg_server),
                                        schema=f"{pg_schema}_rebuilt", station="st-1",
                                        events=events)
        made.append(ledger)
        return ledger
    yield make
    for ledger in made:
        ledger.close()


@pytest.fixture
def spawn_writer(pg_server):
    def spawn(ledger: PostgresLedger, tag: str, n: int):
        return subprocess.Popen([sys.executable, "-c", _WRITER, pg_server.dsn,
                                 password(pg_server), ledger.schema, tag, str(n)])
    return spawn


class TestPostgresLedgerContract(LedgerContract):
    @pytest.fixture
    def raw_sql(self, raw_sql, ledger):
        return raw_sql(ledger)


def test_a_missing_ledger_is_not_created_when_asked_not_to(pg_server, pg_schema):
    with pytest.raises(LedgerMissing, match="no ledger in postgres"):
        ledger_for(pg_server, pg_schema, create=False)
    with pg_server.connect() as conn:
        assert None is conn.execute("SELECT 1 FROM information_schema.schemata WHERE "
                                    "schema_name = %s", (pg_schema,)).fetchone()


def test_a_writer_kept_waiting_by_another_station_gets_ledger_busy_and_writes_nothing(
        pg_server, pg_schema):
    ledger = ledger_for(pg_server, pg_schema, busy_timeout=0.2)
    ledger.record("note", "station:x", {})
    with pg_server.connect() as other:  # another station inside a long write
        other.execute("SELECT pg_advisory_xact_lock(%s)", (ledger.lock_key,))
        with pytest.raises(LedgerBusy, match="lock timeout"):
            ledger.ensure_device("CAM1", source="usb")
    assert (1, []) == (ledger.head()[0], ledger.devices())
    ledger.ensure_device("CAM1", source="usb")
    assert ledger.verify().ok
    ledger.close()


def test_a_server_that_cannot_be_reached_is_ledger_unavailable_and_says_where(pg_server):
    dsn = pg_server.dsn.replace(f"port={pg_server.port}", "port=1")
    with pytest.raises(LedgerUnavailable, match="port=1") as caught:
        PostgresLedger(dsn, password="x", station="st", connect_timeout=2)
    assert "reachable" in caught.value.hint
    assert isinstance(caught.value, LedgerBusy)  # retried, as a busy ledger is


def test_a_wrong_password_is_named_and_not_shown(pg_server, pg_schema):
    with pytest.raises(LedgerError, match="password authentication failed") as caught:
        PostgresLedger(pg_server.dsn, password="not-the-password", schema=pg_schema,
                       station="st")
    assert "not-the-password" not in str(caught.value)


def test_a_full_disk_on_the_server_is_ledger_full():
    assert isinstance(translate("x", psycopg.errors.DiskFull("no space left"), "write"),
                      LedgerFull)


def test_the_rows_read_back_have_sqlites_types(pg_server, pg_schema):
    """Sums come back as int, not Decimal; bytes as bytes; floats as floats: the same values
    SQLite gives, so verify's replay (SQLite) compares equal."""
    ledger = ledger_for(pg_server, pg_schema, clock=Clock())
    populate(ledger)
    figures = ledger.station_figures()
    assert all(type(v) in (int, float, type(None), str, dict, list) for v in figures.values())
    media = next(ledger.projected_rows("media"))
    assert (bytes, float) == (type(media["source_path_raw"]), type(media["clock_offset_s"]))
    ledger.close()


def test_a_schema_name_that_is_not_plain_is_refused(pg_server):
    with pytest.raises(LedgerError, match="not a plain"):
        PostgresLedger(pg_server.dsn, password="x", schema="a; DROP TABLE x", station="st")


def test_a_ledger_written_by_a_newer_evidock_is_refused(pg_server, pg_schema):
    ledger_for(pg_server, pg_schema).close()
    with pg_server.connect(autocommit=True) as conn:
        conn.execute(f"INSERT INTO {pg_schema}.schema_migrations VALUES (9999, "
                     "'9999_future.sql', 'x')")
    with pytest.raises(LedgerTooNew, match="schema version 9999"):
        ledger_for(pg_server, pg_schema)
