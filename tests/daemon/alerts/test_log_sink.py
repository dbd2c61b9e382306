"""Alert changes are log events with rule, severity, subject and the message."""

from __future__ import annotations

from structlog.testing import capture_logs

from evidock.daemon.alerts.book import Finding
from evidock.daemon.alerts.sinks import LogSink

from ..world import World


def test_raised_and_resolved_alerts_are_logged_as_events(tmp_path):
    world = World(tmp_path, sinks=[LogSink()])
    with capture_logs() as logs:
        world.c.alerts.sync("archive", [Finding("k", "R7", "critical", "case:C-1", "archive C-1")])
        world.c.alerts.sync("archive", [])
    events = [(e["event"], e["log_level"], e["rule"], e["subject"]) for e in logs
              if e["event"].startswith("alert_")]
    assert [("alert_raised", "warning", "R7", "case:C-1"),
            ("alert_resolved", "info", "R7", "case:C-1")] == events
