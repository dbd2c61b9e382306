"""Alert rows and their delivery outbox (part of SqliteLedger).

``alerts`` is projected from the chain.  ``alert_outbox`` is delivery bookkeeping, outside
the chain: which changes a sink still has to receive and how often it was tried.  Each
failed delivery is also an ``alert_delivery_failed`` event and each late one an
``alert_delivered`` event, so the history of deliveries is in the chain; the retry counter
and last error of a waiting row are not.
"""

from __future__ import annotations

from evidock.daemon.errors import EvidockError, NotFound

SEVERITIES = ("info", "warning", "critical")
ALERT_COLUMNS = ("id, key, check_name, rule, severity, subject, message, state, raised_at, "
                 "acknowledged_at, acknowledged_by, resolved_at, acknowledged_reason")
#: Alerts about something that happened (a late handover, a lock the audit had to repair, a
#: change of the bucket's protection) rather than a state that lasts: their cause never goes
#: away by itself, so a person closes them by acknowledging with a reason, and a closed key
#: is never raised again.
CLOSED_BY_ACK = ("late:media:", "retention:incident:")


def closes_on_ack(key: str) -> bool:
    return key.startswith(CLOSED_BY_ACK)


class AlertsMixin:
    def alert(self, alert_id: int) -> dict:
        row = self._one(f"SELECT {ALERT_COLUMNS} FROM alerts WHERE id = ?", (alert_id,))
        if row is None:
            raise NotFound(f"no alert with id {alert_id}")
        return dict(row)

    def alerts(self, *, open_only: bool = False, check: str | None = None) -> list[dict]:
        where, params = [], []
        if open_only:
            where.append("state != 'resolved'")
        if check is not None:
            where.append("check_name = ?")
            params.append(check)
        sql = f"SELECT {ALERT_COLUMNS} FROM alerts"
        if where:
            sql += " WHERE " + " AND ".join(where)
        return [dict(r) for r in self._rows(sql + " ORDER BY id", params)]

    def open_alert_counts(self) -> dict[tuple[str, str], int]:
        """Open (raised or acknowledged) alerts by (rule, severity)."""
        return {(r["rule"], r["severity"]): r["n"] for r in self._rows(
            "SELECT rule, severity, COUNT(*) AS n FROM alerts WHERE state != 'resolved' "
            "GROUP BY rule, severity")}

    def sync_alerts(self, check: str, findings: list[dict]) -> list[tuple[str, int]]:
        """Make the open alerts of ``check`` match ``findings`` (dicts with key, rule,
        severity, subject, message; one per key), in one transaction: a new key is raised,
        a known key whose severity rose is escalated, an open key no longer found is
        resolved.  Returns ``(change, alert id)`` in the order made."""
        changes: list[tuple[str, int]] = []
        with self._transaction() as conn:
            now = self.now()
            open_rows = {r["key"]: r for r in conn.execute(
                "SELECT id, key, severity, state FROM alerts WHERE check_name = ? "
                "AND state != 'resolved' ORDER BY id", (check,)).fetchall()}
            closed = {r["key"] for r in conn.execute(
                "SELECT key FROM alerts WHERE check_name = ? AND state = 'resolved' AND "
                "acknowledged_reason IS NOT NULL", (check,)).fetchall()}
            for f in findings:
                row = open_rows.get(f["key"])
                if row is None and f["key"] in closed and closes_on_ack(f["key"]):
                    continue  # closed by a person with a reason: it stays closed
                body = {"key": f["key"], "check": check, "rule": f["rule"],
                        "severity": f["severity"], "subject": f["subject"],
                        "message": f["message"]}
                if row is None:
                    alert_id = self._next_id(conn, "alerts")
                    self._emit(conn, "alert_raised", f"alert:{alert_id}",
                               {**body, "alert_id": alert_id, "raised_at": now})
                    changes.append(("raised", alert_id))
                elif SEVERITIES.index(f["severity"]) > SEVERITIES.index(row["severity"]):
                    self._emit(conn, "alert_escalated", f"alert:{row['id']}",
                               {**body, "alert_id": row["id"]})
                    changes.append(("escalated", row["id"]))
            found = {f["key"] for f in findings}
            for key, row in open_rows.items():
                if key not in found:
                    self._emit(conn, "alert_resolved", f"alert:{row['id']}",
                               {"alert_id": row["id"], "key": key, "resolved_at": now})
                    changes.append(("resolved", row["id"]))
        return changes

    def acknowledge_alert(self, alert_id: int, by: str, reason: str | None = None) -> bool:
        """raised -> acknowledged (with the reason, if given); any other state is refused.

        An alert about something that happened (:data:`CLOSED_BY_ACK`) needs a reason and is
        closed by it: ``alert_acknowledged`` and ``alert_resolved`` in one transaction, and
        for a late handover ``handover_late_acknowledged`` on its row.  Returns whether the
        alert was closed."""
        with self._transaction() as conn:
            row = conn.execute("SELECT state, key FROM alerts WHERE id = ?",
                               (alert_id,)).fetchone()
            if row is None:
                raise NotFound(f"no alert with id {alert_id}")
            closes = closes_on_ack(row["key"])
            if row["state"] == "acknowledged" and closes and reason:
                pass  # acknowledged earlier without a reason: a reason now closes it
            elif row["state"] != "raised":
                raise EvidockError(f"alert {alert_id} is {row['state']}, not raised",
                                   hint="only a raised alert can be acknowledged")
            if closes and not (reason or "").strip():
                raise EvidockError(f"alert {alert_id} ({row['key']}) records something that "
                                   "happened: acknowledging it closes it, and needs a reason",
                                   hint="pass --reason TEXT (why it happened, what was done)")
            now = self.now()
            self._emit(conn, "alert_acknowledged", f"alert:{alert_id}",
                       {"alert_id": alert_id, "by": by, "acknowledged_at": now,
                        "reason": reason or None})
            if not closes:
                return False
            if row["key"].startswith("late:media:"):
                media_id = int(row["key"].rsplit(":", 1)[1])
                self._emit(conn, "handover_late_acknowledged", f"media:{media_id}", {
                    "media_id": media_id, "alert_id": alert_id, "by": by, "reason": reason,
                    "acknowledged_at": now})
            self._emit(conn, "alert_resolved", f"alert:{alert_id}",
                       {"alert_id": alert_id, "key": row["key"], "resolved_at": now})
        return True

    # -- the outbox (delivery bookkeeping) ---------------------------------------------------

    def queue_delivery(self, alert_id: int, change: str, sink: str, error: str) -> None:
        """A sink could not take this change: keep it for redelivery (and record why)."""
        with self._transaction() as conn:
            conn.execute("INSERT INTO alert_outbox (alert_id, change, sink, failed_at, "
                         "last_error) VALUES (?, ?, ?, ?, ?)",
                         (alert_id, change, sink, self.now(), error))
            self._emit(conn, "alert_delivery_failed", f"alert:{alert_id}", {
                "alert_id": alert_id, "change": change, "sink": sink, "error": error})

    def undelivered(self, sink: str, *, limit: int | None = None) -> list[dict]:
        """Changes the sink has still to receive, oldest first (id, alert_id, change)."""
        sql = ("SELECT id, alert_id, change FROM alert_outbox WHERE sink = ? AND "
               "delivered_at IS NULL ORDER BY id")
        if limit:
            sql += f" LIMIT {int(limit)}"
        return [dict(r) for r in self._rows(sql, (sink,))]

    def delivery_retried(self, outbox_id: int, error: str) -> None:
        """Another failed try of a waiting change (bookkeeping: no event)."""
        with self._transaction() as conn:
            conn.execute("UPDATE alert_outbox SET tries = tries + 1, last_error = ? "
                         "WHERE id = ?", (error, outbox_id))

    def delivered_late(self, outbox_id: int) -> None:
        """A waiting change reached its sink (``alert_delivered``, late)."""
        with self._transaction() as conn:
            row = conn.execute("SELECT alert_id, change, sink FROM alert_outbox WHERE id = ?",
                               (outbox_id,)).fetchone()
            if row is None:
                raise NotFound(f"no alert delivery {outbox_id} waiting")
            conn.execute("UPDATE alert_outbox SET delivered_at = ? WHERE id = ?",
                         (self.now(), outbox_id))
            self._emit(conn, "alert_delivered", f"alert:{row['alert_id']}", {
                "alert_id": row["alert_id"], "change": row["change"], "sink": row["sink"],
                "late": True})
