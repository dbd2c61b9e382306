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

from evidock.daemon.deadlines import first_deadline, latest_deadline, trusted_time
from evidock.daemon.errors import EvidockError
from evidock.daemon.ledger.base import Ledger
from evidock.daemon.ledger.records import MediaRecord
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
    withdrawn_at: str | None = None
    withdrawn_by: str | None = None
    withdraw_reason: str | None = None
    corrected_at: str | None = None
    corrected_by: str | None = None
    correct_reason: str | None = None

    def covers(self, media: MediaRecord) -> bool:
        """The recording was made inside the span by that officer or device.  A recording
        whose time the drivers flagged as implausible is covered by none: its clock runs from
        discovery."""
        who = ((self.officer_id is not None and self.officer_id == media.officer_id)
               or (self.device_serial is not None and self.device_serial == media.device_serial))
        return (who and self.withdrawn_at is None and trusted_time(media.flags)
                and self.start_at <= media.recorded_at <= self.end_at)


class Exemptions:
    def __init__(self, ledger: Ledger, *, handover_hours: float,
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
        exemption_id = self.ledger.add_exemption(values)
        self.apply()
        return self.get(exemption_id)

    def get(self, exemption_id: int) -> Exemption:
        return Exemption(**self.ledger.exemption(exemption_id))

    def list(self, *, active_at: datetime | None = None,
             include_withdrawn: bool = False) -> list[Exemption]:
        return [Exemption(**e) for e in self.ledger.exemptions(
            active_at=active_at, include_withdrawn=include_withdrawn)]

    def withdraw(self, exemption_id: int, *, by: str, reason: str) -> tuple[Exemption, int]:
        """Withdraw an exemption registered in error; the deadlines it moved are computed
        again (they may move earlier, and a handover that is now late is recorded late).
        Returns the exemption and how many deadlines changed."""
        if not reason.strip():
            raise EvidockError("withdrawing an exemption needs a reason", hint="pass --reason")
        old = self.get(exemption_id)
        self.ledger.withdraw_exemption(exemption_id, by=by, reason=reason)
        return self.get(exemption_id), self.recompute([old], cause=f"exemption "
                                                      f"{exemption_id} withdrawn")

    def correct(self, exemption_id: int, *, by: str, reason: str, officer_id: str | None = None,
                device_serial: str | None = None, start: datetime | None = None,
                end: datetime | None = None, exemption_reason: str | None = None,
                note: str | None = None) -> tuple[Exemption, dict, int]:
        """Correct fields of an exemption (each change a ``exemption_corrected`` event with
        what it was); deadlines inside the old and the new span are computed again."""
        if not reason.strip():
            raise EvidockError("correcting an exemption needs a reason", hint="pass --why")
        if exemption_reason is not None and exemption_reason not in self.reasons:
            raise EvidockError(f"reason {exemption_reason!r} is not one of "
                               f"{', '.join(self.reasons)}")
        changes = {k: v for k, v in {
            "officer_id": officer_id, "device_serial": device_serial,
            "start_at": stamp(start) if start else None, "end_at": stamp(end) if end else None,
            "reason": exemption_reason, "note": note}.items() if v is not None}
        old = self.get(exemption_id)
        changed = self.ledger.correct_exemption(exemption_id, changes, by=by, reason=reason)
        new = self.get(exemption_id)
        moved = self.recompute([old, new], cause=f"exemption {exemption_id} corrected") \
            if changed else 0
        return new, changed, moved

    def recompute(self, spans: list[Exemption], *, cause: str) -> int:
        """Every recording inside these spans gets its deadline from scratch: first seen,
        then the exemptions still in force."""
        exemptions = self.list()
        seen: dict[int, MediaRecord] = {}
        for span in spans:
            for m in self.ledger.media_for_exemption(
                    officer_id=span.officer_id, device_serial=span.device_serial,
                    start_at=span.start_at, end_at=span.end_at):
                seen[m.id] = m
        changed = 0
        for m in sorted(seen.values(), key=lambda m: m.id):
            new, by = self.deadline(m, exemptions)
            if self.ledger.recompute_deadline(m.id, new, cause=cause, exemption_id=by):
                log.info("deadline_recomputed", media_id=m.id, deadline=stamp(new),
                         was=m.deadline_at, cause=cause)
                changed += 1
        return changed

    def exempt_now(self, *, officer_id: str | None, device_serial: str, now: datetime) -> bool:
        """Is the device (or its officer) on exempted duty at ``now``?"""
        return any((e.device_serial == device_serial)
                   or (officer_id is not None and e.officer_id == officer_id)
                   for e in self.list(active_at=now))

    # -- the clock ---------------------------------------------------------------------------

    def deadline(self, media: MediaRecord, exemptions: list[Exemption] | None = None
                 ) -> tuple[datetime, int | None]:
        """The recording's handover deadline, and the exemption that set it (or None).

        Never later than first seen + the window: once the station holds the file, the
        officer's return is behind it, whatever the exemption or the device clock says."""
        found = parse(media.found_at)
        best = first_deadline(parse(media.recorded_at), found, self.window, media.flags)
        by = None
        cap = latest_deadline(found, self.window)
        for ex in exemptions if exemptions is not None else self.list():
            if not ex.covers(media):
                continue
            start = self._first_dock_after(media.device_serial, ex.end_at) or parse(ex.end_at)
            candidate = min(start + self.window, cap)
            if candidate > best:
                best, by = candidate, ex.id
        return best, by

    def _first_dock_after(self, serial: str, at: str) -> datetime | None:
        first = self.ledger.first_found_after(serial, at)
        return parse(first) if first else None

    def apply(self, media: list[MediaRecord] | None = None) -> int:
        """Move the deadlines of recordings not yet handed over; returns how many moved."""
        exemptions = self.list()
        if not exemptions:
            return 0
        if media is None:
            first = min(e.start_at for e in exemptions)
            media = sorted(self.ledger.pending_media(recorded_since=first), key=lambda m: m.id)
        moved = 0
        for m in media:
            new, exemption_id = self.deadline(m, exemptions)
            if exemption_id is None or stamp(new) <= m.deadline_at:
                continue
            if not self.ledger.move_deadline(m.id, new, exemption_id=exemption_id):
                continue
            log.info("deadline_moved", media_id=m.id, deadline=stamp(new),
                     exemption_id=exemption_id)
            moved += 1
        return moved

    def adjust(self, media: MediaRecord) -> MediaRecord:
        """For the pipeline: the recording as queued, its deadline moved if exempted."""
        if self.apply([media]):
            return self.ledger.media(media.id)
        return media
