"""The handover clock (R1, R2): recordings at risk or overdue, devices away too long, and
late handovers recorded naming officer and device.

Findings are grouped per device (one alert for a device with 40 waiting recordings, not 40),
with the earliest deadline in the message.  A device counts as away from its dock from its
last undock until its next dock; recordings made since it left may breach from undock +
window, so it is warned about ``lead`` before that, unless an exemption covers it now.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

import structlog

from evidock.daemon.alerts.book import Finding
from evidock.daemon.exemptions import Exemptions
from evidock.daemon.ledger.base import Ledger
from evidock.daemon.timeutil import parse, stamp

log = structlog.get_logger("evidock.checks")


@dataclass(frozen=True)
class LateHandover:
    media_id: int
    device_serial: str
    officer_id: str | None
    deadline_at: str
    handed_over_at: str
    late_seconds: float


def late_severity(late: timedelta) -> str:
    """By how late: under an hour info, under a day warning, a day or more critical."""
    if late < timedelta(hours=1):
        return "info"
    return "warning" if late < timedelta(days=1) else "critical"


def _hours(delta: timedelta) -> str:
    hours = delta.total_seconds() / 3600
    return f"{hours:.1f} h"


class HandoverCheck:
    name = "handover"

    def __init__(self, ledger: Ledger, exemptions: Exemptions, *, lead_hours: float,
                 handover_hours: float) -> None:
        self.ledger = ledger
        self.exemptions = exemptions
        self.lead = timedelta(hours=lead_hours)
        self.window = timedelta(hours=handover_hours)
        self.late: list[LateHandover] = []  # recorded by the last run

    def run(self, now: datetime) -> list[Finding]:
        self.exemptions.apply()
        self.late = self.record_late()
        return self._pending(now) + self._away(now) + self._late()

    def _late(self) -> list[Finding]:
        """One alert per late handover, open until a supervisor acknowledges it with a reason
        (``evidock alerts ack ID --by NAME --reason TEXT``)."""
        findings = []
        for r in self.ledger.late_unacknowledged():
            late = timedelta(seconds=r["late_seconds"])
            officer = r["officer_id"] or "unknown"
            findings.append(Finding(
                key=f"late:media:{r['media_id']}", rule="R1", severity=late_severity(late),
                subject=f"media:{r['media_id']}",
                message=(f"recording {r['media_id']} ({r['source_path']}) of officer {officer}, "
                         f"device {r['device_serial']}, was handed over {_hours(late)} late: "
                         f"deadline {r['deadline_at']}, handed over {r['handed_over_at']}. A "
                         "supervisor acknowledges it with the reason ('evidock alerts ack ID "
                         "--by NAME --reason TEXT').")))
        return findings

    def _pending(self, now: datetime) -> list[Finding]:
        by_device: dict[str, list] = {}
        for media in self.ledger.pending_media(deadline_before=stamp(now + self.lead)):
            by_device.setdefault(media.device_serial, []).append(media)
        findings = []
        for serial, waiting in sorted(by_device.items()):
            first = min(waiting, key=lambda m: m.deadline_at)
            overdue = [m for m in waiting if parse(m.deadline_at) <= now]
            officers = sorted({m.officer_id for m in waiting if m.officer_id})
            who = f" (officer {', '.join(officers)})" if officers else ""
            errors = sorted({m.last_error for m in waiting if m.last_error})
            why = f" Last error: {errors[0]}." if errors else ""
            if overdue:
                message = (f"{len(overdue)} recording(s) on device {serial}{who} are past their "
                           f"handover deadline (earliest {first.deadline_at}, "
                           f"{_hours(now - parse(first.deadline_at))} ago).{why} Dock the "
                           "device now, or fix what stops the ingest; every late handover is "
                           "recorded.")
            else:
                message = (f"{len(waiting)} recording(s) on device {serial}{who} must be "
                           f"handed over by {first.deadline_at} (in "
                           f"{_hours(parse(first.deadline_at) - now)}).{why} Dock the device.")
            findings.append(Finding(
                key=f"handover:device:{serial}", rule="R1",
                severity="critical" if overdue else "warning",
                subject=f"device:{serial}", message=message))
        return findings

    def _away(self, now: datetime) -> list[Finding]:
        findings = []
        for device in self.ledger.devices():
            left = device.last_undock_at
            if not left or (device.last_dock_at and device.last_dock_at > left):
                continue
            breach = parse(left) + self.window
            if now < breach - self.lead:
                continue
            if self.exemptions.exempt_now(officer_id=device.officer_id,
                                          device_serial=device.serial, now=now):
                continue
            who = f" (officer {device.officer_id})" if device.officer_id else ""
            if now >= breach:
                text = (f"device {device.serial}{who} has been out of its dock since {left}: "
                        f"recordings made since then are overdue from {stamp(breach)}.")
            else:
                text = (f"device {device.serial}{who} has been out of its dock since {left}: "
                        f"recordings made since then breach the handover window from "
                        f"{stamp(breach)} (in {_hours(breach - now)}).")
            findings.append(Finding(
                key=f"away:device:{device.serial}", rule="R1",
                severity="critical" if now >= breach else "warning",
                subject=f"device:{device.serial}",
                message=text + " Dock it, or register a duty exemption "
                               "('evidock exemptions add') if the officer is on exempted duty."))
        return findings

    def record_late(self) -> list[LateHandover]:
        """Every recording handed over after its deadline, recorded once, by device+officer."""
        late = []
        for r in self.ledger.unrecorded_late():
            seconds = (parse(r["ingested_at"]) - parse(r["deadline_at"])).total_seconds()
            late.append(LateHandover(r["id"], r["device_serial"], r["officer_id"],
                                     r["deadline_at"], r["ingested_at"], seconds))
        self.ledger.record_late([asdict(item) for item in late])
        for item in late:
            log.warning("handover_late", media_id=item.media_id, device_serial=item.device_serial,
                        officer_id=item.officer_id, late_seconds=round(item.late_seconds))
        return late
