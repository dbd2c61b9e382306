"""Duty exemptions (R2) and the handover deadline they move.

A recording's deadline is its time + the handover window (R1, at most 24 h).  An exemption
registered for an officer or a device, over a time span and with a reason (continuous duty,
duty away from the unit, remote area), moves the start of that clock for recordings made
inside the span to the device's first dock after the span ends; until such a dock the clock
starts at the end of the span.  Deadlines only move later, each move a ``deadline_moved``
event, and the ingest queue (earliest deadline first) follows them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog

from evidock.daemon.errors import EvidockError
from evidock.daemon.ledger.records import MediaRecord
from evidock.daemon.ledger.sqlite import SqliteLedger
from evidock.daemon.timeutil import parse, stamp

log = structlog.get_logger("evidock.exemptions")


@dataclass(frozen=True)
class Exemption:
    id: int
    officer_id: str | None
    device_serial: str | None
    start_at: str
    end_at: str
    reason: str
    note: str
    registered_by: str
    registered_at: str

    COLUMNS = ("id, officer_id, device_serial, start_at, end_at, reason, note, registered_by, "
               "registered_at")

    def covers(self, media: MediaRecord) -> bool:
        who = ((self.officer_id is not None and self.officer_id == media.officer_id)
               or (self.device_serial is not None and self.device_serial == media.device_serial))
        return who and self.start_at <= media.recorded_at <= self.end_at


class Exemptions:
    def __init__(self, ledger: SqliteLedger, *, handover_hours: float,
                 reasons: list[str]) -> None:
        self.ledger = ledger
        self.window = timedelta(hours=handover_hours)
        self.reasons = list(reasons)

    def add(self, *, officer_id: str | None, device_serial: str | None, start: datetime,
            end: datetime, reason: str, note: str, by: str) -> Exemption:
        if not officer_id and not device_serial:
            raise EvidockError("an exemption names an officer (--officer) or a device (--device)")
        if end <= start:
            raise EvidockError(f"the exemption ends ({stamp(end)}) before it starts "
                               f"({stamp(start)})")
        if reason not in self.reasons:
            raise EvidockError(f"reason {reason!r} is not one of {', '.join(self.reasons)}",
                               hint="use a listed reason, or add it to [checks] "
                                    "exemption_reasons")
        if not by.strip():
            raise EvidockError("an exemption needs the name of who registers it",
                               hint="pass --by NAME")
        values = {"officer_id": officer_id or None, "device_serial": device_serial or None,
                  "start_at": stamp(start), "end_at": stamp(end), "reason": reason,
                  "note": note, "registered_by": by}
        with self.ledger.transaction() as conn:
            exemption_id = conn.execute(
                "INSERT INTO exemptions (officer_id, device_serial, start_at, end_at, reason, "
                "note, registered_by, registered_at) VALUES (:officer_id, :device_serial, "
                ":start_at, :end_at, :reason, :note, :registered_by, :now)",
                {**values, "now": self.ledger.now()}).lastrowid
            self.ledger.append_event(conn, "exemption_registered", f"exemption:{exemption_id}",
                                     {**values, "exemption_id": exemption_id})
        self.apply()
        return self.get(exemption_id)

    def get(self, exemption_id: int) -> Exemption:
        row = self.ledger.reader().execute(
            f"SELECT {Exemption.COLUMNS} FROM exemptions WHERE id = ?", (exemption_id,)
        ).fetchone()
        return Exemption(**dict(row))

    def list(self, *, active_at: datetime | None = None) -> list[Exemption]:
        sql, params = f"SELECT {Exemption.COLUMNS} FROM exemptions", []
        if active_at is not None:
            sql += " WHERE start_at <= ? AND end_at >= ?"
            params = [stamp(active_at)] * 2
        return [Exemption(**dict(r)) for r in self.ledger.reader().execute(sql + " ORDER BY id",
                                                                            params)]

    def exempt_now(self, *, officer_id: str | None, device_serial: str, now: datetime) -> bool:
        """Is the device (or its officer) on exempted duty at ``now``?"""
        return any((e.device_serial == device_serial)
                   or (officer_id is not None and e.officer_id == officer_id)
                   for e in self.list(active_at=now))

    # -- the clock ---------------------------------------------------------------------------

    def deadline(self, media: MediaRecord, exemptions: list[Exemption] | None = None
                 ) -> tuple[datetime, int | None]:
        """The recording's handover deadline, and the exemption that set it (or None)."""
        best, by = parse(media.recorded_at) + self.window, None
        for ex in exemptions if exemptions is not None else self.list():
            if not ex.covers(media):
                continue
            start = self._first_dock_after(media.device_serial, ex.end_at) or parse(ex.end_at)
            if start + self.window > best:
                best, by = start + self.window, ex.id
        return best, by

    def _first_dock_after(self, serial: str, at: str) -> datetime | None:
        row = self.ledger.reader().execute(
            "SELECT MIN(found_at) AS first FROM media WHERE device_serial = ? AND found_at >= ?",
            (serial, at)).fetchone()
        dock = self.ledger.reader().execute(
            "SELECT last_dock_at FROM devices WHERE serial = ?", (serial,)).fetchone()
        seen = [t for t in (row["first"] if row else None,
                            dock["last_dock_at"] if dock else None) if t and t >= at]
        return parse(min(seen)) if seen else None

    def apply(self, media: list[MediaRecord] | None = None) -> int:
        """Move the deadlines of recordings not yet handed over; returns how many moved."""
        exemptions = self.list()
        if not exemptions:
            return 0
        if media is None:
            first = min(e.start_at for e in exemptions)
            rows = self.ledger.reader().execute(
                f"SELECT {MediaRecord.COLUMNS} FROM media WHERE state != 'verified' AND "
                "recorded_at >= ? ORDER BY id", (first,))
            media = [MediaRecord(**dict(r)) for r in rows]
        moved = 0
        for m in media:
            new, exemption_id = self.deadline(m, exemptions)
            if exemption_id is None or stamp(new) <= m.deadline_at:
                continue
            with self.ledger.transaction() as conn:
                conn.execute("UPDATE media SET deadline_at = ? WHERE id = ?", (stamp(new), m.id))
                self.ledger.append_event(conn, "deadline_moved", f"media:{m.id}", {
                    "media_id": m.id, "deadline_at": stamp(new), "was": m.deadline_at,
                    "exemption_id": exemption_id})
            log.info("deadline_moved", media_id=m.id, deadline=stamp(new),
                     exemption_id=exemption_id)
            moved += 1
        return moved

    def adjust(self, media: MediaRecord) -> MediaRecord:
        """For the pipeline: the recording as queued, its deadline moved if exempted."""
        if self.apply([media]):
            return self.ledger.media(media.id)
        return media
