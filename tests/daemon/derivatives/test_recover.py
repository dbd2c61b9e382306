"""A battery-cut MP4 (moov at the end, cut mid-mdat) is handed over bit-exact and gets a
recovered, playable copy rebuilt from its media data with a healthy recording of the same
device as the reference; without a reference it fails once, saying what to do."""

from __future__ import annotations

import json
import shutil
import subprocess

import numpy as np
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
    assert detail["audio"].startswith("recovered: "), detail  # the reference has sound
    assert abs(detail["seconds_of_sound"] - detail["seconds_of_picture"]) < 0.5, detail
    path = world.store.local_path(recovered["object_key"])
    probe = json.loads(subprocess.run(
        ["ffprobe", "-v", "error", "-show_format", "-show_streams", "-of", "json", str(path)],
        capture_output=True, check=True).stdout)
    assert ["h264", "aac"] == [s["codec_name"] for s in probe["streams"]]
    assert abs(float(probe["format"]["duration"]) - detail["seconds_recovered"]) < 0.1
    decoded = subprocess.run(["ffmpeg", "-v", "error", "-i", str(path), "-f", "null", "-"],
                             capture_output=True, text=True)
    assert (0, "") == (decoded.returncode, decoded.stderr)  # every frame decodes cleanly
    assert cut == world.store.open(media.object_key).read()  # the original untouched
    assert_review_copy(world, rows, detail)
    assert world.ledger.verify().ok


def assert_review_copy(world: World, rows: dict, detail: dict) -> None:
    """The recovered copy got a review proxy of its own (H.264/AAC, as any video's), made
    after it, linked to the same original."""
    rows = {r["kind"]: r for r in world.ledger.derivatives(media_id=rows["recovered"]
                                                           ["media_id"])}
    review = rows["recovered_proxy"]
    assert "done" == review["state"], review["error"]
    assert review["source_blake3"] == rows["recovered"]["source_blake3"]
    probe = json.loads(subprocess.run(
        ["ffprobe", "-v", "error", "-show_format", "-show_streams", "-of", "json",
         str(world.store.local_path(review["object_key"]))], capture_output=True,
        check=True).stdout)
    assert ["h264", "aac"] == [s["codec_name"] for s in probe["streams"]]
    assert abs(float(probe["format"]["duration"]) - detail["seconds_recovered"]) < 0.2


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


def sound(path, seconds: float):
    """The first ``seconds`` of a file's sound: mono 48 kHz float samples."""
    raw = subprocess.run(["ffmpeg", "-v", "error", "-i", str(path), "-map", "0:a", "-t",
                          str(seconds), "-ac", "1", "-ar", "48000", "-f", "f32le", "-"],
                         capture_output=True, check=True).stdout
    return np.frombuffer(raw, np.float32)


def test_the_recovered_copy_keeps_the_sound_in_step_with_the_picture(tmp_path):
    """Noise, not a tone, so that sound a few milliseconds out of step no longer matches:
    the recovered sound is the cut recording's own, from its first sample."""
    def camera(path, seed: int, seconds: int):  # one device: the same settings every time
        clips.ffmpeg("-f", "lavfi", "-i", f"testsrc2=s=640x360:r=25:d={seconds}", "-f",
                     "lavfi", "-i", f"anoisesrc=color=pink:seed={seed}:r=48000:d={seconds}",
                     "-c:v", "libx264", "-preset", "ultrafast", "-g", "25", "-c:a", "aac",
                     "-b:a", "128k", str(path))
        return path

    world = World(tmp_path)
    world.handed_over(data=camera(tmp_path / "ref.mp4", 1, 3).read_bytes())
    full = camera(tmp_path / "noise.mp4", 3, 8)
    data = full.read_bytes()
    media = world.handed_over(data=data[:len(data) * 6 // 10])
    deriver(world).run()
    recovered = next(r for r in world.ledger.derivatives(media_id=media.id)
                     if r["kind"] == "recovered")
    assert "done" == recovered["state"], recovered["error"]
    detail = json.loads(recovered["detail"])
    assert detail["audio_chunks"] >= 3 and detail["seconds_of_sound"] > 3.5, detail
    got, want = sound(world.store.local_path(recovered["object_key"]), 3), sound(full, 3)
    assert len(got) == len(want)
    in_step = np.corrcoef(got, want)[0, 1]
    late = np.corrcoef(got[240:], want[:-240])[0, 1]  # 5 ms out of step
    assert in_step > 0.9 and late < 0.5 * in_step, (in_step, late)


def test_a_reference_without_sound_gives_a_copy_without_sound_and_says_so(tmp_path):
    world = World(tmp_path)
    world.handed_over(data=clips.scene(tmp_path / "ref.mp4", seed=6, seconds=3,
                                       audio=False).read_bytes())
    media = world.handed_over(data=battery_cut(tmp_path, seconds=4))
    deriver(world).run()
    recovered = next(r for r in world.ledger.derivatives(media_id=media.id)
                     if r["kind"] == "recovered")
    assert "done" == recovered["state"], recovered["error"]
    detail = json.loads(recovered["detail"])
    assert detail["audio"].startswith("none: ") and None is detail["seconds_of_sound"]


def test_a_battery_cut_h265_recording_is_recovered_with_its_sound(tmp_path):
    def camera(path, seed: int, seconds: int):
        # an H.265 camera: hvc1 as phones write it, no B-frames, as a camera's low-delay
        # encoder makes them (recover.py says what a copy with B-frames lacks)
        return clips.scene(path, seed=seed, seconds=seconds, codec="libx265",
                           extra=("-x265-params", "log-level=error:bframes=0", "-tag:v",
                                  "hvc1"))

    world = World(tmp_path)
    world.handed_over(data=camera(tmp_path / "ref.mp4", 6, 3).read_bytes())
    full = camera(tmp_path / "full.mp4", 5, 8).read_bytes()
    assert full.rindex(b"moov") > len(full) * 0.9
    media = world.handed_over(data=full[:len(full) * 6 // 10])
    deriver(world).run()
    recovered = next(r for r in world.ledger.derivatives(media_id=media.id)
                     if r["kind"] == "recovered")
    assert "done" == recovered["state"], recovered["error"]
    detail = json.loads(recovered["detail"])
    assert "hevc" == detail["video_codec"] and detail["key_frames"] >= 3, detail
    assert "as shown" == detail["frame_order"]
    assert 3.5 <= detail["seconds_of_picture"] <= 5.5, detail
    assert detail["audio"].startswith("recovered: "), detail
    path = world.store.local_path(recovered["object_key"])
    probe = json.loads(subprocess.run(
        ["ffprobe", "-v", "error", "-show_streams", "-of", "json", str(path)],
        capture_output=True, check=True).stdout)
    assert [("hevc", "hvc1"), ("aac", "mp4a")] == [
        (s["codec_name"], s["codec_tag_string"]) for s in probe["streams"]]
    decoded = subprocess.run(["ffmpeg", "-v", "error", "-i", str(path), "-f", "null", "-"],
                             capture_output=True, text=True)
    assert (0, "") == (decoded.returncode, decoded.stderr)
    assert_review_copy(world, {"recovered": recovered}, detail)  # H.264: plays in a browser
