"""The SQLite ledger: one station's record of devices, recordings, cases, alerts and events.

Every write is one transaction that appends one or more chained events (see chain.py) and
changes the tables only by applying those events through their projectors (projection.py),
so the tables are, by construction, what the chain says; ``verify`` proves it by replaying
the chain into a fresh database.  Writers take SQLite's write lock up front
(``BEGIN IMMEDIATE``), which also serialises the chain between processes.  No ``sqlite3``
error leaves this package: each is turned into a :class:`LedgerError` by what failed.

The methods are grouped by area in mixins (media.py, casework.py, alerting.py, audits.py,
derivatives.py, custody.py);
this module holds the connection, the transaction, the chain and the whole-ledger calls.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from evidock.daemon import faults
from evidock.daemon.errors import (
    EvidockError,
    LedgerBusy,
    LedgerCorrupt,
    LedgerError,
    LedgerFull,
    LedgerMissing,
)
from evidock.daemon.ledger import migrate, projection
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


def translate(path: Path, exc: sqlite3.Error, doing: str) -> LedgerError:
    """The ledger error for a raw sqlite3 error, classed by what failed."""
    code = getattr(exc, "sqlite_errorcode", None)
    text = str(exc)
    where = f"ledger {path}: {doing}: {text}"
    if code == sqlite3.SQLITE_FULL or "disk is full" in text:
        return LedgerFull(where, hint="free space on the ledger's file system; nothing was "
                                      "written and the work is retried")
    if code in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED) or "locked" in text:
        return LedgerBusy(where, hint="another process held the ledger too long; it is retried")
    if code in (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB) or "malformed" in text:
        return LedgerCorrupt(where, hint="keep the file for investigation and restore the "
                                         "ledger from a backup; check it with 'evidock ledger "
                                         "verify'")
    return LedgerError(where, hint="check the path, its permissions and free space")


class SqliteLedger(MediaMixin, CaseworkMixin, AlertsMixin, AuditsMixin, DerivativesMixin,
                   CustodyMixin, FingerprintsMixin):
    """Thread-safe: each thread gets its own connection; writes are serialised."""

    def __init__(self, path: str | os.PathLike, *, station: str, clock: Clock = utcnow,
                 create: bool = True, busy_timeout: float = 30.0,
                 migrate_schema: bool = True) -> None:
        self.path = Path(path)
        self.busy_timeout = busy_timeout
        self.station = station
        self.clock = clock
        self._local = threading.local()
        self._write_lock = threading.RLock()
        if not create and not self.path.is_file():
            raise LedgerMissing(f"no ledger at {self.path}",
                                hint="check --data-dir (or ledger.path in the configuration); "
                                     "a station's ledger is created by its first `evidock run`, "
                                     "never by a command that reads")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = self._conn()
            conn.execute("PRAGMA journal_mode=WAL")
            self.migration = migrate.apply(conn, path=self.path, allowed=migrate_schema)
        except sqlite3.Error as exc:
            raise translate(self.path, exc, "cannot open it") from exc
        except OSError as exc:
            raise LedgerError(f"ledger {self.path}: cannot open it: {exc}",
                              hint="check the path and its permissions") from exc

    @classmethod
    def rebuild(cls, path: str | os.PathLike, *, station: str,
                events: Iterable[Event], clock: Clock = utcnow) -> SqliteLedger:
        """A new ledger at ``path`` whose events are exactly ``events`` (already chained,
        in order, copied verbatim) and whose tables are their projection.  Refuses a path
        that exists; ``verify`` on the result checks the chain the events form."""
        path = Path(path)
        if path.exists():
            raise LedgerError(f"ledger {path} already exists: a rebuild never writes over a "
                              "ledger", hint="rebuild into a new path")
        ledger = cls(path, station=station, clock=clock)
        ev = None
        try:
            # the whole history in one transaction: a page cache big enough for the band
            # index of 100,000 fingerprints keeps it from being written out page by page
            ledger._conn().execute("PRAGMA cache_size = -262144")
            with ledger._transaction() as conn:
                for ev in events:
                    conn.execute(f"INSERT INTO events ({_EVENT_COLUMNS}) VALUES (?, ?, ?, ?, ?, "
                                 "?, ?, ?)", (ev.seq, ev.at, ev.station, ev.kind, ev.subject,
                                              ev.data, ev.prev_hash, ev.hash))
                    projection.apply(conn, ev)
        except (LedgerError, KeyError, TypeError, ValueError) as exc:
            ledger.close()
            for leftover in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
                leftover.unlink(missing_ok=True)  # only what this call created
            where = f" at event {ev.seq} ({ev.kind})" if ev is not None else ""
            raise LedgerError(f"ledger {path}: cannot rebuild it{where}: {exc}",
                              hint="the events must be a whole chain from seq 1, as read "
                                   "from a ledger or the store") from exc
        return ledger

    # -- connections, reads and transactions -------------------------------------------------

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=self.busy_timeout, isolation_level=None,
                                   check_same_thread=False)
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA foreign_keys=ON")
            conn.execute("PRAGMA synchronous=FULL")
            self._local.conn = conn
        return conn

    def _rows(self, sql: str, params=()) -> list[sqlite3.Row]:
        try:
            return self._conn().execute(sql, params).fetchall()
        except sqlite3.Error as exc:
            raise translate(self.path, exc, "cannot read it") from exc

    def _one(self, sql: str, params=()) -> sqlite3.Row | None:
        rows = self._rows(sql, params)
        return rows[0] if rows else None

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    @contextmanager
    def _transaction(self, *, durable: bool = True) -> Iterator[sqlite3.Connection]:
        """A write transaction: the events appended in it commit with the rows they project,
        or nothing does.  Any sqlite3 error becomes a LedgerError.

        ``durable=False`` (the per-file steps before a hand-over, see base.py "Durability")
        commits without syncing the write-ahead log: the commit is in the operating system's
        hands, so it survives the process being killed, and the next durable commit (or
        :meth:`sync`) syncs it together with everything before it.  In WAL mode SQLite keeps
        the database consistent after a power cut either way; only the newest lazy commits
        may be rolled back, as a whole and in order."""
        with self._write_lock:
            try:
                conn = self._conn()
                level = "FULL" if durable else "NORMAL"
                if getattr(self._local, "sync_level", "FULL") != level:
                    conn.execute(f"PRAGMA synchronous={level}")
                    self._local.sync_level = level
                conn.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise translate(self.path, exc, "cannot start a write") from exc
            try:
                yield conn
                faults.point("ledger_commit")
                conn.execute("COMMIT")
            except BaseException as exc:
                if conn.in_transaction:
                    try:
                        conn.execute("ROLLBACK")
                    except sqlite3.Error:
                        pass
                if isinstance(exc, sqlite3.Error):
                    raise translate(self.path, exc, "cannot write it") from exc
                raise

    def now(self) -> str:
        return stamp(self.clock())

    def sync(self) -> None:
        """Make every transaction committed so far durable (the lazy ones included): one
        fsync of the write-ahead log, which holds them in commit order."""
        with self._write_lock:
            for name in (f"{self.path}-wal", str(self.path)):
                try:
                    fd = os.open(name, os.O_RDONLY | os.O_CLOEXEC)
                except FileNotFoundError:
                    continue  # no WAL (checkpointed and removed): the database file is it
                try:
                    os.fsync(fd)
                except OSError as exc:
                    raise LedgerError(f"ledger {self.path}: cannot sync {name}: {exc}",
                                      hint="check the ledger's disk") from exc
                finally:
                    os.close(fd)
                return

    def _emit(self, conn: sqlite3.Connection, kind: str, subject: str, data: dict) -> Event:
        """Append one chained event and apply it to the tables through its projector."""
        last = conn.execute("SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1").fetchone()
        seq, prev = (last["seq"] + 1, last["hash"]) if last else (1, GENESIS)
        at, body = self.now(), canonical(data)
        digest = event_hash(seq, at, self.station, kind, subject, body, prev)
        ev = Event(seq, at, self.station, kind, subject, body, prev, digest)
        conn.execute(f"INSERT INTO events ({_EVENT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                     (seq, at, self.station, kind, subject, body, prev, digest))
        projection.apply(conn, ev)
        return ev

    @staticmethod
    def _next_id(conn: sqlite3.Connection, table: str, column: str = "id") -> int:
        return conn.execute(f"SELECT COALESCE(MAX({column}), 0) + 1 FROM {table}").fetchone()[0]

    # -- whole-ledger calls ------------------------------------------------------------------

    def record(self, kind: str, subject: str, data: dict) -> Event:
        """Append a stand-alone event (station started, a check failed ...).  A kind that
        projects onto a table is refused: those go through their named method."""
        if kind in projection.PROJECTORS:
            raise EvidockError(f"event kind {kind!r} changes the tables; use its ledger method")
        with self._transaction() as conn:
            return self._emit(conn, kind, subject, data)

    def events(self, *, subject: str | None = None, after: int = 0,
               kinds: Iterable[str] | None = None, since: str | None = None) -> Iterator[Event]:
        sql, params = f"SELECT {_EVENT_COLUMNS} FROM events WHERE seq > ?", [after]
        if subject is not None:
            sql += " AND subject = ?"
            params.append(subject)
        if kinds is not None:
            kinds = list(kinds)
            sql += f" AND kind IN ({','.join('?' * len(kinds))})"
            params.extend(kinds)
        if since is not None:
            sql += " AND at >= ?"
            params.append(since)
        try:
            for row in self._conn().execute(sql + " ORDER BY seq", params):
                yield Event(**dict(row))
        except sqlite3.Error as exc:
            raise translate(self.path, exc, "cannot read its events") from exc

    def head(self) -> tuple[int, str]:
        """``(seq, hash)`` of the newest event; ``(0, 64 zeros)`` for an empty ledger."""
        row = self._one("SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1")
        return (row["seq"], row["hash"]) if row else (0, GENESIS)

    def event_data(self, event: Event) -> dict:
        return json.loads(event.data)

    def projected_rows(self, table: str) -> Iterator[dict]:
        """Every row of a projected table, ordered by its key, for ``verify``."""
        key = projection.TABLES[table]
        try:
            for row in self._conn().execute(f"SELECT * FROM {table} ORDER BY {key}"):
                yield dict(row)
        except sqlite3.Error as exc:
            raise translate(self.path, exc, f"cannot read table {table}") from exc

    def verify(self):
        """Recompute the chain and replay it against every table (see verify.py)."""
        from evidock.daemon.ledger.verify import verify

        return verify(self)
