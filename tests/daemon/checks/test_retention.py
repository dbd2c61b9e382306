"""R3: the ledger <-> store audit raises what the store does not hold as required, repairs
what only strengthens a lock, and warns before evidence of an open case runs out."""

from __future__ import annotations

import json
import os
from datetime import timedelta

import pytest

from evidock.daemon.cases.importer import CaseRow
from evidock.daemon.timeutil import stamp

from ..world import T0, World


def weaken(world, media, **fields):
    """Edit the local store's metadata file behind evidock's back, as a faulty server would."""
    meta = world.store.root / (media.object_key + ".json")
    doc = json.loads(meta.read_text())
    doc.update(fields)
    os.chmod(meta, 0o644)
    meta.write_text(json.dumps(doc))


@pytest.fixture
def world(tmp_path):
    return World(tmp_path, {"cases": {"auto_link": "off"}})


def test_a_store_that_agrees_with_the_ledger_raises_nothing(world):
    world.handed_over()
    result = world.c.runner.run("retention")
    assert result.ok and [] == world.open_alerts("retention")
    assert 1 == world.c.runner.checks["retention"].checked


def test_retention_shortened_in_the_store_is_raised_and_resolved_by_the_repair(world):
    media = world.handed_over()
    weaken(world, media, retain_until=(T0 + timedelta(days=30)).isoformat())
    world.c.runner.checks["retention"].repair = False
    world.c.runner.run("retention")
    [alert] = world.open_alerts("retention")
    assert ("R3", "critical", f"media:{media.id}") == (alert.rule, alert.severity, alert.subject)
    assert "the ledger requires" in alert.message
    world.c.runner.checks["retention"].repair = True
    world.c.runner.run("retention")
    # the shortfall is gone; that the store had lost retention is recorded and alerted
    [repaired] = world.open_alerts("retention")
    assert repaired.key.startswith("retention:incident:repair:")
    assert "retention until" in repaired.message and "extended it to" in repaired.message
    assert ["store_repaired"] == [e.kind for e in world.ledger.events(kinds=["store_repaired"])]
    assert world.store.stat(media.object_key).retain_until >= T0 + timedelta(days=729)
    world.c.alerts.acknowledge(repaired.id, "custodian", "store restored from an old backup")
    world.c.runner.run("retention")
    assert [] == world.open_alerts("retention")


def test_a_dropped_legal_hold_is_raised_and_placed_again(world):
    media = world.handed_over()
    world.c.cases.import_rows([CaseRow("C-1", "seizure", ("110001",), "", T0 - timedelta(hours=2),
                                       T0, "open", None, "normal")], by="li", source="x")
    world.c.cases.link("C-1", [media.id], kind="evidence", note="", by="li")
    weaken(world, media, legal_hold=False)
    world.c.runner.checks["retention"].repair = False
    world.c.runner.run("retention")
    assert ["R3"] == [a.rule for a in world.open_alerts("retention")]
    assert "no legal hold" in world.open_alerts("retention")[0].message
    world.c.runner.checks["retention"].repair = True
    world.c.runner.run("retention")
    assert world.store.stat(media.object_key).legal_hold
    # put back, and that it had gone is an alert of its own until someone closes it
    [repaired] = world.open_alerts("retention")
    assert repaired.key.startswith("retention:incident:repair:")
    assert "put the legal hold back" in repaired.message


def test_evidence_whose_retention_ends_while_its_case_is_open_is_warned_about(tmp_path):
    world = World(tmp_path, {"cases": {"auto_link": "off"}, "checks": {"retention_lead_days": 90}})
    media = world.handed_over(recorded_at=T0)
    world.c.cases.import_rows([CaseRow("C-1", "hearing", ("110001",), "", T0, T0, "open", None,
                                       "normal")], by="li", source="x")
    world.c.cases.link("C-1", [media.id], kind="evidence", note="", by="li")
    world.clock.set(T0 + timedelta(days=700))
    world.c.runner.run("retention")
    [alert] = world.open_alerts("retention")
    assert ("R3", "warning") == (alert.rule, alert.severity)
    assert "open case C-1" in alert.message
    world.c.cases.import_rows([CaseRow("C-1", "hearing", ("110001",), "", T0, T0, "closed",
                                       T0 + timedelta(days=699), "normal")], by="li", source="x")
    world.c.runner.run("retention")
    assert [] == world.open_alerts("retention")


def test_required_retention_uses_the_later_of_recording_and_discovery(world):
    media, item = world.found(recorded_at=T0 - timedelta(days=400))  # device clock far behind
    media = world.hand_over(media, item)
    assert stamp(T0 + timedelta(days=730)) == media.retain_until


def test_a_store_set_up_problem_is_one_alert_even_as_its_numbers_change(world, monkeypatch):
    free = iter([900, 850])
    monkeypatch.setattr(world.store, "check",
                        lambda: [f"local store has {next(free)} MiB free: add space"])
    world.c.runner.run("retention")
    world.c.runner.run("retention")
    assert 1 == len(world.c.alerts.list(check="retention"))
    monkeypatch.setattr(world.store, "check", lambda: [])
    world.c.runner.run("retention")
    assert [] == world.open_alerts("retention")
