"""Run one check by name and bring its alerts up to date: what the scheduler and
``evidock check NAME`` both call.

A check that fails (the store unreachable, a bug) is caught here, at the top of the job: the
failure is recorded in the ledger (``check_failed``) and raised as an alert of its own, which
resolves when the check next runs through.
"""

from __future__ import annotations

import traceback
from dataclasses import dataclass, field

import structlog

from evidock.daemon.alerts.book import Alert, AlertBook, Finding
from evidock.daemon.cases.book import CaseBook
from evidock.daemon.ledger.base import Ledger
from evidock.daemon.timeutil import Clock, utcnow

log = structlog.get_logger("evidock.checks")

#: The rule each check guards, for the alert raised when the check itself fails.
RULE_OF = {"handover": "R1", "retention": "R3", "fixity": "R4", "archive": "R7",
           "devices": "R12", "anchor": "R4", "inventory": "R4",
           "workers": "R1"}
NAMES = tuple(RULE_OF)


@dataclass
class CheckResult:
    name: str
    ok: bool
    findings: list[Finding] = field(default_factory=list)
    changes: list[tuple[str, Alert]] = field(default_factory=list)
    error: str | None = None


class CheckRunner:
    def __init__(self, ledger: Ledger, alerts: AlertBook, checks: dict, *,
                 cases: CaseBook | None = None, clock: Clock = utcnow) -> None:
        self.ledger = ledger
        self.alerts = alerts
        self.checks = checks
        self.cases = cases
        self.clock = clock

    def run(self, name: str) -> CheckResult:
        check = self.checks[name]
        now = self.clock()
        self.alerts.redeliver()  # a webhook that was down gets what it missed first
        try:
            if self.cases is not None and name in ("handover", "archive"):
                self.cases.auto_link()  # new footage joins its cases before it is judged
            findings = check.run(now)
        except Exception as exc:  # noqa: BLE001 - top of a job: record, alert, keep going
            error = f"{type(exc).__name__}: {exc}"
            log.error("check_failed", check=name, error=error)
            self.ledger.record("check_failed", f"check:{name}", {
                "check": name, "error": error,
                "trace": traceback.format_exc(limit=5)[-2000:]})
            changes = self.alerts.sync(f"job:{name}", [Finding(
                f"job:{name}", RULE_OF[name], "critical", f"check:{name}",
                f"the {name} check failed: {error}. Until it runs through, its rule is not "
                f"checked; fix the cause and run 'evidock check {name}'.")])
            return CheckResult(name, False, changes=changes, error=error)
        changes = self.alerts.sync(name, findings) + self.alerts.sync(f"job:{name}", [])
        log.info("check_completed", check=name, findings=len(findings),
                 changes=[f"{c}:{a.id}" for c, a in changes])
        return CheckResult(name, True, findings, changes)
