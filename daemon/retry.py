"""The one retry policy: how long to wait after the n-th failure, and when to give up.

Three places wait and try again: ingest (the next attempt of a recording, a time written to the
ledger so that it survives a restart), the spool drainer (S3 down: each failed pass waits
longer), and the webhook (a POST refused or timed out).  All three use :class:`RetryPolicy`,
whose schedule is tenacity's ``wait_exponential``: ``base * 2 ** (n - 1)`` seconds after the
n-th failure, never more than ``max_seconds``.  The webhook runs tenacity's own retry loop
(:meth:`RetryPolicy.retrying`); ingest and the drainer only ask for the delay
(:meth:`RetryPolicy.delay`), because their next try is not a loop around one call: ingest
schedules it in the ledger, and the drainer must stay interruptible by a stop.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import tenacity

from evidock.daemon.errors import Action


@dataclass(frozen=True)
class _Failures:
    """What tenacity's wait strategies read of a retry state: how many tries were made."""

    attempt_number: int


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 5
    base_seconds: float = 2.0
    max_seconds: float = 300.0

    def wait(self) -> tenacity.wait.wait_base:
        return tenacity.wait_exponential(multiplier=self.base_seconds, max=self.max_seconds)

    def delay(self, failures: int) -> float:
        """Seconds to wait after ``failures`` failures in a row (the first failure waits
        ``base_seconds``)."""
        return self.wait()(_Failures(max(failures, 1)))

    def next_try(self, attempts: int, action: Action, now: datetime, *,
                 attempts_for_delay: int | None = None, limited: bool = True
                 ) -> datetime | None:
        """When ingest tries a recording again after its ``attempts``-th failed attempt; None
        when it gives up (the error says not to retry, or the attempts are spent).
        ``limited=False``: the failure was not the file's fault, so never give up, only
        back off."""
        if limited and (action is not Action.RETRY or attempts >= self.max_attempts):
            return None
        n = attempts if attempts_for_delay is None else attempts_for_delay
        return now + timedelta(seconds=self.delay(n))

    def retrying(self, *, retry_on: type[BaseException] | tuple[type[BaseException], ...],
                 sleep: Callable[[float], None] = time.sleep) -> tenacity.Retrying:
        """A tenacity loop: up to ``max_attempts`` calls, waiting by this policy between them,
        retrying only ``retry_on``; the last error is raised as it is."""
        return tenacity.Retrying(stop=tenacity.stop_after_attempt(self.max_attempts),
                                 wait=self.wait(), retry=tenacity.retry_if_exception_type(retry_on),
                                 sleep=sleep, reraise=True)
