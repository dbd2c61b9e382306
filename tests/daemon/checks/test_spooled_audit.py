"""Recordings waiting in the spool (S3 away) are audited like the rest: the retention audit
reaches them and the fixity audit re-hashes them, instead of reporting them as elsewhere."""

from __future__ import annotations

from evidock.daemon.ingest import Ingestor, RetryPolicy
from evidock.daemon.store.local import LocalWormStore
from evidock.daemon.store.spool import Spool, SpoolingStore, SpoolLimits
from evidock.daemon.wiring import build_compliance

from ..world import World


def spooled_world(tmp_path):
    world = World(tmp_path)
    primary = LocalWormStore(tmp_path / "primary")  # stands in for S3: only its name matters
    front = SpoolingStore(primary, Spool(tmp_path / "spool"), SpoolLimits(max_bytes=1 << 30))
    front.mark_down("test: S3 away")
    world.store = front
    world.c = build_compliance(world.config, world.ledger, front, sinks=[])
    world.ingestor = Ingestor(world.ledger, front, retention_days=730, retry=RetryPolicy(),
                              clock=world.clock)
    return world


def test_spooled_recordings_are_in_the_retention_audit(tmp_path):
    world = spooled_world(tmp_path)
    media = world.handed_over()
    assert media.store.startswith("spool:")
    result = world.c.runner.run("retention")
    assert [] == [f.key for f in result.findings if f.key.startswith("retention:elsewhere")]
    assert 1 == world.c.runner.checks["retention"].checked


def test_spooled_recordings_are_re_hashed_by_the_fixity_audit(tmp_path):
    world = spooled_world(tmp_path)
    media = world.handed_over()
    world.c.runner.run("fixity")
    assert [media.id] == world.c.runner.checks["fixity"].checked
