"""A PostgreSQL ledger on the test server (tests/pg_fixture.py), in a schema of its own."""

from __future__ import annotations

from evidock.daemon.ledger.postgres import PostgresLedger


def password(server) -> str:
    return server.password_file.read_text().strip()


def ledger_for(server, schema: str, *, station: str = "st-1", **kw) -> PostgresLedger:
    return PostgresLedger(server.dsn, password=password(server), schema=schema,
                          station=station, **kw)
