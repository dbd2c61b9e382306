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

from evidock.daemon.errors import EvidockError, NotFound
from evidock.daemon.ledger.sqlite import SqliteLedger

log = structlog.get_logger("evidock.alerts")

SEVERITIES = ("info", "warning", "critical")
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

    COLUMNS = ("id, key, check_name, rule, severity, subject, message, state, raised_at, "
               "acknowledged_at, acknowledged_by, resolved_at")

    def as_dict(self) -> dict:
        return asdict(self)


class AlertSink(Protocol):
    """Where alert changes go besides the ledger.  ``change`` is raised, escalated,
    acknowledged or resolved.  Raise an :class:`EvidockError` when delivery failed."""

    name: str

    def deliver(self, change: str, alert: Alert) -> None: ...


class AlertBook:
    def __init__(self, ledger: SqliteLedger, sinks: Iterable[AlertSink] = ()) -> None:
        self.ledger = ledger
        self.sinks = list(sinks)

    # -- queries -----------------------------------------------------------------------------

    def get(self, alert_id: int) -> Alert:
        row = self.ledger.reader().execute(
            f"SELECT {Alert.COLUMNS} FROM alerts WHERE id = ?", (alert_id,)).fetchone()
        if row is None:
            raise NotFound(f"no alert with id {alert_id}")
        return Alert(**dict(row))

    def list(self, *, open_only: bool = False, check: str | None = None) -> list[Alert]:
        where, params = [], []
        if open_only:
            where.append("state != 'resolved'")
        if check is not None:
            where.append("check_name = ?")
            params.append(check)
        sql = f"SELECT {Alert.COLUMNS} FROM alerts"
        if where:
            sql += " WHERE " + " AND ".join(where)
        rows = self.ledger.reader().execute(sql + " ORDER BY id", params)
        return [Alert(**dict(r)) for r in rows]

    def open_counts(self) -> dict[tuple[str, str], int]:
        """Open (raised or acknowledged) alerts by (rule, severity)."""
        rows = self.ledger.reader().execute(
            "SELECT rule, severity, COUNT(*) AS n FROM alerts WHERE state != 'resolved' "
            "GROUP BY rule, severity")
        return {(r["rule"], r["severity"]): r["n"] for r in rows}

    # -- changes -----------------------------------------------------------------------------

    def sync(self, check: str, findings: Iterable[Finding]) -> list[tuple[str, Alert]]:
        """Make the open alerts of ``check`` match ``findings``; returns the changes made."""
        found = {}
        for f in findings:
            if f.severity not in SEVERITIES:
                raise ValueError(f"finding {f.key}: unknown severity {f.severity!r}")
            found[f.key] = f
        changes: list[tuple[str, int]] = []
        with self.ledger.transaction() as conn:
            now = self.ledger.now()
            open_rows = {r["key"]: r for r in conn.execute(
                "SELECT id, key, severity, state FROM alerts WHERE check_name = ? "
                "AND state != 'resolved'", (check,))}
            for key, f in found.items():
                row = open_rows.get(key)
                if row is None:
                    alert_id = conn.execute(
                        "INSERT INTO alerts (key, check_name, rule, severity, subject, message, "
                        "state, raised_at) VALUES (?, ?, ?, ?, ?, ?, 'raised', ?)",
                        (key, check, f.rule, f.severity, f.subject, f.message, now)).lastrowid
                    self._event(conn, "alert_raised", alert_id, check, f)
                    changes.append(("raised", alert_id))
                elif SEVERITIES.index(f.severity) > SEVERITIES.index(row["severity"]):
                    conn.execute("UPDATE alerts SET severity = ?, message = ?, state = 'raised', "
                                 "acknowledged_at = NULL, acknowledged_by = NULL WHERE id = ?",
                                 (f.severity, f.message, row["id"]))
                    self._event(conn, "alert_escalated", row["id"], check, f)
                    changes.append(("escalated", row["id"]))
            for key, row in open_rows.items():
                if key not in found:
                    conn.execute("UPDATE alerts SET state = 'resolved', resolved_at = ? "
                                 "WHERE id = ?", (now, row["id"]))
                    self.ledger.append_event(conn, "alert_resolved", f"alert:{row['id']}",
                                             {"alert_id": row["id"], "key": key})
                    changes.append(("resolved", row["id"]))
        done = [(change, self.get(alert_id)) for change, alert_id in changes]
        for change, alert in done:
            self._deliver(change, alert)
        return done

    def acknowledge(self, alert_id: int, by: str) -> Alert:
        """A person has seen the alert and takes it on; it stays open until its cause is gone."""
        if not by.strip():
            raise EvidockError("an acknowledgement needs the name of who acknowledges",
                               hint="pass --by NAME")
        with self.ledger.transaction() as conn:
            row = conn.execute("SELECT state FROM alerts WHERE id = ?", (alert_id,)).fetchone()
            if row is None:
                raise NotFound(f"no alert with id {alert_id}")
            if row["state"] != RAISED:
                raise EvidockError(f"alert {alert_id} is {row['state']}, not raised",
                                   hint="only a raised alert can be acknowledged")
            now = self.ledger.now()
            conn.execute("UPDATE alerts SET state = 'acknowledged', acknowledged_at = ?, "
                         "acknowledged_by = ? WHERE id = ?", (now, by, alert_id))
            self.ledger.append_event(conn, "alert_acknowledged", f"alert:{alert_id}",
                                     {"alert_id": alert_id, "by": by})
        alert = self.get(alert_id)
        self._deliver("acknowledged", alert)
        return alert

    def _event(self, conn, kind: str, alert_id: int, check: str, f: Finding) -> None:
        self.ledger.append_event(conn, kind, f"alert:{alert_id}", {
            "alert_id": alert_id, "key": f.key, "check": check, "rule": f.rule,
            "severity": f.severity, "subject": f.subject, "message": f.message})

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
        return self.ledger.reader().execute(
            "SELECT 1 FROM alert_outbox WHERE sink = ? AND delivered_at IS NULL LIMIT 1",
            (sink,)).fetchone() is not None

    def _queue(self, sink: str, change: str, alert: Alert, error: str) -> None:
        log.warning("alert_delivery_failed", sink=sink, alert_id=alert.id, error=error)
        with self.ledger.transaction() as conn:
            conn.execute("INSERT INTO alert_outbox (alert_id, change, sink, failed_at, "
                         "last_error) VALUES (?, ?, ?, ?, ?)",
                         (alert.id, change, sink, self.ledger.now(), error))
            self.ledger.append_event(conn, "alert_delivery_failed", f"alert:{alert.id}", {
                "alert_id": alert.id, "change": change, "sink": sink, "error": error})

    def redeliver(self) -> int:
        """Send what sinks missed, oldest first, stopping at a sink's first failure;
        returns how many were delivered now."""
        delivered = 0
        for sink in self.sinks:
            rows = self.ledger.reader().execute(
                "SELECT id, alert_id, change FROM alert_outbox WHERE sink = ? AND "
                "delivered_at IS NULL ORDER BY id", (sink.name,)).fetchall()
            for row in rows:
                try:
                    sink.deliver(row["change"], self.get(row["alert_id"]))
                except EvidockError as exc:
                    with self.ledger.transaction() as conn:
                        conn.execute("UPDATE alert_outbox SET tries = tries + 1, last_error = ? "
                                     "WHERE id = ?", (str(exc), row["id"]))
                    break
                with self.ledger.transaction() as conn:
                    conn.execute("UPDATE alert_outbox SET delivered_at = ? WHERE id = ?",
                                 (self.ledger.now(), row["id"]))
                    self.ledger.append_event(conn, "alert_delivered", f"alert:{row['alert_id']}",
                                             {"alert_id": row["alert_id"],
                                              "change": row["change"], "sink": sink.name,
                                              "late": True})
                delivered += 1
        return delivered
