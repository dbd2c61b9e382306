"""R4: the fixity audit re-hashes a rotating sample so every object is read each cycle."""

from __future__ import annotations

import os

from ..world import World


def test_each_run_checks_its_share_and_a_cycle_covers_every_object(tmp_path):
    world = World(tmp_path, {"checks": {"fixity_cycle_days": 3}})
    ids = {world.handed_over().id for _ in range(7)}
    check = world.c.runner.checks["fixity"]
    seen = []
    for _day in range(3):
        world.clock.advance(days=1)
        world.c.runner.run("fixity")
        assert 3 == len(check.checked)  # ceil(7 / 3)
        seen.extend(check.checked)
    assert ids == set(seen)
    assert [] == world.open_alerts("fixity")


def test_an_altered_object_raises_a_fixity_alert_until_it_is_restored(tmp_path):
    world = World(tmp_path, {"checks": {"fixity_cycle_days": 1}})
    media = world.handed_over()
    path = world.store.root / media.object_key
    good = path.read_bytes()
    os.chmod(path, 0o644)
    path.write_bytes(b"X" + good[1:])  # same size, one byte changed
    world.c.runner.run("fixity")
    [alert] = world.open_alerts("fixity")
    assert ("R4", "critical", f"media:{media.id}") == (alert.rule, alert.severity, alert.subject)
    path.write_bytes(good)
    world.c.runner.run("fixity")
    assert [] == world.open_alerts("fixity")


def test_objects_not_rehashed_within_the_cycle_are_reported(tmp_path):
    world = World(tmp_path, {"checks": {"fixity_cycle_days": 2}})
    world.handed_over()
    world.clock.advance(days=4)  # the daily job did not run for four days
    findings = world.c.runner.checks["fixity"]._findings(world.clock())
    assert ["fixity:behind"] == [f.key for f in findings]
    world.c.runner.run("fixity")
    assert [] == world.open_alerts("fixity")
