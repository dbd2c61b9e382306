"""The SQLite ledger: one station's record of devices, recordings, attempts and events.

Every change of state is written in the same transaction as the event that records it, and
every event chains the hash of the one before (see chain.py), so the tables can always be
checked against their history (``verify``).  Writers take SQLite's write lock up front
(``BEGIN IMMEDIATE``), which also serialises the chain between processes.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path

from evidock.daemon import faults
from evidock.daemon.errors import LedgerError, NotFound
from evidock.daemon.hashing import Digests
from evidock.daemon.ledger import migrate
from evidock.daemon.ledger.chain import GENESIS, canonical, event_hash
from evidock.daemon.ledger.records import (
    COPYING,
    FAILED,
    SEEN,
    STORED,
    VERIFIED,
    DeviceRecord,
    Event,
    MediaRecord,
    check_transition,
    display_path,
)
from evidock.daemon.timeutil import Clock, stamp, utcnow


class SqliteLedger:
    """Thread-safe: each thread gets its own connection; writes are serialised."""

    def __init__(self, path: str | os.PathLike, *, station: str, clock: Clock = utcnow) -> None:
        self.path = Path(path)
        self.station = station
        self.clock = clock
        self._local = threading.local()
        self._write_lock = threading.RLock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = self._conn()
            conn.execute("PRAGMA journal_mode=WAL")
            migrate.apply(conn)
        except sqlite3.Error as exc:
            raise LedgerError(
                f"ledger {self.path}: cannot open it: {exc}",
                hint="check the path and its permissions; a damaged file can be checked with "
                "'sqlite3 FILE \"PRAGMA integrity_check\"'",
            ) from exc

    # -- connections and transactions --------------------------------------------------------

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=30, isolation_level=None,
                                   check_same_thread=False)
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA foreign_keys=ON")
            conn.execute("PRAGMA synchronous=FULL")
            self._local.conn = conn
        return conn

    def reader(self) -> sqlite3.Connection:
        """This thread's connection, for queries by modules that own their own tables."""
        return self._conn()

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction; events appended inside it commit with the state they record."""
        with self._write_lock:
            conn = self._conn()
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            else:
                faults.point("ledger_commit")
                conn.execute("COMMIT")

    def now(self) -> str:
        return stamp(self.clock())

    def append_event(self, conn: sqlite3.Connection, kind: str, subject: str, data: dict) -> Event:
        """Append one chained event; call inside :meth:`transaction`."""
        last = conn.execute("SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1").fetchone()
        seq, prev = (last["seq"] + 1, last["hash"]) if last else (1, GENESIS)
        at, body = self.now(), canonical(data)
        digest = event_hash(seq, at, self.station, kind, subject, body, prev)
        conn.execute(
            "INSERT INTO events (seq, at, station, kind, subject, data, prev_hash, hash) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (seq, at, self.station, kind, subject, body, prev, digest),
        )
        return Event(seq, at, self.station, kind, subject, body, prev, digest)

    def record(self, kind: str, subject: str, data: dict) -> Event:
        """Append a stand-alone event (station started, an alert, an access ...)."""
        with self.transaction() as conn:
            return self.append_event(conn, kind, subject, data)

    # -- devices -----------------------------------------------------------------------------

    def ensure_device(self, serial: str, *, source: str, model: str | None = None,
                      vendor: str | None = None, officer_id: str | None = None,
                      officer_name: str | None = None, unit: str | None = None) -> DeviceRecord:
        """The device's row, created (unregistered) the first time the device is seen."""
        with self.transaction() as conn:
            row = conn.execute("SELECT serial FROM devices WHERE serial = ?", (serial,)).fetchone()
            if row is None:
                now = self.now()
                conn.execute(
                    "INSERT INTO devices (serial, model, vendor, officer_id, officer_name, unit, "
                    "source, registered, first_seen_at) VALUES (?, ?, ?, ?, ?, ?, ?, 0, ?)",
                    (serial, model, vendor, officer_id, officer_name, unit, source, now),
                )
                self.append_event(conn, "device_seen", f"device:{serial}", {
                    "serial": serial, "model": model, "vendor": vendor, "source": source,
                    "officer_id": officer_id, "officer_name": officer_name, "unit": unit,
                })
        return self.device(serial)

    def device(self, serial: str) -> DeviceRecord:
        row = self._conn().execute(
            f"SELECT {DeviceRecord.COLUMNS} FROM devices WHERE serial = ?", (serial,)
        ).fetchone()
        if row is None:
            raise NotFound(f"no device with serial {serial!r} in the ledger")
        return DeviceRecord(**{**dict(row), "registered": bool(row["registered"])})

    def devices(self) -> list[DeviceRecord]:
        rows = self._conn().execute(f"SELECT {DeviceRecord.COLUMNS} FROM devices ORDER BY serial")
        return [DeviceRecord(**{**dict(r), "registered": bool(r["registered"])}) for r in rows]

    # -- media and the per-file state machine ------------------------------------------------

    def register_media(self, *, device_serial: str, source_path: str, size: int, mtime_ns: int,
                       kind: str, recorded_at: datetime, handover_hours: float,
                       officer_id: str | None = None, clock_offset_s: float | None = None,
                       flags: tuple[str, ...] = ()) -> tuple[MediaRecord, bool]:
        """The ledger row for a file found on a device; ``(row, created)``.

        A file is the same file when device, exact path bytes, size and mtime match, so a
        second dock or a restart finds the existing row instead of adding another."""
        raw = os.fsencode(source_path)
        with self.transaction() as conn:
            row = conn.execute(
                "SELECT id FROM media WHERE device_serial = ? AND source_path_raw = ? "
                "AND size = ? AND mtime_ns = ?", (device_serial, raw, size, mtime_ns),
            ).fetchone()
            if row is not None:
                media_id, created = row["id"], False
            else:
                deadline = recorded_at + timedelta(hours=handover_hours)
                values = {
                    "device_serial": device_serial, "officer_id": officer_id,
                    "source_path": display_path(source_path), "size": size,
                    "mtime_ns": mtime_ns, "kind": kind, "recorded_at": stamp(recorded_at),
                    "deadline_at": stamp(deadline), "found_at": self.now(),
                    "clock_offset_s": clock_offset_s, "flags": ",".join(flags),
                }
                cur = conn.execute(
                    "INSERT INTO media (device_serial, officer_id, source_path, source_path_raw, "
                    "size, mtime_ns, kind, recorded_at, deadline_at, found_at, state, "
                    "clock_offset_s, flags) VALUES (:device_serial, :officer_id, :source_path, "
                    ":raw, :size, :mtime_ns, :kind, :recorded_at, :deadline_at, :found_at, "
                    "'seen', :clock_offset_s, :flags)", {**values, "raw": raw},
                )
                media_id, created = cur.lastrowid, True
                self.append_event(conn, "media_seen", f"media:{media_id}", {
                    **values, "media_id": media_id, "source_path_raw": raw.hex(),
                })
        return self.media(media_id), created

    def media(self, media_id: int) -> MediaRecord:
        row = self._conn().execute(
            f"SELECT {MediaRecord.COLUMNS} FROM media WHERE id = ?", (media_id,)
        ).fetchone()
        if row is None:
            raise NotFound(f"no recording with id {media_id} in the ledger")
        return MediaRecord(**dict(row))

    def _move(self, conn: sqlite3.Connection, media_id: int, new: str, sets: str = "",
              params: tuple = ()) -> None:
        row = conn.execute("SELECT state FROM media WHERE id = ?", (media_id,)).fetchone()
        if row is None:
            raise NotFound(f"no recording with id {media_id} in the ledger")
        check_transition(media_id, row["state"], new)
        conn.execute(f"UPDATE media SET state = ?{sets} WHERE id = ?", (new, *params, media_id))

    def start_attempt(self, media_id: int) -> int:
        """seen/failed -> copying; returns the attempt id."""
        with self.transaction() as conn:
            self._move(conn, media_id, COPYING, ", attempts = attempts + 1, retry_at = NULL")
            attempt = conn.execute(
                "INSERT INTO attempts (media_id, station, started_at) VALUES (?, ?, ?)",
                (media_id, self.station, self.now()),
            ).lastrowid
            self.append_event(conn, "attempt_started", f"media:{media_id}",
                              {"media_id": media_id, "attempt_id": attempt})
        return attempt

    def record_stored(self, media_id: int, attempt_id: int, digests: Digests, *, store: str,
                      object_key: str, retain_until: datetime) -> None:
        """copying -> stored: the store confirmed a write whose digests match the read."""
        data = {"media_id": media_id, "attempt_id": attempt_id, "blake3": digests.blake3,
                "sha256": digests.sha256, "size": digests.size, "store": store,
                "object_key": object_key, "retain_until": stamp(retain_until)}
        with self.transaction() as conn:
            self._move(conn, media_id, STORED,
                       ", blake3 = ?, sha256 = ?, store = ?, object_key = ?, retain_until = ?",
                       (digests.blake3, digests.sha256, store, object_key, data["retain_until"]))
            conn.execute("UPDATE attempts SET bytes = ? WHERE id = ?", (digests.size, attempt_id))
            self.append_event(conn, "media_stored", f"media:{media_id}", data)

    def record_verified(self, media_id: int, attempt_id: int | None) -> None:
        """stored -> verified: the stored copy was read back and matches.  Handed over."""
        with self.transaction() as conn:
            now = self.now()
            self._move(conn, media_id, VERIFIED, ", ingested_at = ?, last_error = NULL", (now,))
            if attempt_id is not None:
                conn.execute("UPDATE attempts SET ended_at = ?, outcome = 'verified' WHERE id = ?",
                             (now, attempt_id))
            self.append_event(conn, "media_verified", f"media:{media_id}",
                              {"media_id": media_id, "attempt_id": attempt_id, "ingested_at": now})

    def record_failure(self, media_id: int, attempt_id: int | None, error: str, *,
                       retry_at: datetime | None, action: str) -> None:
        """copying/stored -> failed; ``retry_at`` None means no more automatic attempts."""
        retry = stamp(retry_at) if retry_at else None
        with self.transaction() as conn:
            self._move(conn, media_id, FAILED, ", retry_at = ?, last_error = ?", (retry, error))
            if attempt_id is not None:
                conn.execute(
                    "UPDATE attempts SET ended_at = ?, outcome = 'failed', error = ? WHERE id = ?",
                    (self.now(), error, attempt_id),
                )
            self.append_event(conn, "attempt_failed", f"media:{media_id}", {
                "media_id": media_id, "attempt_id": attempt_id, "error": error,
                "retry_at": retry, "action": action,
            })

    def recover_interrupted(self) -> list[int]:
        """After a crash or shutdown: every ``copying`` file goes back to ``seen``."""
        with self.transaction() as conn:
            ids = [r["id"] for r in conn.execute("SELECT id FROM media WHERE state = 'copying'")]
            for media_id in ids:
                self._move(conn, media_id, SEEN)
                open_attempts = conn.execute(
                    "SELECT id FROM attempts WHERE media_id = ? AND ended_at IS NULL", (media_id,)
                ).fetchall()
                for attempt in open_attempts:
                    conn.execute("UPDATE attempts SET ended_at = ?, outcome = 'interrupted' "
                                 "WHERE id = ?", (self.now(), attempt["id"]))
                self.append_event(conn, "attempt_interrupted", f"media:{media_id}", {
                    "media_id": media_id, "attempt_ids": [a["id"] for a in open_attempts],
                })
        return ids

    # -- queries -----------------------------------------------------------------------------

    def list_media(self, *, device: str | None = None, officer: str | None = None,
                   since: datetime | None = None, until: datetime | None = None,
                   state: str | None = None, limit: int | None = None) -> list[MediaRecord]:
        """Recordings by device, officer, recording time (``since`` <= recorded_at < ``until``)."""
        where, params = [], []
        for clause, value in (("device_serial = ?", device), ("officer_id = ?", officer),
                              ("state = ?", state)):
            if value is not None:
                where.append(clause)
                params.append(value)
        if since is not None:
            where.append("recorded_at >= ?")
            params.append(stamp(since))
        if until is not None:
            where.append("recorded_at < ?")
            params.append(stamp(until))
        sql = f"SELECT {MediaRecord.COLUMNS} FROM media"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY recorded_at, id"
        if limit:
            sql += f" LIMIT {int(limit)}"
        return [MediaRecord(**dict(r)) for r in self._conn().execute(sql, params)]

    def find_media(self, ref: str) -> MediaRecord:
        """By id, or by a BLAKE3 or SHA-256 hex digest (or a unique prefix of 8+ digits)."""
        if ref.isdigit() and len(ref) < 16:
            return self.media(int(ref))
        ref = ref.lower()
        if len(ref) < 8 or any(c not in "0123456789abcdef" for c in ref):
            raise NotFound(f"{ref!r} is neither a recording id nor a hash (8+ hex digits)")
        rows = self._conn().execute(
            f"SELECT {MediaRecord.COLUMNS} FROM media WHERE blake3 LIKE ? OR sha256 LIKE ? "
            "ORDER BY id LIMIT 2", (ref + "%", ref + "%"),
        ).fetchall()
        if not rows:
            raise NotFound(f"no recording whose BLAKE3 or SHA-256 starts with {ref}")
        if len(rows) > 1 and rows[0]["blake3"] != rows[1]["blake3"]:
            raise NotFound(f"{ref} matches several recordings: give more digits")
        return MediaRecord(**dict(rows[0]))

    def attempts(self, media_id: int) -> list[dict]:
        rows = self._conn().execute(
            "SELECT id, station, started_at, ended_at, outcome, bytes, error FROM attempts "
            "WHERE media_id = ? ORDER BY id", (media_id,))
        return [dict(r) for r in rows]

    def due(self, now: datetime | None = None) -> list[MediaRecord]:
        """Files waiting for an attempt, earliest handover deadline first."""
        at = stamp(now or self.clock())
        rows = self._conn().execute(
            f"SELECT {MediaRecord.COLUMNS} FROM media WHERE state IN ('seen', 'stored') "
            "OR (state = 'failed' AND retry_at IS NOT NULL AND retry_at <= ?) "
            "ORDER BY deadline_at, id", (at,))
        return [MediaRecord(**dict(r)) for r in rows]

    def counts(self) -> dict[str, int]:
        rows = self._conn().execute("SELECT state, COUNT(*) AS n FROM media GROUP BY state")
        return {r["state"]: r["n"] for r in rows}

    def events(self, *, subject: str | None = None, after: int = 0) -> Iterator[Event]:
        sql = ("SELECT seq, at, station, kind, subject, data, prev_hash, hash FROM events "
               "WHERE seq > ?")
        params: list = [after]
        if subject is not None:
            sql += " AND subject = ?"
            params.append(subject)
        for row in self._conn().execute(sql + " ORDER BY seq", params):
            yield Event(**dict(row))

    def event_data(self, event: Event) -> dict:
        return json.loads(event.data)

    def verify(self):
        """Recompute the chain and replay it against the tables (see verify.py)."""
        from evidock.daemon.ledger.verify import verify

        return verify(self._conn())
