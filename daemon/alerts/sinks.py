"""Where alert changes go besides the ledger: the log and a webhook.

The webhook receives one JSON POST per change::

    {"change": "raised", "station": "st-01", "alert": {"id": 7, "rule": "R1", ...}}

A POST that fails (connection refused, timeout, a non-2xx answer) is retried by the one retry
policy (daemon/retry.py: doubling delays); when every try failed the sink raises
:class:`AlertDeliveryFailed`, which the alert book records in the ledger
(``alert_delivery_failed``, and the outbox it redelivers from).

Inside the daemon a receiver that is slow or dead must not hold up the checks: the alert book
the checks use hands each change to :class:`WebhookSender`, a thread with a queue, which
delivers it through an alert book of its own (so a failure lands in the same outbox) and
redelivers the outbox while it has a backlog.  Commands (``evidock alerts ack``) deliver
directly: they end right after, and a thread would die with them.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import queue
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from urllib.parse import unquote, urlsplit, urlunsplit

import structlog

from evidock.daemon.alerts.book import Alert
from evidock.daemon.errors import AlertDeliveryFailed
from evidock.daemon.redact import redact_url, scrub, url_secrets
from evidock.daemon.retry import RetryPolicy

log = structlog.get_logger("evidock.alerts")


#: the longest wait between two tries of one POST
MAX_BACKOFF_SECONDS = 600.0


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
        # urllib takes no user:password@ in a URL: it goes as Basic auth, and the URL as shown
        # (errors, the ledger, the log) has it and any ?token= masked
        parts = urlsplit(url)
        self._auth = None
        if parts.username is not None:
            userinfo = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
            self._auth = "Basic " + base64.b64encode(userinfo.encode()).decode()
            parts = parts._replace(netloc=parts.netloc.rsplit("@", 1)[1])
        self.url = urlunsplit(parts)
        self.shown = redact_url(url)
        self._secrets = url_secrets(url)
        self.secret = secret
        self.station = station
        self.retries = retries
        self.timeout = timeout
        self.policy = RetryPolicy(retries + 1, backoff, max_seconds=MAX_BACKOFF_SECONDS)
        self.sleep = sleep

    def _headers(self, body: bytes) -> dict[str, str]:
        """With a secret, each POST carries X-Evidock-Timestamp and X-Evidock-Signature =
        sha256=HMAC(secret, "<timestamp>." + body), so a receiver can reject forged or replayed
        alerts (daemon/FORMATS.md, webhook body)."""
        headers = {"Content-Type": "application/json", "User-Agent": "evidock"}
        if self._auth:
            headers["Authorization"] = self._auth
        if self.secret:
            stamp = str(int(time.time()))
            mac = hmac.new(self.secret.encode(), stamp.encode() + b"." + body, hashlib.sha256)
            headers["X-Evidock-Timestamp"] = stamp
            headers["X-Evidock-Signature"] = "sha256=" + mac.hexdigest()
        return headers

    def deliver(self, change: str, alert: Alert) -> None:
        body = json.dumps({"change": change, "station": self.station, "alert": alert.as_dict()},
                          ensure_ascii=False).encode("utf-8")
        try:
            for attempt in self.policy.retrying(retry_on=AlertDeliveryFailed, sleep=self.sleep):
                with attempt:
                    self._post(body)
        except AlertDeliveryFailed as exc:
            raise AlertDeliveryFailed(
                f"webhook {self.shown}: alert {alert.id} ({change}) not delivered after "
                f"{self.retries + 1} tries: {scrub(str(exc.message), self._secrets)}",
                hint="check that the receiver is up and reachable; the alert stays in the "
                     "ledger and in 'evidock alerts list'") from None

    def _post(self, body: bytes) -> None:
        request = urllib.request.Request(
            self.url, data=body, method="POST", headers=self._headers(body))
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                response.read()
        except urllib.error.HTTPError as exc:
            raise AlertDeliveryFailed(scrub(f"HTTP {exc.code} {exc.reason}", self._secrets)) \
                from None
        except (urllib.error.URLError, OSError, ValueError) as exc:  # ValueError: a bad URL
            raise AlertDeliveryFailed(scrub(str(getattr(exc, "reason", exc)), self._secrets)) \
                from None


class WebhookSender:
    """Delivers alert changes to a sink from a thread of its own, in order.

    :attr:`handoff` is the sink the checks' alert book gets: its ``deliver`` only queues the
    change, so a check run never waits for the receiver.  ``book`` is an alert book whose only
    sink is the real one: the thread delivers each change through it, so a change the receiver
    did not take is written to the ledger's outbox exactly as a direct delivery would be, and
    the thread redelivers that outbox (oldest first) whenever it is woken or every
    ``redeliver_seconds`` while it has a backlog.  ``stop`` finishes what is queued, for at
    most ``timeout`` seconds; what is left is lost from the queue but not from the ledger (the
    alert is there, and ``evidock alerts list`` shows it).
    """

    def __init__(self, book, *, redeliver_seconds: float = 30.0) -> None:
        (sink,) = book.sinks
        self.book = book
        self.handoff = _Handoff(f"{sink.name}-sender", self._queue_change)
        self.redeliver_seconds = redeliver_seconds
        self._queue: queue.Queue = queue.Queue()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"alerts-{sink.name}",
                                        daemon=True)
        self._thread.start()

    def _queue_change(self, change: str, alert: Alert) -> None:
        self._queue.put((change, alert))

    def _run(self) -> None:
        while True:
            try:
                item = self._queue.get(timeout=self.redeliver_seconds)
            except queue.Empty:
                item = None
            if item is None and self._stopping.is_set():
                return
            try:  # the top of a thread: record and go on, never die
                self.book.redeliver()
                if item is not None:
                    self.book._deliver(*item)  # delivered, or queued in the ledger's outbox
            except Exception as exc:  # noqa: BLE001
                log.error("alert_sender_failed", error=f"{type(exc).__name__}: {exc}")

    def stop(self, timeout: float = 10.0) -> None:
        self._stopping.set()
        self._queue.put(None)
        self._thread.join(timeout)


class _Handoff:
    """The sink the checks see: hands the change to the sender thread and returns."""

    def __init__(self, name: str, put: Callable[[str, Alert], None]) -> None:
        self.name = name
        self._put = put

    def deliver(self, change: str, alert: Alert) -> None:
        self._put(change, alert)
