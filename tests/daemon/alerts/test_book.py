"""The alert life cycle: raised once, escalated, acknowledged by name, resolved; all in the
ledger's chained events."""

from __future__ import annotations

import pytest

from evidock.daemon.alerts.book import Finding
from evidock.daemon.errors import EvidockError

from ..world import World


@pytest.fixture
def world(tmp_path):
    return World(tmp_path)


def finding(severity="warning", key="handover:device:D1"):
    return Finding(key, "R1", severity, "device:D1", "dock device D1")


def test_a_finding_raises_one_alert_and_repeating_it_does_not_duplicate(world):
    world.c.alerts.sync("handover", [finding()])
    world.c.alerts.sync("handover", [finding()])
    alerts = world.open_alerts()
    assert 1 == len(alerts)
    assert ("raised", "R1", "warning", "device:D1") == (
        alerts[0].state, alerts[0].rule, alerts[0].severity, alerts[0].subject)


def test_an_alert_resolves_when_its_check_no_longer_finds_it(world):
    world.c.alerts.sync("handover", [finding()])
    changes = world.c.alerts.sync("handover", [])
    assert ["resolved"] == [c for c, _ in changes]
    assert [] == world.open_alerts()
    assert "resolved" == world.c.alerts.list()[0].state


def test_a_resolved_condition_that_returns_raises_a_new_alert(world):
    world.c.alerts.sync("handover", [finding()])
    world.c.alerts.sync("handover", [])
    world.c.alerts.sync("handover", [finding()])
    assert [1, 2] == [a.id for a in world.c.alerts.list()]


def test_rising_severity_escalates_and_reopens_an_acknowledged_alert(world):
    world.c.alerts.sync("handover", [finding("warning")])
    world.c.alerts.acknowledge(1, by="Wang")
    world.c.alerts.sync("handover", [finding("critical")])
    alert = world.c.alerts.get(1)
    assert ("raised", "critical", None) == (alert.state, alert.severity, alert.acknowledged_by)


def test_acknowledging_names_who_and_keeps_the_alert_open(world):
    world.c.alerts.sync("handover", [finding()])
    alert = world.c.alerts.acknowledge(1, by="Archivist Li")
    assert ("acknowledged", "Archivist Li") == (alert.state, alert.acknowledged_by)
    assert 1 == len(world.open_alerts())
    assert {("R1", "warning"): 1} == world.c.alerts.open_counts()


def test_acknowledging_twice_is_refused(world):
    world.c.alerts.sync("handover", [finding()])
    world.c.alerts.acknowledge(1, by="Li")
    with pytest.raises(EvidockError, match="acknowledged, not raised"):
        world.c.alerts.acknowledge(1, by="Li")


def test_checks_do_not_resolve_each_others_alerts(world):
    world.c.alerts.sync("handover", [finding()])
    world.c.alerts.sync("archive", [])
    assert 1 == len(world.open_alerts())


def test_every_change_is_a_chained_event_and_the_ledger_verifies(world):
    world.c.alerts.sync("handover", [finding()])
    world.c.alerts.acknowledge(1, by="Li")
    world.c.alerts.sync("handover", [])
    kinds = [e.kind for e in world.ledger.events(subject="alert:1")]
    assert ["alert_raised", "alert_acknowledged", "alert_resolved"] == kinds
    assert world.ledger.verify().ok
