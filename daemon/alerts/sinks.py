"""Where alert changes go besides the ledger: the log and a webhook.

The webhook receives one JSON POST per change::

    {"change": "raised", "station": "st-01", "alert": {"id": 7, "rule": "R1", ...}}

A POST that fails (connection refused, timeout, a non-2xx answer) is retried with doubling
delays; when every try failed the sink raises :class:`AlertDeliveryFailed`, which the alert
book records in the ledger (``alert_delivery_failed``).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable

import structlog

from evidock.daemon.alerts.book import Alert
from evidock.daemon.errors import AlertDeliveryFailed

log = structlog.get_logger("evidock.alerts")


class LogSink:
    name = "log"

    def deliver(self, change: str, alert: Alert) -> None:
        method = log.warning if alert.severity != "info" and change != "resolved" else log.info
        method(f"alert_{change}", alert_id=alert.id, rule=alert.rule, severity=alert.severity,
               subject=alert.subject, message=alert.message)


class WebhookSink:
    name = "webhook"

    def __init__(self, url: str, *, station: str, retries: int = 3, timeout: float = 5.0,
                 backoff: float = 1.0, sleep: Callable[[float], None] = time.sleep,
                 secret: str | None = None) -> None:
        self.url = url
        self.secret = secret
        self.station = station
        self.retries = retries
        self.timeout = timeout
        self.backoff = backoff
        self.sleep = sleep

    def _headers(self, body: bytes) -> dict[str, str]:
        """With a secret, each POST carries X-Evidock-Timestamp and X-Evidock-Signature =
        sha256=HMAC(secret, "<timestamp>." + body), so a receiver can reject forged or replayed
        alerts (daemon/FORMATS.md, webhook body)."""
        headers = {"Content-Type": "application/json", "User-Agent": "evidock"}
        if self.secret:
            stamp = str(int(time.time()))
            mac = hmac.new(self.secret.encode(), stamp.encode() + b"." + body, hashlib.sha256)
            headers["X-Evidock-Timestamp"] = stamp
            headers["X-Evidock-Signature"] = "sha256=" + mac.hexdigest()
        return headers

    def deliver(self, change: str, alert: Alert) -> None:
        body = json.dumps({"change": change, "station": self.station, "alert": alert.as_dict()},
                          ensure_ascii=False).encode("utf-8")
        last = ""
        for attempt in range(self.retries + 1):
            if attempt:
                self.sleep(self.backoff * 2 ** (attempt - 1))
            request = urllib.request.Request(
                self.url, data=body, method="POST", headers=self._headers(body))
            try:
                with urllib.request.urlopen(request, timeout=self.timeout) as response:
                    response.read()
                return
            except urllib.error.HTTPError as exc:
                last = f"HTTP {exc.code} {exc.reason}"
            except (urllib.error.URLError, OSError) as exc:
                last = str(getattr(exc, "reason", exc))
        raise AlertDeliveryFailed(
            f"webhook {self.url}: alert {alert.id} ({change}) not delivered after "
            f"{self.retries + 1} tries: {last}",
            hint="check that the receiver is up and reachable; the alert stays in the ledger "
                 "and in 'evidock alerts list'")
