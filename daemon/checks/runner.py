"""Run one check by name and bring its alerts up to date: what the scheduler and
``evidock check NAME`` both call.

A check that fails (the store unreachable, a bug) is caught here, at the top of the job: the
failure is recorded in the ledger (``check_failed``) and raised as an alert of its own, which
resolves when the check next runs through.
"""

from __future__ import annotations

import fcntl
import json
import os
import traceback
from dataclasses import dataclass, field
from pathlib import Path

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
                 cases: CaseBook | None = None, clock: Clock = utcnow,
                 state_path: Path | None = None) -> None:
        self.state_path = state_path  # when each check last ran (for /metrics), or None
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
            self._note(name, now, error)
            return CheckResult(name, False, changes=changes, error=error)
        changes = self.alerts.sync(name, findings) + self.alerts.sync(f"job:{name}", [])
        log.info("check_completed", check=name, findings=len(findings),
                 changes=[f"{c}:{a.id}" for c, a in changes])
        self._note(name, now, None)
        return CheckResult(name, True, findings, changes)

    def _note(self, name: str, at, error: str | None) -> None:
        """Record the run in the state file the daemon and ``evidock check`` (cron) share;
        a file that cannot be written costs the metric, never the check."""
        if self.state_path is None:
            return
        try:
            update_state(self.state_path, name, at.timestamp(), error)
        except OSError as exc:
            log.warning("check_state_unwritten", check=name, file=str(self.state_path),
                        error=str(exc))


def read_state(path: Path) -> dict:
    """``{check: {"last_run": unix time, "last_success": unix time, "last_error": str}}``."""
    try:
        return json.loads(path.read_text())
    except (FileNotFoundError, ValueError):
        return {}


def update_state(path: Path, name: str, at: float, error: str | None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_suffix(".lock"), "a") as lock:  # the daemon and cron may write at once
        fcntl.flock(lock, fcntl.LOCK_EX)
        state = read_state(path)
        entry = state.setdefault(name, {})
        entry["last_run"] = at
        entry["last_error"] = error
        if error is None:
            entry["last_success"] = at
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(state, sort_keys=True))
        os.replace(tmp, path)
