"""R7 (archive within 30 days of closing) and R10 (listed types must have footage)."""

from __future__ import annotations

from datetime import timedelta

from evidock.daemon.cases.importer import CaseRow

from ..world import T0, World


def row(status="closed", type_="other", officers=("110001",)):
    closed = T0 + timedelta(hours=1) if status == "closed" else None
    return CaseRow("C-1", type_, officers, "", T0 - timedelta(hours=2), T0, status, closed,
                   "normal")


def test_a_closed_case_with_unreviewed_footage_warns_then_goes_critical(tmp_path):
    world = World(tmp_path, {"cases": {"auto_link": "candidate"}})
    media = world.handed_over(recorded_at=T0 - timedelta(hours=1))
    world.c.cases.import_rows([row()], by="li", source="x")
    world.clock.set(T0 + timedelta(days=2))
    world.c.runner.run("archive")
    [alert] = world.open_alerts("archive")
    assert ("R7", "warning", "case:C-1") == (alert.rule, alert.severity, alert.subject)
    assert "1 unreviewed" in alert.message
    world.clock.set(T0 + timedelta(days=31, hours=2))
    world.c.runner.run("archive")
    assert "critical" == world.open_alerts("archive")[0].severity
    world.c.cases.link("C-1", [media.id], kind="evidence", note="reviewed", by="li")
    world.c.runner.run("archive")
    assert [] == world.open_alerts("archive")


def test_a_closed_case_whose_footage_is_still_on_a_device_is_outstanding(tmp_path):
    world = World(tmp_path, {"cases": {"auto_link": "evidence"}})
    media, item = world.found(recorded_at=T0 - timedelta(hours=1))
    world.c.cases.import_rows([row()], by="li", source="x")
    world.clock.set(T0 + timedelta(days=3))
    world.c.runner.run("archive")
    assert "1 not handed over" in world.open_alerts("archive")[0].message
    world.hand_over(media, item)
    world.c.runner.run("archive")
    assert [] == world.open_alerts("archive")


def test_footage_never_linked_counts_when_the_rule_is_off(tmp_path):
    world = World(tmp_path, {"cases": {"auto_link": "off"}})
    world.handed_over(recorded_at=T0 - timedelta(hours=1))
    world.c.cases.import_rows([row()], by="li", source="x")
    world.c.runner.run("archive")
    assert "1 not linked" in world.open_alerts("archive")[0].message


def test_a_full_process_case_without_footage_raises_r10_and_a_link_resolves_it(tmp_path):
    world = World(tmp_path, {"cases": {"auto_link": "off"}})
    world.c.cases.import_rows([row("open", "seizure", ("110099",))], by="li", source="x")
    world.clock.set(T0 + timedelta(hours=23))
    world.c.runner.run("archive")
    assert [] == world.open_alerts("archive")  # footage may still be on its way
    world.clock.set(T0 + timedelta(hours=25))
    world.c.runner.run("archive")
    [alert] = world.open_alerts("archive")
    assert ("R10", "warning", "case:C-1") == (alert.rule, alert.severity, alert.subject)
    assert "must be recorded in full" in alert.message
    media = world.handed_over(officer="110055")
    world.c.cases.link("C-1", [media.id], kind="evidence", note="by a colleague", by="li")
    world.c.runner.run("archive")
    assert [] == world.open_alerts("archive")


def test_a_type_not_on_the_list_needs_no_footage(tmp_path):
    world = World(tmp_path)
    world.c.cases.import_rows([row("open", "warning_letter", ("110099",))], by="li", source="x")
    world.clock.set(T0 + timedelta(days=5))
    world.c.runner.run("archive")
    assert [] == world.open_alerts("archive")
