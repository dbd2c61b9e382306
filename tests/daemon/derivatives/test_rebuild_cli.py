"""`evidock derivatives rebuild --since T` makes derivatives again (after a settings change)
without losing the objects made before; older recordings are left alone."""

from __future__ import annotations

import shutil

import pytest

from evidock.daemon.config import DerivativesConfig
from evidock.daemon.derivatives.queue import Deriver
from evidock.daemon.timeutil import stamp

from ...daemon_proc import evidock
from ..world import World
from . import clips

pytestmark = pytest.mark.ffmpeg


@pytest.fixture(autouse=True)
def needs_ffmpeg():
    if not (shutil.which("ffmpeg") and shutil.which("ffprobe")):
        pytest.skip("ffmpeg/ffprobe are not installed (tools/setup installs them)")


def test_rebuild_since_puts_newer_recordings_derivatives_back_and_keeps_the_old_objects(
        tmp_path):
    world = World(tmp_path)
    clip = clips.scene(tmp_path / "c.mp4", seed=1, seconds=4, audio=False).read_bytes()
    old = world.handed_over(data=clip)
    world.clock.advance(days=2)
    cutoff = world.clock()
    world.clock.advance(hours=1)
    new = world.handed_over(data=clip + b"")  # same bytes: same object, another sighting
    d = Deriver(world.ledger, world.store, DerivativesConfig(sprite_every_seconds=2),
                work_dir=tmp_path / "w", kinds={"video": ["sprite_vtt"]})
    d.run()
    before = {r["media_id"]: r for r in world.ledger.derivatives()}
    assert {"done"} == {r["state"] for r in before.values()}
    out = evidock("derivatives", "rebuild", "--since", stamp(cutoff), "--data-dir",
                  str(tmp_path)).stdout
    assert "1 derivative(s)" in out
    rows = {r["media_id"]: r for r in world.ledger.derivatives()}
    assert ("done", "pending") == (rows[old.id]["state"], rows[new.id]["state"])
    d.cfg = DerivativesConfig(sprite_every_seconds=1)  # the new setting
    d.run()
    after = world.ledger.derivative(rows[new.id]["id"])
    assert "done" == after["state"] and after["object_key"] != before[new.id]["object_key"]
    assert world.store.stat(before[new.id]["object_key"]).size > 0  # the old one is kept
    assert 4 == world.store.open(after["object_key"]).read().decode().count("-->")
    assert world.ledger.verify().ok
