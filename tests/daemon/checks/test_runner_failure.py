"""A check that fails is recorded in the ledger and alerted, and resolves once it runs."""

from __future__ import annotations

import json

from evidock.daemon.errors import StoreUnavailable

from ..world import World


def test_a_failing_check_is_recorded_and_raised_then_resolved(tmp_path, monkeypatch):
    world = World(tmp_path)
    world.handed_over()

    def down():
        raise StoreUnavailable("store unreachable")

    monkeypatch.setattr(world.store, "check", down)
    result = world.c.runner.run("retention")
    assert not result.ok
    [alert] = world.open_alerts("job:retention")
    assert ("R3", "critical") == (alert.rule, alert.severity)
    assert "store unreachable" in alert.message
    [event] = [json.loads(e.data) for e in world.ledger.events() if e.kind == "check_failed"]
    assert "retention" == event["check"]
    monkeypatch.undo()
    assert world.c.runner.run("retention").ok
    assert [] == world.open_alerts("job:retention")
