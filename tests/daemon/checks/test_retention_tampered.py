"""Failure paths of the audit: objects missing or altered in the store."""

from __future__ import annotations

import os

from evidock.daemon.timeutil import parse

from ..world import World


def test_an_object_missing_from_the_store_is_critical_and_resolves_when_restored(tmp_path):
    world = World(tmp_path)
    media = world.handed_over()
    path = world.store.root / media.object_key
    kept = path.read_bytes()
    path.unlink()
    world.c.runner.run("retention")
    [alert] = world.open_alerts("retention")
    assert ("R4", "critical") == (alert.rule, alert.severity)
    assert "not in store" in alert.message
    path.write_bytes(kept)
    world.c.runner.run("retention")
    assert [] == world.open_alerts("retention")


def test_an_object_of_another_size_is_a_mismatch(tmp_path):
    world = World(tmp_path)
    media = world.handed_over()
    path = world.store.root / media.object_key
    os.chmod(path, 0o644)
    with open(path, "ab") as fh:
        fh.write(b"appended")
    world.c.runner.run("retention")
    assert ["R4"] == [a.rule for a in world.open_alerts("retention")]
    assert "the store reports" in world.open_alerts("retention")[0].message


def test_recordings_in_a_store_this_station_does_not_audit_are_reported(tmp_path):
    world = World(tmp_path)
    media = world.handed_over()
    world.ledger.record_relocated(media.store, media.object_key, store="s3:other-bucket",
                                  retain_until=parse(media.retain_until), version_id=None,
                                  sha256=media.sha256)
    world.c.runner.run("retention")
    [alert] = world.open_alerts("retention")
    assert ("R4", "store:s3:other-bucket") == (alert.rule, alert.subject)
    assert "1 recording(s)" in alert.message
