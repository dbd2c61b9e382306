"""RFC 3161 time stamps of the chain head (rfc3161ng).

The message imprint is the head event's hash itself (SHA-256), so anyone can check a token
with ``openssl ts -verify -digest <head hash> -in head.tst -token_in -CAfile tsa-ca.pem``.
Tokens are recorded in the ledger (``ledger_timestamped``) and put into export bags.

An authority that is down never stops the work that wanted a stamp: :meth:`Stamper.stamp`
raises :class:`TimestampUnavailable`, the caller records ``timestamp_failed`` and carries on,
and the next run stamps the then head with ``late`` set; ``gap`` tells how long the chain has
gone without a token.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import rfc3161ng
import structlog

from evidock.daemon.config import TimestampsConfig
from evidock.daemon.errors import TimestampUnavailable
from evidock.daemon.timeutil import parse, stamp, utcnow

log = structlog.get_logger()


def check_token(token: bytes, head_hash: str, certificate: bytes) -> datetime:
    """The token's time if it is a valid signature by ``certificate`` over ``head_hash``;
    ``ValueError`` (with why) otherwise."""
    try:
        rfc3161ng.check_timestamp(token, certificate=certificate,
                                  digest=bytes.fromhex(head_hash), hashname="sha256")
        return rfc3161ng.get_timestamp(token, naive=False).astimezone(UTC)
    except ValueError:
        raise
    except Exception as exc:  # the library raises cryptography's and pyasn1's own errors
        raise ValueError(f"{type(exc).__name__}: {exc}") from exc


def _describe(exc: Exception) -> str:
    """rfc3161ng wraps the request's error as (message, cause): say both, briefly."""
    if isinstance(exc, rfc3161ng.TimestampingError) and len(exc.args) == 2:
        cause = exc.args[1]
        inner = str(getattr(cause, "args", [""])[0] or "").split(": ")[-1]
        inner = inner[:160].rstrip(")\"'")
        return f"{exc.args[0]}: {type(cause).__name__}" + (f" ({inner})" if inner else "")
    return str(exc)


class Stamper:
    def __init__(self, ledger, config: TimestampsConfig) -> None:
        self.ledger = ledger
        self.config = config

    @property
    def configured(self) -> bool:
        return bool(self.config.tsa_url)

    def certificate(self) -> bytes | None:
        path = self.config.tsa_certificate
        return path.read_bytes() if path is not None else None

    def stamp(self, *, why: str) -> dict | None:
        """Time-stamp the current head (nothing if no TSA is configured, or the head is
        stamped already); the ``timestamps`` row.  A failure is recorded and raised."""
        if not self.configured:
            return None
        seq, head = self.ledger.head()
        rows = self.ledger.timestamps()
        if rows and rows[-1]["seq"] == seq:
            return rows[-1]
        late = self._failed_since(rows[-1]["seq"] if rows else 0)
        try:
            cert = self.certificate()
            stamper = rfc3161ng.RemoteTimestamper(
                self.config.tsa_url, certificate=cert, hashname="sha256",
                include_tsa_certificate=True, timeout=self.config.timeout_seconds)
            token = stamper(digest=bytes.fromhex(head))
            gen = check_token(token, head, cert) if cert else rfc3161ng.get_timestamp(
                token, naive=False).astimezone(UTC)
        except (rfc3161ng.TimestampingError, ValueError, OSError) as exc:
            error = _describe(exc)
            self.ledger.record("timestamp_failed", f"event:{seq}", {
                "seq": seq, "head_hash": head, "tsa": self.config.tsa_url, "why": why,
                "error": error[:500]})
            raise TimestampUnavailable(
                f"time-stamping authority {self.config.tsa_url}: no token for event {seq}: "
                f"{error}", hint="the head is stamped at the next run once it answers; check "
                "timestamps.tsa_url and the network") from exc
        self.ledger.add_timestamp(seq=seq, head_hash=head, tsa=self.config.tsa_url,
                                  token=base64.b64encode(token).decode(), gen_time=stamp(gen),
                                  late=late)
        return self.ledger.timestamps()[-1]

    def _failed_since(self, seq: int) -> bool:
        return any(True for _ in self.ledger.events(kinds=["timestamp_failed"], after=seq))

    def gap(self, now: datetime) -> dict:
        """How the chain stands: the newest stamp, the events since, whether it is overdue
        (older than ``every_hours`` and new events since) and failed tries since it."""
        rows = self.ledger.timestamps()
        last = rows[-1] if rows else None
        seq, _ = self.ledger.head()
        since = seq - (last["seq"] if last else 0)
        age_h = (now - parse(last["stamped_at"])).total_seconds() / 3600 if last else None
        failed = sum(1 for _ in self.ledger.events(kinds=["timestamp_failed"],
                                                   after=last["seq"] if last else 0))
        overdue = since > 0 and (age_h is None or age_h > self.config.every_hours)
        return {"configured": self.configured, "last": last, "events_since": since,
                "hours_since": age_h, "failed_since": failed, "overdue": overdue}


def stamp_job(stamper: Stamper, clock=utcnow):
    """The scheduler's job: stamp the head when a stamp is due (none yet, the newest older
    than ``every_hours``) or a try failed since the newest; an outage is logged, recorded,
    and tried again at the next run."""

    def run() -> None:
        try:
            gap = stamper.gap(clock())
            if gap["events_since"] and (gap["overdue"] or gap["failed_since"]):
                row = stamper.stamp(why="schedule")
                log.info("ledger_head_timestamped", seq=row["seq"], tsa=row["tsa"])
        except TimestampUnavailable as exc:
            log.warning("timestamp_failed", error=exc.message)
        except Exception as exc:  # the top of a job: record and go on
            log.error("timestamp_job_crashed", error=str(exc))
            stamper.ledger.record("job_crashed", "job:timestamp",
                                  {"job": "timestamp", "error": str(exc)[:500]})

    return run


def check_ledger_stamps(ledger, certificate: bytes | None) -> tuple[list[str], int]:
    """Every recorded stamp: the event it names has that hash, and the token is a valid
    signature over it (by the configured certificate, else the one inside the token).
    Returns (problems, stamps checked)."""
    problems, hashes = [], {}
    rows = ledger.timestamps()
    wanted = {r["seq"] for r in rows}
    for ev in ledger.events():
        if ev.seq in wanted:
            hashes[ev.seq] = ev.hash
    for r in rows:
        if hashes.get(r["seq"]) != r["head_hash"]:
            problems.append(f"time stamp of event {r['seq']}: the event's hash is not the "
                            "stamped one (the history was rewritten after it was stamped)")
            continue
        try:
            check_token(base64.b64decode(r["token"]), r["head_hash"], certificate or b"")
        except (ValueError, AttributeError) as exc:
            problems.append(f"time stamp of event {r['seq']}: the token does not verify: {exc}")
    return problems, len(rows)
