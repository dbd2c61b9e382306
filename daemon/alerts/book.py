"""Alerts as ledger rows with a life cycle: raised, acknowledged, resolved.

A check does not raise alerts one by one: it reports every condition it finds now
(:class:`Finding`), and :meth:`AlertBook.sync` raises the new ones, leaves the ones already
open alone (de-duplication by ``key``), escalates a finding whose severity rose, and resolves
the open alerts of that check that are no longer found.  Each change is a chained ledger event
committed with the row, then handed to the sinks (log, webhook); a change a sink could not
take is recorded in the ledger (``alert_delivery_failed`` and the outbox) and sent again by
:meth:`AlertBook.redeliver`, in order, once the sink answers.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Protocol

import structlog

from evidock.daemon.errors import EvidockError
from evidock.daemon.ledger.alerting import SEVERITIES
from evidock.daemon.ledger.base import Ledger

log = structlog.get_logger("evidock.alerts")

RAISED, ACKNOWLEDGED, RESOLVED = "raised", "acknowledged", "resolved"


@dataclass(frozen=True)
class Finding:
    """One condition a check found; ``key`` names it uniquely across all checks."""

    key: str
    rule: str  # R1..R12
    severity: str
    subject: str  # device:<serial>, officer:<id>, case:<id>, media:<id>
    message: str  # what is wrong and what to do


@dataclass(frozen=True)
class Alert:
    id: int
    key: str
    check_name: str
    rule: str
    severity: str
    subject: str
    message: str
    state: str
    raised_at: str
    acknowledged_at: str | None
    acknowledged_by: str | None
    resolved_at: str | None
    acknowledged_reason: str | None = None

    def as_dict(self) -> dict:
        return asdict(self)


class AlertSink(Protocol):
    """Where alert changes go besides the ledger.  ``change`` is raised, escalated,
    acknowledged or resolved.  Raise an :class:`EvidockError` when delivery failed."""

    name: str

    def deliver(self, change: str, alert: Alert) -> None: ...


class AlertBook:
    def __init__(self, ledger: Ledger, sinks: Iterable[AlertSink] = ()) -> None:
        self.ledger = ledger
        self.sinks = list(sinks)

    # -- queries -----------------------------------------------------------------------------

    def get(self, alert_id: int) -> Alert:
        return Alert(**self.ledger.alert(alert_id))

    def list(self, *, open_only: bool = False, check: str | None = None) -> list[Alert]:
        return [Alert(**a) for a in self.ledger.alerts(open_only=open_only, check=check)]

    def open_counts(self) -> dict[tuple[str, str], int]:
        """Open (raised or acknowledged) alerts by (rule, severity)."""
        return self.ledger.open_alert_counts()

    # -- changes -----------------------------------------------------------------------------

    def sync(self, check: str, findings: Iterable[Finding]) -> list[tuple[str, Alert]]:
        """Make the open alerts of ``check`` match ``findings``; returns the changes made."""
        found = {}
        for f in findings:
            if f.severity not in SEVERITIES:
                raise ValueError(f"finding {f.key}: unknown severity {f.severity!r}")
            found[f.key] = f
        changes = self.ledger.sync_alerts(check, [asdict(f) for f in found.values()])
        done = [(change, self.get(alert_id)) for change, alert_id in changes]
        for change, alert in done:
            self._deliver(change, alert)
        return done

    def acknowledge(self, alert_id: int, by: str, reason: str | None = None) -> Alert:
        """A person has seen the alert and takes it on; it stays open until its cause is gone.
        An alert about something that happened (a late handover, a repaired lock) is closed
        by an acknowledgement with a reason (a supervisor's)."""
        if not by.strip():
            raise EvidockError("an acknowledgement needs the name of who acknowledges",
                               hint="pass --by NAME")
        closed = self.ledger.acknowledge_alert(alert_id, by, reason)
        alert = self.get(alert_id)
        self._deliver("acknowledged", alert)
        if closed:
            self._deliver("resolved", alert)
        return alert

    def _deliver(self, change: str, alert: Alert) -> None:
        for sink in self.sinks:
            if self._backlog(sink.name):
                self._queue(sink.name, change, alert, "waiting behind earlier changes")
                continue  # keep the receiver's order: the backlog goes first
            try:
                sink.deliver(change, alert)
            except EvidockError as exc:
                self._queue(sink.name, change, alert, str(exc))

    def _backlog(self, sink: str) -> bool:
        return bool(self.ledger.undelivered(sink, limit=1))

    def _queue(self, sink: str, change: str, alert: Alert, error: str) -> None:
        log.warning("alert_delivery_failed", sink=sink, alert_id=alert.id, error=error)
        self.ledger.queue_delivery(alert.id, change, sink, error)

    def redeliver(self) -> int:
        """Send what sinks missed, oldest first, stopping at a sink's first failure;
        returns how many were delivered now."""
        delivered = 0
        for sink in self.sinks:
            for row in self.ledger.undelivered(sink.name):
                try:
                    sink.deliver(row["change"], self.get(row["alert_id"]))
                except EvidockError as exc:
                    self.ledger.delivery_retried(row["id"], str(exc))
                    break
                self.ledger.delivered_late(row["id"])
                delivered += 1
        return delivered
