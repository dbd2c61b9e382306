"""R1: recordings at risk and overdue raise alerts that resolve on handover; late handovers
are recorded naming officer and device; devices away from their dock are warned about."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from evidock.daemon.errors import EvidockError

from ..world import T0, World


@pytest.fixture
def world(tmp_path):
    return World(tmp_path, {"checks": {"handover_lead_hours": 4}})


def handover_alerts(world):
    return [(a.subject, a.rule, a.severity) for a in world.open_alerts("handover")]


def test_no_alert_while_the_deadline_is_further_than_the_lead_time(world):
    world.found(recorded_at=T0)
    world.clock.set(T0 + timedelta(hours=19))
    world.c.runner.run("handover")
    assert [] == handover_alerts(world)


def test_a_recording_near_its_deadline_raises_a_warning_for_its_device(world):
    world.found(recorded_at=T0)
    world.found(recorded_at=T0 + timedelta(minutes=5))
    world.clock.set(T0 + timedelta(hours=21))
    world.c.runner.run("handover")
    assert [("device:DSJ-001", "R1", "warning")] == handover_alerts(world)
    assert "2 recording(s) on device DSJ-001 (officer 110001) must be handed over by" in \
        world.open_alerts()[0].message


def test_past_the_deadline_the_alert_escalates_to_critical(world):
    world.found(recorded_at=T0)
    world.clock.set(T0 + timedelta(hours=21))
    world.c.runner.run("handover")
    world.clock.set(T0 + timedelta(hours=25))
    world.c.runner.run("handover")
    [alert] = world.open_alerts("handover")
    assert ("critical", 1) == (alert.severity, alert.id)
    assert "past their handover deadline" in alert.message


def test_handing_over_resolves_the_alert_and_records_the_late_handover(world):
    media, item = world.found(recorded_at=T0)
    world.clock.set(T0 + timedelta(hours=25))
    world.c.runner.run("handover")
    world.hand_over(media, item)
    result = world.c.runner.run("handover")
    # the device's overdue alert resolves; the late handover itself is an alert of its own
    assert [(f"media:{media.id}", "R1", "warning")] == handover_alerts(world)
    assert ["raised", "resolved"] == [c for c, _ in result.changes]
    [late] = world.c.runner.checks["handover"].late
    assert (media.id, "DSJ-001", "110001", 3600.0) == (
        late.media_id, late.device_serial, late.officer_id, late.late_seconds)
    [event] = [json.loads(e.data) for e in world.ledger.events() if e.kind == "handover_late"]
    assert ("DSJ-001", "110001") == (event["device_serial"], event["officer_id"])


def test_a_late_handover_is_recorded_once(world):
    media, item = world.found(recorded_at=T0)
    world.clock.set(T0 + timedelta(hours=30))
    world.hand_over(media, item)
    world.c.runner.run("handover")
    world.c.runner.run("handover")
    assert 1 == len([e for e in world.ledger.events() if e.kind == "handover_late"])


def test_an_in_time_handover_is_not_late(world):
    world.clock.set(T0 + timedelta(hours=2))
    world.handed_over(recorded_at=T0)
    world.c.runner.run("handover")
    assert [] == world.c.runner.checks["handover"].late


def undock(world, serial, at, docked_at=None):
    """Undock (and dock again) at these times, through the ledger as the dock driver does."""
    now = world.clock.now
    world.clock.set(at)
    world.ledger.record_undock(serial, "usb-1")
    if docked_at:
        world.clock.set(docked_at)
        world.ledger.record_dock(serial, "usb-1")
    world.clock.set(now)


def test_a_device_away_near_the_window_raises_a_warning_and_docking_resolves_it(world):
    world.device("DSJ-7", "110007")
    undock(world, "DSJ-7", T0)
    world.clock.set(T0 + timedelta(hours=21))
    world.c.runner.run("handover")
    [alert] = world.open_alerts("handover")
    assert ("device:DSJ-7", "warning") == (alert.subject, alert.severity)
    assert "out of its dock since" in alert.message and "Dock it" in alert.message
    world.clock.set(T0 + timedelta(hours=25))
    world.c.runner.run("handover")
    assert "critical" == world.open_alerts("handover")[0].severity
    undock(world, "DSJ-7", T0, docked_at=T0 + timedelta(hours=25, minutes=1))
    world.c.runner.run("handover")
    assert [] == world.open_alerts("handover")


def test_a_device_on_exempted_duty_is_not_alerted_while_away(world):
    world.device("DSJ-7", "110007")
    undock(world, "DSJ-7", T0)
    world.c.exemptions.add(officer_id="110007", device_serial=None, start=T0,
                           end=T0 + timedelta(days=3), reason="remote_area", note="", by="z")
    world.clock.set(T0 + timedelta(hours=30))
    world.c.runner.run("handover")
    assert [] == world.open_alerts("handover")


def test_a_late_handover_alert_names_who_what_and_how_late_until_a_supervisor_closes_it(world):
    """R1: the alert names officer, device, recording, deadline and lateness; its severity
    follows the lateness; only an acknowledgement with a reason closes it, for good."""
    media, item = world.found(recorded_at=T0)
    world.clock.set(T0 + timedelta(hours=24, minutes=30))
    world.hand_over(media, item)
    world.c.runner.run("handover")
    [alert] = world.open_alerts("handover")
    assert (f"late:media:{media.id}", "info") == (alert.key, alert.severity)
    for part in ("officer 110001", "device DSJ-001", f"recording {media.id} (REC0001.MP4)",
                 "deadline 2026-03-03T08:00:00.000000Z", "0.5 h late"):
        assert part in alert.message
    with pytest.raises(EvidockError, match="needs a reason"):
        world.c.alerts.acknowledge(alert.id, "supervisor Li")
    closed = world.c.alerts.acknowledge(alert.id, "supervisor Li", "camera battery died")
    assert ("resolved", "camera battery died") == (closed.state, closed.acknowledged_reason)
    world.c.runner.run("handover")
    assert [] == world.open_alerts("handover")
    [row] = list(world.ledger.projected_rows("late_handovers"))
    assert ("supervisor Li", "camera battery died") == (row["acknowledged_by"],
                                                        row["acknowledged_reason"])
    world.ledger.verify()


@pytest.mark.parametrize(("hours_late", "severity"),
                         [(0.5, "info"), (5, "warning"), (30, "critical")])
def test_the_late_alert_severity_follows_how_late(world, hours_late, severity):
    media, item = world.found(recorded_at=T0)
    world.clock.set(T0 + timedelta(hours=24 + hours_late))
    world.hand_over(media, item)
    world.c.runner.run("handover")
    assert [severity] == [a.severity for a in world.open_alerts("handover")
                          if a.key.startswith("late:")]
