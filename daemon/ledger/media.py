"""Devices, recordings and attempts: the per-file state machine (part of SqliteLedger)."""

from __future__ import annotations

import os
from datetime import datetime, timedelta

from evidock.daemon.deadlines import first_deadline
from evidock.daemon.errors import Claimed, NotFound
from evidock.daemon.hashing import Digests
from evidock.daemon.ledger.records import (
    COPYING,
    FAILED,
    FINISHED_SQL,
    SEEN,
    STORED,
    SUPERSEDED,
    VERIFIED,
    DeviceRecord,
    MediaRecord,
    check_transition,
    display_path,
)
from evidock.daemon.timeutil import parse, stamp

_DEVICE_FIELDS = ("model", "vendor", "officer_id", "officer_name", "unit")


def _device(row) -> DeviceRecord:
    return DeviceRecord(**{**dict(row), "registered": bool(row["registered"])})


class MediaMixin:
    # -- devices -----------------------------------------------------------------------------

    def ensure_device(self, serial: str, *, source: str, model: str | None = None,
                      vendor: str | None = None, officer_id: str | None = None,
                      officer_name: str | None = None, unit: str | None = None) -> DeviceRecord:
        """The device's row, created (unregistered) the first time the device is seen."""
        with self._transaction() as conn:
            row = conn.execute("SELECT serial FROM devices WHERE serial = ?", (serial,)).fetchone()
            if row is None:
                self._emit(conn, "device_seen", f"device:{serial}", {
                    "serial": serial, "model": model, "vendor": vendor, "source": source,
                    "officer_id": officer_id, "officer_name": officer_name, "unit": unit,
                    "registered": False, "first_seen_at": self.now()})
        return self.device(serial)

    def assign_device(self, serial: str, fields: dict, *, by: str) -> DeviceRecord:
        """Register a device (its row is created if it was never seen) with the given
        fields (model, vendor, officer_id, officer_name, unit); others keep their value."""
        given = {k: v for k, v in fields.items() if k in _DEVICE_FIELDS and v is not None}
        with self._transaction() as conn:
            row = conn.execute("SELECT serial FROM devices WHERE serial = ?", (serial,)).fetchone()
            extra = {"first_seen_at": self.now()} if row is None else {}
            self._emit(conn, "device_assigned", f"device:{serial}",
                       {"serial": serial, "by": by, **given, **extra})
        return self.device(serial)

    def record_dock(self, serial: str, port: str, data: dict | None = None) -> None:
        with self._transaction() as conn:
            self._emit(conn, "device_docked", f"device:{serial}",
                       {**(data or {}), "serial": serial, "port": port, "at": self.now()})

    def record_undock(self, serial: str, port: str) -> None:
        with self._transaction() as conn:
            self._emit(conn, "device_undocked", f"device:{serial}",
                       {"serial": serial, "port": port, "at": self.now()})

    def device(self, serial: str) -> DeviceRecord:
        row = self._one(f"SELECT {DeviceRecord.COLUMNS} FROM devices WHERE serial = ?", (serial,))
        if row is None:
            raise NotFound(f"no device with serial {serial!r} in the ledger")
        return _device(row)

    def devices(self) -> list[DeviceRecord]:
        return [_device(r) for r in self._rows(
            f"SELECT {DeviceRecord.COLUMNS} FROM devices ORDER BY serial")]

    # -- media and the per-file state machine ------------------------------------------------

    def register_media(self, *, device_serial: str, source_path: str, size: int, mtime_ns: int,
                       kind: str, recorded_at: datetime, handover_hours: float,
                       officer_id: str | None = None, clock_offset_s: float | None = None,
                       flags: tuple[str, ...] = (),
                       changes_in_place: bool = False) -> tuple[MediaRecord, bool]:
        """The ledger row for a file found on a device; ``(row, created)``.

        A file is the same file when device, exact path bytes, size and mtime match, so a
        second dock or a restart finds the existing row instead of adding another.

        ``changes_in_place``: the source is one whose files may be rewritten where they lie
        (a watch folder).  A new size or mtime there is a new version of the same file: the
        rows of older versions that never reached the store end ``superseded`` by the new
        row, which keeps the earliest of their deadlines (a change never buys time).  On a
        camera a file is never rewritten, so an old row there stays what it is: a file that
        was on the device and was not handed over."""
        raw = os.fsencode(source_path)
        # a file seen before (a re-dock, a restart): one indexed read, no write transaction
        # and its lock; rows are never deleted, so one found here is the answer
        known = self._one(f"SELECT {MediaRecord.COLUMNS} FROM media WHERE device_serial = ? "
                          "AND source_path_raw = ? AND size = ? AND mtime_ns = ?",
                          (device_serial, raw, size, mtime_ns))
        if known is not None:
            return MediaRecord(**dict(known)), False
        window = timedelta(hours=handover_hours)
        with self._transaction(durable=False) as conn:
            row = conn.execute(
                "SELECT id FROM media WHERE device_serial = ? AND source_path_raw = ? "
                "AND size = ? AND mtime_ns = ?", (device_serial, raw, size, mtime_ns),
            ).fetchone()
            if row is not None:
                media_id, created = row["id"], False
            else:
                media_id, created = self._next_id(conn, "media"), True
                found = self.now()
                older = self._replaceable(conn, device_serial, raw) if changes_in_place else []
                deadline = min([stamp(first_deadline(recorded_at, parse(found), window,
                                                     flags))]
                               + [r["deadline_at"] for r in older])
                self._emit(conn, "media_seen", f"media:{media_id}", {
                    "media_id": media_id, "device_serial": device_serial,
                    "officer_id": officer_id, "source_path": display_path(source_path),
                    "source_path_raw": raw.hex(), "size": size, "mtime_ns": mtime_ns,
                    "kind": kind, "recorded_at": stamp(recorded_at), "deadline_at": deadline,
                    "found_at": found, "clock_offset_s": clock_offset_s,
                    "flags": ",".join(flags)})
                for old in older:
                    self._supersede(conn, old, media_id, size, mtime_ns)
        return self.media(media_id), created

    @staticmethod
    def _replaceable(conn, device_serial: str, raw: bytes) -> list:
        """Rows of a file's older versions that a new version may supersede: not being
        read, never stored (their ``object_key`` is unset)."""
        return conn.execute(
            "SELECT id, size, mtime_ns, deadline_at, state FROM media WHERE device_serial = ? "
            f"AND source_path_raw = ? AND state IN ('{SEEN}', '{FAILED}') "
            "AND object_key IS NULL ORDER BY id", (device_serial, raw)).fetchall()

    def _supersede(self, conn, old, by: int, size: int, mtime_ns: int) -> None:
        self._check_move(conn, old["id"], SUPERSEDED)
        self._emit(conn, "media_superseded", f"media:{old['id']}", {
            "media_id": old["id"], "by_media_id": by, "at": self.now(),
            "reason": f"the file changed after it was found (size {old['size']} -> {size}, "
                      f"mtime_ns {old['mtime_ns']} -> {mtime_ns}); its new version is "
                      f"recording {by}"})

    def superseded_by(self, media_id: int) -> list[MediaRecord]:
        """The rows that the row ``media_id`` superseded (older versions of its file)."""
        cols = ", ".join(f"o.{c.strip()}" for c in MediaRecord.COLUMNS.split(","))
        return [MediaRecord(**dict(r)) for r in self._rows(
            f"SELECT {cols} FROM media n JOIN media o ON o.device_serial = n.device_serial "
            "AND o.source_path_raw = n.source_path_raw AND o.superseded_by = n.id "
            "WHERE n.id = ? ORDER BY o.id", (media_id,))]

    def supersede_if_replaced(self, media_id: int) -> int | None:
        """A row whose file changed under its read: if a newer version of the file is
        already in the ledger, end this row ``superseded`` by it and return that row's id
        (None: no newer version yet; the one that is found later supersedes it)."""
        with self._transaction() as conn:
            row = conn.execute("SELECT device_serial, source_path_raw FROM media WHERE id = ?",
                               (media_id,)).fetchone()
            if row is None:
                raise NotFound(f"no recording with id {media_id} in the ledger")
            newest = conn.execute(
                "SELECT id, size, mtime_ns, deadline_at, state FROM media WHERE "
                "device_serial = ? AND "
                "source_path_raw = ? AND id > ? ORDER BY id DESC LIMIT 1",
                (row["device_serial"], row["source_path_raw"], media_id)).fetchone()
            if newest is None:
                return None
            old = [r for r in self._replaceable(conn, row["device_serial"],
                                                row["source_path_raw"]) if r["id"] == media_id]
            if not old:
                return None
            self._supersede(conn, old[0], newest["id"], newest["size"], newest["mtime_ns"])
            if old[0]["deadline_at"] < newest["deadline_at"] and newest["state"] != VERIFIED:
                # found while this row was read: it takes the earlier deadline now
                self._emit(conn, "deadline_recomputed", f"media:{newest['id']}", {
                    "media_id": newest["id"], "deadline_at": old[0]["deadline_at"],
                    "was": newest["deadline_at"], "cause": f"supersedes media {media_id}",
                    "exemption_id": None})
            return newest["id"]

    def media(self, media_id: int) -> MediaRecord:
        row = self._one(f"SELECT {MediaRecord.COLUMNS} FROM media WHERE id = ?", (media_id,))
        if row is None:
            raise NotFound(f"no recording with id {media_id} in the ledger")
        return MediaRecord(**dict(row))

    def _check_move(self, conn, media_id: int, new: str) -> None:
        row = conn.execute("SELECT state FROM media WHERE id = ?", (media_id,)).fetchone()
        if row is None:
            raise NotFound(f"no recording with id {media_id} in the ledger")
        check_transition(media_id, row["state"], new)

    def _check_attempt(self, conn, media_id: int, attempt_id: int | None) -> None:
        """A write for an attempt is taken only while that attempt is the recording's open
        claim: once another station took the claim over, the old attempt's results are
        refused (``Claimed``), so a recording is never handed over twice."""
        if attempt_id is None:
            return
        row = conn.execute("SELECT station, ended_at, outcome FROM attempts WHERE id = ? AND "
                           "media_id = ?", (attempt_id, media_id)).fetchone()
        if row is None:
            raise NotFound(f"media {media_id}: no attempt {attempt_id}")
        if row["ended_at"] is not None:
            raise Claimed(f"media {media_id}: attempt {attempt_id} of station {row['station']} "
                          f"ended ({row['outcome']}) and another took the recording over",
                          hint="nothing to do: the station that holds the claim finishes it")

    def _adopt_claim(self, conn, media_id: int) -> int | None:
        """The open attempt that stored a recording verified without one of its own: it is
        closed by this verification, so no claim stays open on a handed-over recording.
        ``Claimed`` while another live station holds it (that station verifies it)."""
        claim = self._open_claim(conn, media_id)
        if claim is None:
            return None
        if not self._may_take_over(conn, claim["station"], claim["started_at"]):
            raise Claimed(f"media {media_id} is being verified by station {claim['station']} "
                          f"(attempt {claim['id']})",
                          hint="nothing to do: the station that stored it hands it over")
        return claim["id"]

    def _open_claim(self, conn, media_id: int):
        """The recording's open attempt (its claim) as a row, or None."""
        return conn.execute("SELECT id, station, started_at FROM attempts WHERE media_id = ? "
                            "AND ended_at IS NULL ORDER BY id DESC LIMIT 1",
                            (media_id,)).fetchone()

    def _may_take_over(self, conn, station: str, started_at: str) -> bool:
        """Whether a claim of ``station`` may be ended by this ledger's station.  One
        station per ledger (SQLite): always (its own, left by a crash).  A shared ledger
        (postgres.py) says no while the station that holds it is alive."""
        return True

    def take_over(self, media_id: int) -> bool:
        """A recording found ``copying``: end its claim (``attempt_interrupted``, back to
        seen) if the station holding it may be taken over from (see ``_may_take_over``);
        True when it was (or is no longer copying), ``Claimed`` when the holder is alive."""
        with self._transaction() as conn:
            row = conn.execute("SELECT state FROM media WHERE id = ?", (media_id,)).fetchone()
            if row is None:
                raise NotFound(f"no recording with id {media_id} in the ledger")
            if row["state"] not in (COPYING, STORED):
                return True
            claim = self._open_claim(conn, media_id)
            if claim is not None and not self._may_take_over(conn, claim["station"],
                                                             claim["started_at"]):
                doing = "copied" if row["state"] == COPYING else "verified"
                raise Claimed(f"media {media_id} is being {doing} by station "
                              f"{claim['station']} (attempt {claim['id']}, since "
                              f"{claim['started_at']})",
                              hint="tried again later: by then that station has handed it "
                                   "over, or its lease ran out and this one takes it over")
            if row["state"] == COPYING:  # stored bytes stay: the verifier closes the claim
                self._interrupt(conn, media_id)
        return True

    def _interrupt(self, conn, media_id: int) -> None:
        self._check_move(conn, media_id, SEEN)
        open_attempts = [r["id"] for r in conn.execute(
            "SELECT id FROM attempts WHERE media_id = ? AND ended_at IS NULL ORDER BY id",
            (media_id,)).fetchall()]
        self._emit(conn, "attempt_interrupted", f"media:{media_id}", {
            "media_id": media_id, "attempt_ids": open_attempts, "ended_at": self.now(),
            "by": self.station})

    def start_attempt(self, media_id: int) -> int:
        """seen/failed -> copying; returns the attempt id.  Lazy (see base.py)."""
        with self._transaction(durable=False) as conn:
            self._check_move(conn, media_id, COPYING)
            attempt = self._next_id(conn, "attempts")
            self._emit(conn, "attempt_started", f"media:{media_id}", {
                "media_id": media_id, "attempt_id": attempt, "station": self.station,
                "started_at": self.now()})
        return attempt

    def record_stored(self, media_id: int, attempt_id: int, digests: Digests, *, store: str,
                      object_key: str, retain_until: datetime,
                      version_id: str | None = None) -> None:
        """copying -> stored: the store confirmed a write whose digests match the read;
        ``version_id`` is the store's version of it, which every later read addresses.
        Lazy (see base.py): what it says is proven again before the hand-over."""
        self.record_stored_many([(media_id, attempt_id, {
            "digests": digests, "store": store, "object_key": object_key,
            "retain_until": retain_until, "version_id": version_id})])

    def record_stored_many(self, items: list[tuple[int, int, dict]]) -> None:
        """copying -> stored for every ``(media_id, attempt_id, receipt)`` (receipt: the
        keyword arguments of :meth:`record_stored`) in one lazy transaction, all or none."""
        if not items:
            return
        with self._transaction(durable=False) as conn:
            for media_id, attempt_id, r in items:
                self._check_attempt(conn, media_id, attempt_id)
                self._check_move(conn, media_id, STORED)
                self._emit(conn, "media_stored", f"media:{media_id}", {
                    "media_id": media_id, "attempt_id": attempt_id,
                    "blake3": r["digests"].blake3, "sha256": r["digests"].sha256,
                    "size": r["digests"].size, "store": r["store"],
                    "object_key": r["object_key"], "retain_until": stamp(r["retain_until"]),
                    "version_id": r.get("version_id")})

    def record_verified(self, media_id: int, attempt_id: int | None) -> None:
        """stored -> verified: the stored copy was read back and matches.  Handed over."""
        self.record_verified_many([(media_id, attempt_id)])

    def record_verified_many(self, items: list[tuple[int, int | None]]) -> None:
        """stored -> verified for every ``(media_id, attempt_id)``, in one durable
        transaction (group commit): all are handed over, or none is."""
        if not items:
            return
        with self._transaction() as conn:
            for media_id, attempt_id in items:
                if attempt_id is None:  # verified after a restart or by another station
                    attempt_id = self._adopt_claim(conn, media_id)
                self._check_attempt(conn, media_id, attempt_id)
                self._check_move(conn, media_id, VERIFIED)
                self._emit(conn, "media_verified", f"media:{media_id}", {
                    "media_id": media_id, "attempt_id": attempt_id,
                    "ingested_at": self.now()})

    def record_failure(self, media_id: int, attempt_id: int | None, error: str, *,
                       retry_at: datetime | None, action: str) -> None:
        """copying/stored -> failed; ``retry_at`` None means no more automatic attempts."""
        with self._transaction() as conn:
            self._check_attempt(conn, media_id, attempt_id)
            self._check_move(conn, media_id, FAILED)
            self._emit(conn, "attempt_failed", f"media:{media_id}", {
                "media_id": media_id, "attempt_id": attempt_id, "error": error,
                "retry_at": stamp(retry_at) if retry_at else None, "action": action,
                "ended_at": self.now()})

    def recover_interrupted(self) -> list[int]:
        """After a crash or shutdown: every ``copying`` file this station may take over
        (its own; on a shared ledger also those of stations gone past their lease, never a
        live station's) goes back to ``seen``."""
        with self._transaction() as conn:
            ids = []
            for row in conn.execute("SELECT id FROM media WHERE state = 'copying' "
                                    "ORDER BY id").fetchall():
                claim = self._open_claim(conn, row["id"])
                if claim is None or claim["station"] == self.station or self._may_take_over(
                        conn, claim["station"], claim["started_at"]):
                    self._interrupt(conn, row["id"])
                    ids.append(row["id"])
        return ids

    def record_relocated(self, from_store: str, object_key: str, *, store: str,
                         retain_until: datetime, version_id: str | None, sha256: str,
                         media_id: int | None = None) -> list[int]:
        """Every recording held in ``from_store`` under ``object_key`` (and ``media_id``)
        now lives in ``store``: one ``media_relocated`` event per row, in one transaction
        (one on ``object:<key>`` if no row holds it).  Returns the ids moved."""
        data = {"store": store, "object_key": object_key, "retain_until": stamp(retain_until),
                "from": from_store, "version_id": version_id, "sha256": sha256}
        with self._transaction() as conn:
            ids = {r["id"] for r in conn.execute(
                "SELECT id FROM media WHERE store = ? AND object_key = ?",
                (from_store, object_key)).fetchall()}
            if media_id is not None and conn.execute(
                    "SELECT 1 FROM media WHERE id = ?", (media_id,)).fetchone():
                ids.add(media_id)
            for mid in sorted(ids):
                self._emit(conn, "media_relocated", f"media:{mid}", data)
            if not ids:
                self._emit(conn, "media_relocated", f"object:{object_key}", data)
        return sorted(ids)

    def record_cleared(self, serial: str, relpaths: list[str]) -> None:
        """The device's copies of these (verified) recordings were deleted from it."""
        with self._transaction() as conn:
            for relpath in relpaths:
                raw = os.fsencode(relpath)
                self._emit(conn, "media_cleared_from_device", f"device:{serial}", {
                    "serial": serial, "path": raw.decode("utf-8", "backslashreplace"),
                    "path_raw": raw.hex()})

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
        return [MediaRecord(**dict(r)) for r in self._rows(sql, params)]

    def find_media(self, ref: str) -> MediaRecord:
        """By id, or by a BLAKE3 or SHA-256 hex digest (or a unique prefix of 8+ digits).

        Only ASCII digits make an id (``²`` or ``١`` are not ids).  Fewer than 8 digits are an
        id; 8 or more may be an id or a hash prefix: the one that exists is taken, and both
        existing is an error asking for more digits (or ``id:N``)."""
        shown = ref if len(ref) <= 80 else ref[:80] + f"... ({len(ref)} characters)"
        if ref.startswith("id:") and _ascii_digits(ref[3:]):
            return self.media(int(ref[3:]))
        if _ascii_digits(ref) and len(ref) < 8:
            return self.media(int(ref))
        hexref = ref.lower()
        if len(hexref) < 8 or not all(c in "0123456789abcdef" for c in hexref):
            raise NotFound(f"{shown!r} is neither a recording id nor a hash (8+ hex digits)",
                           hint="give the id `evidock ledger list` shows, or 8 to 64 hex "
                           "digits of the BLAKE3 or SHA-256")
        if len(hexref) > 64:
            raise NotFound(f"{shown} is longer than a hash (64 hex digits)",
                           hint="give 8 to 64 hex digits of the BLAKE3 or SHA-256")
        # digests are lower-case hex, so [ref, ref + "g") holds exactly those starting with
        # ref: a range both databases answer from the hash indexes (LIKE with a parameter
        # scans the table: seconds at millions of recordings)
        rows = self._rows(
            f"SELECT {MediaRecord.COLUMNS} FROM media WHERE (blake3 >= ? AND blake3 < ?) OR "
            "(sha256 >= ? AND sha256 < ?) ORDER BY id LIMIT 2", (hexref, hexref + "g") * 2)
        by_id = None
        if _ascii_digits(ref) and len(ref) < 19:  # fits SQLite's integer
            row = self._one(f"SELECT {MediaRecord.COLUMNS} FROM media WHERE id = ?", (int(ref),))
            by_id = MediaRecord(**dict(row)) if row is not None else None
        if by_id is not None and rows:
            raise NotFound(f"{ref} is both recording id {int(ref)} and the start of a hash",
                           hint=f"write id:{int(ref)} for the id, or give more hash digits")
        if by_id is not None:
            return by_id
        if not rows:
            raise NotFound(f"no recording whose BLAKE3 or SHA-256 starts with {hexref}")
        if len(rows) > 1 and rows[0]["blake3"] != rows[1]["blake3"]:
            raise NotFound(f"{hexref} matches several recordings: give more digits")
        return MediaRecord(**dict(rows[0]))

    def verified_sha256(self, serial: str, relpath: str, size: int, mtime_ns: int) -> str | None:
        """The SHA-256 of the verified copy of exactly this device file, or None."""
        row = self._one(
            "SELECT sha256 FROM media WHERE device_serial = ? AND source_path_raw = ? AND "
            "size = ? AND mtime_ns = ? AND state = 'verified'",
            (serial, os.fsencode(relpath), size, mtime_ns))
        return row["sha256"] if row else None

    def attempts(self, media_id: int) -> list[dict]:
        return [dict(r) for r in self._rows(
            "SELECT id, station, started_at, ended_at, outcome, bytes, error FROM attempts "
            "WHERE media_id = ? ORDER BY id", (media_id,))]

    def due(self, now: datetime | None = None) -> list[MediaRecord]:
        """Files waiting for an attempt, earliest handover deadline first."""
        at = stamp(now or self.clock())
        return [MediaRecord(**dict(r)) for r in self._rows(
            f"SELECT {MediaRecord.COLUMNS} FROM media WHERE state IN ('seen', 'stored') "
            "OR (state = 'failed' AND retry_at IS NOT NULL AND retry_at <= ?) "
            "ORDER BY deadline_at, id", (at,))]

    def pending_media(self, *, deadline_before: str | None = None,
                      recorded_since: str | None = None) -> list[MediaRecord]:
        """Recordings not handed over yet, earliest deadline first; optionally only those
        due by ``deadline_before`` or recorded since ``recorded_since``."""
        sql, params = (f"SELECT {MediaRecord.COLUMNS} FROM media WHERE state NOT IN "
                       f"{FINISHED_SQL}", [])
        if deadline_before is not None:
            sql += " AND deadline_at <= ?"
            params.append(deadline_before)
        if recorded_since is not None:
            sql += " AND recorded_at >= ?"
            params.append(recorded_since)
        return [MediaRecord(**dict(r)) for r in self._rows(sql + " ORDER BY deadline_at, id",
                                                           params)]

    def counts(self) -> dict[str, int]:
        return {r["state"]: r["n"] for r in self._rows(
            "SELECT state, COUNT(*) AS n FROM media GROUP BY state")}

    def first_found_after(self, serial: str, at: str) -> str | None:
        """The device's first sign of life at or after ``at``: a recording found, or its last
        dock (the exemption clock starts there)."""
        row = self._one("SELECT MIN(found_at) AS first FROM media WHERE device_serial = ? "
                        "AND found_at >= ?", (serial, at))
        dock = self._one("SELECT last_dock_at FROM devices WHERE serial = ?", (serial,))
        seen = [t for t in (row["first"] if row else None,
                            dock["last_dock_at"] if dock else None) if t and t >= at]
        return min(seen) if seen else None


def _ascii_digits(text: str) -> bool:
    """``str.isdigit`` is true for ``²`` and ``١`` too; an id is written in ASCII digits."""
    return text.isascii() and text.isdigit()
