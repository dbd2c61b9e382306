"""The store-to-ledger audit: an object no ledger row accounts for is named with what its own
metadata says; objects of other stations are theirs to audit; anchors must chain."""

from __future__ import annotations

import os

from tests.daemon.world import World


def test_every_object_accounted_for_raises_nothing(tmp_path):
    world = World(tmp_path)
    world.handed_over()
    world.handed_over(serial="DSJ-002")
    assert [] == world.c.runner.checks["inventory"].run(world.clock())
    inv = world.c.runner.checks["inventory"].last
    assert (2, 2, []) == (inv.objects, inv.accounted, inv.unaccounted)


def test_an_object_the_ledger_lost_is_named_with_its_metadata(tmp_path):
    world = World(tmp_path)
    world.handed_over()
    lost = World(tmp_path / "lost")  # another ledger writing into the same store
    lost.ingestor.store = world.store
    media = lost.handed_over(serial="DSJ-LOST", officer="110009", data=os.urandom(999))
    result = world.c.runner.run("inventory")
    assert result.ok
    [alert] = world.open_alerts("inventory")
    assert ("R4", "critical", f"object:{media.object_key}") == \
        (alert.rule, alert.severity, alert.subject)
    assert f"device DSJ-LOST, file {media.source_path}" in alert.message
    assert "officer 110009" in alert.message and f"recorded {media.recorded_at}" in alert.message


def test_another_stations_objects_are_left_to_it(tmp_path):
    world = World(tmp_path)
    other = World(tmp_path / "other")
    other.ledger.station = "st-other"
    other.ingestor.store = world.store
    other.handed_over(data=os.urandom(999))
    assert [] == world.c.runner.checks["inventory"].run(world.clock())
    assert 1 == world.c.runner.checks["inventory"].last.other_stations


def test_an_anchor_that_does_not_chain_is_named(tmp_path):
    world = World(tmp_path)
    world.handed_over()
    world.c.anchorer.write()
    forged = b'{"format":"evidock.anchor/1"}\n'
    world.store.put_record("ledger/st-test/000000000999-" + "a" * 64 + ".jsonl", forged,
                           retain_until=world.clock())
    findings = world.c.runner.checks["inventory"].run(world.clock())
    assert ["inventory:anchors"] == [f.key for f in findings]
