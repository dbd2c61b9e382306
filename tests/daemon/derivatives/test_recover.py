"""A battery-cut MP4 (moov at the end, cut mid-mdat) is handed over bit-exact and gets a
recovered, playable copy rebuilt from its media data with a healthy recording of the same
device as the reference; without a reference it fails once, saying what to do."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from evidock.daemon.config import DerivativesConfig
from evidock.daemon.derivatives.queue import Deriver

from ..world import World
from . import clips

pytestmark = pytest.mark.ffmpeg


@pytest.fixture(autouse=True)
def needs_ffmpeg():
    if not (shutil.which("ffmpeg") and shutil.which("ffprobe")):
        pytest.skip("ffmpeg/ffprobe are not installed (tools/setup installs them)")


def deriver(world: World) -> Deriver:
    return Deriver(world.ledger, world.store, DerivativesConfig(),
                   work_dir=world.root / "derive", kinds={"video": ["proxy"]})


def battery_cut(tmp_path, seconds: float = 8, keep: float = 0.6) -> bytes:
    full = clips.scene(tmp_path / "full.mp4", seed=5, seconds=seconds).read_bytes()
    assert full.rindex(b"moov") > len(full) * 0.9  # as a camera writes it: index last
    return full[:int(len(full) * keep)]


def test_a_battery_cut_mp4_gets_a_recovered_copy_that_plays(tmp_path):
    world = World(tmp_path)
    reference = clips.scene(tmp_path / "ref.mp4", seed=6, seconds=3).read_bytes()
    world.handed_over(data=reference)
    cut = battery_cut(tmp_path)
    media = world.handed_over(data=cut)
    deriver(world).run()
    rows = {r["kind"]: r for r in world.ledger.derivatives(media_id=media.id)}
    assert "battery died" in rows["proxy"]["error"]
    recovered = rows["recovered"]
    assert "done" == recovered["state"], recovered["error"]
    detail = json.loads(recovered["detail"])
    # 60% of an 8-second clip's bytes, nearly all video: about 4.8 s of pictures
    assert 4.0 <= detail["seconds_recovered"] <= 5.5, detail
    assert "not recovered" in detail["audio"]
    path = world.store.local_path(recovered["object_key"])
    probe = json.loads(subprocess.run(
        ["ffprobe", "-v", "error", "-show_format", "-show_streams", "-of", "json", str(path)],
        capture_output=True, check=True).stdout)
    assert ["h264"] == [s["codec_name"] for s in probe["streams"]]
    assert abs(float(probe["format"]["duration"]) - detail["seconds_recovered"]) < 0.1
    decoded = subprocess.run(["ffmpeg", "-v", "error", "-i", str(path), "-f", "null", "-"],
                             capture_output=True, text=True)
    assert (0, "") == (decoded.returncode, decoded.stderr)  # every frame decodes cleanly
    assert cut == world.store.open(media.object_key).read()  # the original untouched
    assert world.ledger.verify().ok


def test_without_a_healthy_recording_of_the_device_recovery_fails_once_saying_what_to_do(
        tmp_path):
    world = World(tmp_path)
    media = world.handed_over(data=battery_cut(tmp_path, seconds=3), serial="DSJ-NEW")
    d = deriver(world)
    d.run()
    row = next(r for r in world.ledger.derivatives(media_id=media.id)
               if r["kind"] == "recovered")
    assert "failed" == row["state"]
    assert "no healthy recording from device DSJ-NEW" in row["error"]
    assert f"evidock derivatives retry {row['id']}" in row["error"]
    assert 0 == d.run()  # not tried again by itself
