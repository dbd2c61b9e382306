"""The PostgreSQL ledger: one ledger shared by many stations.

Same tables (``migrations_pg/`` mirrors ``migrations/``), same queries (the mixins of
media.py, casework.py, alerting.py, audits.py and derivatives.py run unchanged: a thin
adapter turns SQLite's ``?`` placeholders into psycopg's), same projectors and the same
chain as :class:`~evidock.daemon.ledger.sqlite.SqliteLedger`.

**One chain, serialised appends.**  Every write transaction of every station first takes one
transaction-scoped advisory lock of the ledger (``pg_advisory_xact_lock``), the way SQLite's
``BEGIN IMMEDIATE`` takes its write lock: the head is read, the next ``seq`` and ids chosen
and the event appended under it, so the fleet's history is one gap-free chain and two
stations can never fork it (``events.seq`` is the primary key besides).  The lock is held only
for the transaction's few statements (no I/O to a device or a store happens inside one); its
cost is measured in FORMATS.md.  A writer that waits longer than ``busy_timeout`` gets
``LedgerBusy``; an unreachable server ``LedgerUnavailable``; a full disk ``LedgerFull``.

**Station liveness.**  Each ledger object also holds, on a connection of its own, a
session-scoped advisory lock named after its station, for as long as the process lives.
PostgreSQL drops it when the station's session ends (process killed, host gone: TCP
keepalives), which is how another station learns that a claim (an open attempt) was left
by a dead station and may be taken over (media.py ``take_over_abandoned``).

No psycopg error leaves this module: each becomes a :class:`LedgerError` by what failed.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from functools import lru_cache

import psycopg
import psycopg_pool
from psycopg import errors as pg_errors
from psycopg.types.numeric import NumericLoader

from evidock.daemon import faults
from evidock.daemon.errors import (
    EvidockError,
    LedgerBusy,
    LedgerCorrupt,
    LedgerError,
    LedgerFull,
    LedgerMissing,
    LedgerUnavailable,
)
from evidock.daemon.ledger import pg_migrate, projection
from evidock.daemon.ledger.alerting import AlertsMixin
from evidock.daemon.ledger.audits import AuditsMixin
from evidock.daemon.ledger.casework import CaseworkMixin
from evidock.daemon.ledger.chain import GENESIS, canonical, event_hash
from evidock.daemon.ledger.custody import CustodyMixin
from evidock.daemon.ledger.derivatives import DerivativesMixin
from evidock.daemon.ledger.fingerprints import FingerprintsMixin
from evidock.daemon.ledger.media import MediaMixin
from evidock.daemon.ledger.records import Event
from evidock.daemon.timeutil import Clock, stamp, utcnow

_EVENT_COLUMNS = "seq, at, station, kind, subject, data, prev_hash, hash"
_SCHEMA = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
_PAGE = 5000  # rows per round trip when a whole table or the chain is read


class Row(dict):
    """A row by column name, as the mixins read it (``row["id"]``, ``dict(row)``), and by
    position (``row[0]``) like ``sqlite3.Row``."""

    __slots__ = ()

    def __getitem__(self, key):
        if isinstance(key, int):
            return list(self.values())[key]
        return super().__getitem__(key)


def _row_factory(cursor):
    names = [c.name for c in cursor.description or ()]
    return lambda values: Row(zip(names, values, strict=True))


class _Numeric(NumericLoader):
    """SUM over BIGINT is NUMERIC in PostgreSQL: give back an int (SQLite's answer), a float
    when it has a fraction."""

    def load(self, data):
        value = super().load(data)
        return int(value) if value == value.to_integral_value() else float(value)


@lru_cache(maxsize=1024)
def _sql(query: str) -> str:
    """A mixin's SQLite-style query for psycopg: ``%`` escaped, ``?`` -> ``%s``."""
    return query.replace("%", "%%").replace("?", "%s")


class _Conn:
    """The connection as the mixins and projectors use it: ``execute(sql, params)``."""

    __slots__ = ("raw",)

    def __init__(self, raw: psycopg.Connection) -> None:
        self.raw = raw

    def execute(self, query: str, params=()):
        return self.raw.execute(_sql(query), tuple(params))

    def executemany(self, query: str, rows) -> None:
        with self.raw.cursor() as cur:
            cur.executemany(_sql(query), [tuple(r) for r in rows])


def lock_key(*parts: str) -> int:
    """A signed 64-bit advisory-lock key for a name (the ledger's schema, a station)."""
    digest = hashlib.sha256("\0".join(("evidock", *parts)).encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def translate(where: str, exc: Exception, doing: str) -> LedgerError:
    """The ledger error for a psycopg or pool error, classed by what failed."""
    text = str(exc).strip() or type(exc).__name__
    msg = f"ledger {where}: {doing}: {text}"
    if isinstance(exc, pg_errors.DiskFull | pg_errors.OutOfMemory):
        return LedgerFull(msg, hint="free space on the PostgreSQL server; nothing was written "
                                    "and the work is retried")
    if isinstance(exc, pg_errors.LockNotAvailable | pg_errors.QueryCanceled |
                  pg_errors.DeadlockDetected | pg_errors.SerializationFailure):
        return LedgerBusy(msg, hint="other stations held the ledger too long; it is retried")
    if isinstance(exc, pg_errors.DataCorrupted | pg_errors.IndexCorrupted):
        return LedgerCorrupt(msg, hint="stop the stations, check the database and restore it "
                                       "from a backup; check it with 'evidock ledger verify'")
    if isinstance(exc, psycopg_pool.PoolTimeout | psycopg.OperationalError):
        return LedgerUnavailable(msg, hint="check that PostgreSQL is running and reachable from "
                                           "this station (ledger.dsn) and the password; a "
                                           "running daemon keeps the files on the device and "
                                           "retries")
    return LedgerError(msg, hint="check ledger.dsn, the database role's privileges and the "
                                 "server's log")


class PostgresLedger(MediaMixin, CaseworkMixin, AlertsMixin, AuditsMixin, DerivativesMixin,
                     CustodyMixin, FingerprintsMixin):
    """Thread-safe: a pool of connections; writes are serialised across every station."""

    def __init__(self, dsn: str, *, station: str, password: str | None = None,
                 schema: str = "public", clock: Clock = utcnow, create: bool = True,
                 busy_timeout: float = 30.0, pool_size: int = 4,
                 connect_timeout: float = 10.0, lease_seconds: float = 120.0) -> None:
        if not _SCHEMA.match(schema):
            raise LedgerError(f"ledger schema {schema!r} is not a plain lower-case SQL name",
                              hint="use letters, digits and _ (ledger.schema)")
        self.dsn, self.schema, self.station, self.clock = dsn, schema, station, clock
        self.busy_timeout, self.lease_seconds = busy_timeout, lease_seconds
        self.where = describe(dsn, schema)
        self._password = password
        self._local = threading.local()
        self._write_lock = threading.RLock()
        self.lock_key = lock_key("ledger", schema)
        self._alive: psycopg.Connection | None = None
        try:
            with self._direct(connect_timeout) as conn:
                exists = conn.execute(
                    "SELECT 1 FROM information_schema.tables WHERE table_schema = %s AND "
                    "table_name = 'schema_migrations'", (schema,)).fetchone() is not None
                if not exists and not create:
                    raise LedgerMissing(
                        f"no ledger in {self.where}",
                        hint="check ledger.dsn and ledger.schema; the shared ledger is created "
                             "by a station's first `evidock run` (or `evidock ledger migrate "
                             "--to postgres`), never by a command that reads")
                if not exists:  # a stations' role without CREATE never gets here
                    # IF NOT EXISTS is no guard against a second station creating it at the
                    # same moment (a unique violation in the catalogue): the ledger's lock is
                    with conn.transaction():
                        conn.execute("SELECT pg_advisory_xact_lock(%s)", (self.lock_key,))
                        conn.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
                conn.execute(f"SET search_path TO {schema}")
                if not exists or pg_migrate.pending(conn):
                    pg_migrate.apply(conn, self.lock_key)
            self._pool = psycopg_pool.ConnectionPool(
                dsn, min_size=1, max_size=max(pool_size, 1), open=False,
                kwargs=self._connect_kwargs(), configure=_configure, timeout=connect_timeout,
                name=f"evidock-ledger-{station}")
            self._pool.open(wait=True, timeout=connect_timeout)
            self._alive = self._hold_station(connect_timeout)
        except psycopg.Error as exc:
            raise translate(self.where, exc, "cannot open it") from exc
        except psycopg_pool.PoolTimeout as exc:
            raise translate(self.where, exc, "cannot open it") from exc

    def _station_key(self, station: str) -> int:
        return lock_key("station", self.schema, station)

    def _hold_station(self, connect_timeout: float) -> psycopg.Connection | None:
        """Take this station's liveness lock on a connection kept open for it; None when
        another process of the same station (the running daemon) already holds it."""
        kw = {**self._connect_kwargs(), "connect_timeout": max(int(connect_timeout), 1)}
        conn = psycopg.connect(self.dsn, **kw)
        if conn.execute("SELECT pg_try_advisory_lock(%s)",
                        (self._station_key(self.station),)).fetchone()[0]:
            return conn
        conn.close()
        return None

    def _may_take_over(self, conn, station: str, started_at: str) -> bool:
        """A claim of another station may be taken over once its lease ran out *and* that
        station's liveness lock is free (its session is gone: killed, powered off, cut off
        for longer than the keepalives allow).  Our own claim only when this object holds
        our liveness lock (no other process of this station is running)."""
        if station == self.station:
            return self._alive is not None
        if started_at > stamp(self.clock() - timedelta(seconds=self.lease_seconds)):
            return False
        key = self._station_key(station)
        if not conn.execute("SELECT pg_try_advisory_lock(?)", (key,)).fetchone()[0]:
            return False
        conn.execute("SELECT pg_advisory_unlock(?)", (key,))
        return True

    def live_stations(self) -> list[str]:
        """Stations of this ledger whose liveness lock is held now (their daemon runs)."""
        stations = [r["station"] for r in self._rows(
            "SELECT DISTINCT station FROM attempts UNION SELECT DISTINCT station FROM events")]
        keys = {self._station_key(s): s for s in stations}
        rows = self._rows("SELECT (classid::bigint << 32) | objid::bigint AS key FROM pg_locks "
                          "WHERE locktype = 'advisory' AND granted AND objsubid = 1")
        held = {r["key"] for r in rows}
        return sorted(s for k, s in keys.items() if k in held)

    def _connect_kwargs(self) -> dict:
        kw = {"autocommit": True, "row_factory": _row_factory,
              "options": f"-c search_path={self.schema}", "application_name": "evidock",
              # a station that vanishes (power, network) loses its session within a minute:
              # its liveness lock goes with it and its claims can be taken over
              "keepalives": 1, "keepalives_idle": 10, "keepalives_interval": 5,
              "keepalives_count": 3, "tcp_user_timeout": 30000}
        if self._password:
            kw["password"] = self._password
        return kw

    @contextmanager
    def _direct(self, connect_timeout: float = 10.0) -> Iterator[psycopg.Connection]:
        kw = {**self._connect_kwargs(), "connect_timeout": max(int(connect_timeout), 1)}
        kw.pop("options")
        conn = psycopg.connect(self.dsn, **kw)
        _configure(conn)
        try:
            yield conn
        finally:
            conn.close()

    @classmethod
    def rebuild(cls, dsn: str, *, station: str, events: Iterable[Event],
                password: str | None = None, schema: str = "public",
                clock: Clock = utcnow) -> PostgresLedger:
        """A new ledger in ``schema`` whose events are exactly ``events`` (copied verbatim)
        and whose tables are their projection.  Refuses a schema that holds a ledger; when an
        event cannot be applied nothing is left behind (the whole copy is one transaction)."""
        probe = cls.__new__(cls)
        probe.dsn, probe._password, probe.schema = dsn, password, schema
        probe.where = describe(dsn, schema)
        try:
            with probe._direct() as conn:
                if conn.execute("SELECT 1 FROM information_schema.tables WHERE table_schema = "
                                "%s AND table_name = 'events'", (schema,)).fetchone():
                    raise LedgerError(f"ledger {probe.where} already exists: a rebuild never "
                                      "writes over a ledger", hint="choose a new schema")
        except psycopg.Error as exc:
            raise translate(probe.where, exc, "cannot open it") from exc
        ledger = cls(dsn, station=station, password=password, schema=schema, clock=clock)
        try:
            with ledger._transaction() as conn:
                copy_events(conn, events)
        except LedgerError as exc:
            ledger.close()
            ledger._drop_schema()
            at = getattr(exc, "at", "")
            raise LedgerError(f"ledger {ledger.where}: cannot rebuild it{at}: {exc}",
                              hint="the events must be a whole chain from seq 1, as read "
                                   "from a ledger or the store") from exc
        return ledger

    def _drop_schema(self) -> None:
        """Only for a rebuild that failed: the schema it made itself, nothing else."""
        try:
            with self._direct() as conn:
                conn.execute(f"DROP SCHEMA IF EXISTS {self.schema} CASCADE")
        except psycopg.Error:
            pass

    # -- connections, reads and transactions -------------------------------------------------

    def _rows(self, sql: str, params=()) -> list[Row]:
        tx = getattr(self._local, "tx", None)
        try:
            if tx is not None:  # inside this thread's write: see what it wrote
                return tx.execute(sql, params).fetchall()
            with self._pool.connection() as raw:
                return _Conn(raw).execute(sql, params).fetchall()
        except (psycopg.Error, psycopg_pool.PoolTimeout) as exc:
            raise translate(self.where, exc, "cannot read it") from exc

    def _one(self, sql: str, params=()) -> Row | None:
        rows = self._rows(sql, params)
        return rows[0] if rows else None

    def close(self) -> None:
        pool = getattr(self, "_pool", None)
        if pool is not None:
            pool.close()
        if self._alive is not None:
            self._alive.close()
            self._alive = None

    @contextmanager
    def _transaction(self, *, durable: bool = True) -> Iterator[_Conn]:
        """A write transaction under the ledger's lock: the events appended in it commit with
        the rows they project, or nothing does.  Any psycopg error becomes a LedgerError.

        ``durable=False`` (the per-file steps before a hand-over, see base.py "Durability")
        commits with ``synchronous_commit`` off for this transaction: the server does not
        wait for its WAL flush, and the next durable commit flushes it too."""
        joined = getattr(self._local, "tx", None)
        if joined is not None:  # a write called from inside a write: one transaction
            yield joined
            return
        with self._write_lock:
            try:
                with self._pool.connection() as raw:
                    with raw.transaction():
                        # one round trip: the wait's limit, then the fleet's write lock
                        raw.execute("SELECT set_config('lock_timeout', %s, true), "
                                    "set_config('synchronous_commit', %s, true), "
                                    "pg_advisory_xact_lock(%s)",
                                    (f"{int(self.busy_timeout * 1000)}ms",
                                     "on" if durable else "off", self.lock_key))
                        conn = self._local.tx = _Conn(raw)
                        try:
                            yield conn
                            faults.point("ledger_commit")
                        finally:
                            self._local.tx = None
            except (psycopg.Error, psycopg_pool.PoolTimeout) as exc:
                raise translate(self.where, exc, "cannot write it") from exc

    def now(self) -> str:
        return stamp(self.clock())

    def event_data(self, event: Event) -> dict:
        return json.loads(event.data)

    def sync(self) -> None:
        """Make every commit so far durable, the lazy ones included: a transaction that
        takes an id commits a WAL record, and a synchronous commit waits until the WAL up to
        it (every earlier commit with it) is flushed."""
        with self._transaction() as conn:
            conn.execute("SELECT txid_current()")

    def _emit(self, conn: _Conn, kind: str, subject: str, data: dict) -> Event:
        """Append one chained event and apply it to the tables through its projector."""
        last = conn.execute("SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1").fetchone()
        seq, prev = (last["seq"] + 1, last["hash"]) if last else (1, GENESIS)
        at, body = self.now(), canonical(data)
        digest = event_hash(seq, at, self.station, kind, subject, body, prev)
        ev = Event(seq, at, self.station, kind, subject, body, prev, digest)
        # the event and its projection in one round trip (psycopg's pipeline mode): the
        # fleet's write lock is held for fewer network waits
        with conn.raw.pipeline():
            conn.execute(f"INSERT INTO events ({_EVENT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, "
                         "?)", (seq, at, self.station, kind, subject, body, prev, digest))
            projection.apply(conn, ev)
        return ev

    @staticmethod
    def _next_id(conn: _Conn, table: str, column: str = "id") -> int:
        return conn.execute(f"SELECT COALESCE(MAX({column}), 0) + 1 FROM {table}").fetchone()[0]

    # -- whole-ledger calls ------------------------------------------------------------------

    def record(self, kind: str, subject: str, data: dict) -> Event:
        if kind in projection.PROJECTORS:
            raise EvidockError(f"event kind {kind!r} changes the tables; use its ledger method")
        with self._transaction() as conn:
            return self._emit(conn, kind, subject, data)

    def events(self, *, subject: str | None = None, after: int = 0,
               kinds: Iterable[str] | None = None, since: str | None = None,
               station: str | None = None) -> Iterator[Event]:
        """In chain order, read a page at a time (a fleet's chain does not fit in memory);
        ``station``: only the events that station appended."""
        where, params = [], []
        for clause, value in (("subject = ?", subject), ("at >= ?", since),
                              ("station = ?", station)):
            if value is not None:
                where.append(clause)
                params.append(value)
        if kinds is not None:
            kinds = list(kinds)
            where.append(f"kind IN ({','.join('?' * len(kinds))})")
            params.extend(kinds)
        sql = f"SELECT {_EVENT_COLUMNS} FROM events WHERE seq > ?"
        sql += "".join(f" AND {w}" for w in where) + f" ORDER BY seq LIMIT {_PAGE}"
        last = after
        while True:
            page = self._rows(sql, (last, *params))
            for row in page:
                yield Event(**row)
            if len(page) < _PAGE:
                return
            last = page[-1]["seq"]

    def head(self) -> tuple[int, str]:
        row = self._one("SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1")
        return (row["seq"], row["hash"]) if row else (0, GENESIS)

    def projected_rows(self, table: str) -> Iterator[dict]:
        """Every row of a projected table, ordered by its key, a page at a time."""
        key = projection.TABLES[table]
        first = f"SELECT * FROM {table} ORDER BY {key} LIMIT {_PAGE}"
        more = f"SELECT * FROM {table} WHERE {key} > ? ORDER BY {key} LIMIT {_PAGE}"
        page = self._rows(first)
        while page:
            yield from (dict(r) for r in page)
            if len(page) < _PAGE:
                return
            page = self._rows(more, (page[-1][key],))

    def verify(self):
        """Recompute the chain and replay it against every table (see verify.py)."""
        from evidock.daemon.ledger.verify import verify

        return verify(self)

    def check(self) -> list[tuple[str, str, str]]:
        """``(level, check, message)`` for ``evidock doctor``: what the server and the
        stations' database role must be for evidence (level ok, warning or problem)."""
        found = []
        settings = {r["name"]: r["setting"] for r in self._rows(
            "SELECT name, setting FROM pg_settings WHERE name IN ('fsync', "
            "'synchronous_commit', 'full_page_writes', 'server_version', "
            "'idle_session_timeout')")}
        lost = [n for n in ("fsync", "synchronous_commit", "full_page_writes")
                if settings.get(n) == "off"]
        found.append(("problem", "ledger_durability", f"PostgreSQL has {', '.join(lost)} off: "
                      "a crash can lose handed-over recordings' ledger entries; turn it on")
                     if lost else ("ok", "ledger_durability", f"PostgreSQL "
                                   f"{settings.get('server_version')}: fsync, synchronous_commit "
                                   "and full_page_writes on"))
        if settings.get("idle_session_timeout", "0") != "0":
            found.append(("problem", "ledger_liveness", "idle_session_timeout is set: it ends "
                          "the idle session that holds a station's liveness lock, and other "
                          "stations would take over its claims; set it to 0 for the stations' "
                          "role (ALTER ROLE ... SET idle_session_timeout = 0)"))
        role = self._one("SELECT current_user AS name, rolsuper FROM pg_roles WHERE rolname = "
                         "current_user")
        may = [p for p in ("UPDATE", "DELETE", "TRUNCATE") if self._one(
            "SELECT has_table_privilege('events', ?) AS y", (p,))["y"]]
        if role["rolsuper"] or may:
            what = "is a superuser" if role["rolsuper"] else f"may {', '.join(may)} events"
            found.append(("warning", "ledger_role", f"the stations' role {role['name']} {what}: "
                          "the triggers refuse it, but such a role can drop them; give the "
                          "stations a role with SELECT, INSERT only on events (README)"))
        else:
            found.append(("ok", "ledger_role", f"role {role['name']} cannot change or remove "
                          "events"))
        head = self.head()
        live = self.live_stations()
        found.append(("ok", "ledger", f"{self.where}: {head[0]} events; stations running now: "
                      f"{', '.join(live) or 'none'}"))
        return found

    def stations(self) -> list[dict]:
        """Per station: how many events it appended, its first and last ``seq``."""
        return [dict(r) for r in self._rows(
            "SELECT station, COUNT(*) AS events, MIN(seq) AS first_seq, MAX(seq) AS last_seq "
            "FROM events GROUP BY station ORDER BY station")]


def _configure(conn: psycopg.Connection) -> None:
    conn.adapters.register_loader("numeric", _Numeric)


def describe(dsn: str, schema: str) -> str:
    """``postgres <dsn, password masked> schema <schema>``: how messages name the ledger."""
    return f"postgres {_safe_dsn(dsn)} schema {schema}"


def _safe_dsn(dsn: str) -> str:
    """The DSN for messages: a password written into it is masked."""
    return re.sub(r"(password\s*=\s*)\S+|(://[^:/@]+:)[^@]+@", lambda m: (
        f"{m.group(1)}****" if m.group(1) else f"{m.group(2)}****@"), dsn)


def copy_events(conn: _Conn, events: Iterable[Event]) -> int:
    """Insert ``events`` verbatim and project each (a rebuild, a migration); returns how
    many.  An event that cannot be applied raises a LedgerError naming it (``.at``)."""
    n = 0
    for ev in events:
        try:
            conn.execute(f"INSERT INTO events ({_EVENT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, "
                         "?)", (ev.seq, ev.at, ev.station, ev.kind, ev.subject, ev.data,
                                ev.prev_hash, ev.hash))
            projection.apply(conn, ev)
        except (KeyError, TypeError, ValueError, psycopg.Error) as exc:
            err = LedgerError(f"{type(exc).__name__}: {exc}")
            err.at = f" at event {ev.seq} ({ev.kind})"  # where the copy stopped
            raise err from exc
        n += 1
    return n
