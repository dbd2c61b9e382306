"""Sprite sheets with their WebVTT index, waveforms, and perceptual fingerprints made by
the derivative queue with real ffmpeg, and ``ledger similar`` finding a clip's copies (half
size at another bitrate, H.265, trimmed, burned-in timestamp) but not other clips of the
same camera."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from evidock.daemon.config import DerivativesConfig
from evidock.daemon.derivatives import fingerprint
from evidock.daemon.derivatives.queue import Deriver

from ...daemon_proc import evidock
from ..world import World
from . import clips

pytestmark = pytest.mark.ffmpeg


@pytest.fixture(autouse=True)
def needs_ffmpeg():
    if not (shutil.which("ffmpeg") and shutil.which("ffprobe")):
        pytest.skip("ffmpeg/ffprobe are not installed (tools/setup installs them)")


def deriver(world: World, kinds: list[str], **cfg) -> Deriver:
    return Deriver(world.ledger, world.store, DerivativesConfig(**cfg),
                   work_dir=world.root / "derive", kinds={"video": kinds, "audio": kinds})


def size_of(path: Path) -> tuple[int, int]:
    out = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "stream=width,height",
                          "-of", "csv=p=0", str(path)], capture_output=True, text=True,
                         check=True).stdout.strip()
    w, h = out.split(",")
    return int(w), int(h)


def test_a_clip_gets_a_sprite_sheet_and_a_webvtt_index_one_tile_every_n_seconds(tmp_path):
    world = World(tmp_path)
    clip = clips.scene(tmp_path / "c.mp4", seed=1, seconds=7, size="1280x720", audio=False)
    media = world.handed_over(data=clip.read_bytes())
    assert 2 == deriver(world, ["sprite", "sprite_vtt"], sprite_every_seconds=2,
                        sprite_tile_width=120).run()
    rows = {r["kind"]: r for r in world.ledger.derivatives(media_id=media.id)}
    assert {"done"} == {r["state"] for r in rows.values()}, [r["error"] for r in rows.values()]
    sprite = world.store.local_path(rows["sprite"]["object_key"])
    assert (4 * 120, 68) == size_of(sprite)  # 7 s every 2 s: 4 tiles of 120x68, one row
    vtt = world.store.open(rows["sprite_vtt"]["object_key"]).read().decode()
    cues = re.findall(r"^(\S+) --> (\S+)\n(\S+)$", vtt, re.M)
    assert [("00:00:00.000", "00:00:02.000", "sprite.jpg#xywh=0,0,120,68"),
            ("00:00:02.000", "00:00:04.000", "sprite.jpg#xywh=120,0,120,68"),
            ("00:00:04.000", "00:00:06.000", "sprite.jpg#xywh=240,0,120,68"),
            ("00:00:06.000", "00:00:07.000", "sprite.jpg#xywh=360,0,120,68")] == cues
    assert vtt.startswith("WEBVTT")
    assert world.ledger.verify().ok


def test_audio_gets_a_waveform_image(tmp_path):
    world = World(tmp_path)
    clips.ffmpeg("-f", "lavfi", "-i", "sine=frequency=500:duration=3", str(tmp_path / "a.wav"))
    media = world.handed_over(data=(tmp_path / "a.wav").read_bytes())
    deriver(world, ["waveform"], waveform_width=600, waveform_height=100).run()
    row = world.ledger.derivatives(media_id=media.id)[0]
    assert "done" == row["state"], row["error"]
    assert (600, 100) == size_of(world.store.local_path(row["object_key"]))
    assert world.store.open(row["object_key"]).read()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.slow
def test_ledger_similar_finds_a_clips_copies_and_not_other_clips_of_the_camera(tmp_path):
    world = World(tmp_path)
    made = {"original": clips.scene(tmp_path / "orig.mp4", seed=1, seconds=10)}
    made["half"] = clips.half_size(made["original"], tmp_path / "half.mp4")
    made["hevc"] = clips.hevc(made["original"], tmp_path / "hevc.mp4")
    made["trimmed"] = clips.trimmed(made["original"], tmp_path / "trim.mp4", 3, 5)
    made["stamped"] = clips.timestamped(made["original"], tmp_path / "stamp.mp4")
    made["other"] = clips.scene(tmp_path / "other.mp4", seed=2, seconds=10)
    made["third"] = clips.scene(tmp_path / "third.mp4", seed=3, seconds=10)
    ids = {name: world.handed_over(data=path.read_bytes()).id for name, path in made.items()}
    name_of = {v: k for k, v in ids.items()}
    assert 7 == deriver(world, ["fingerprint"]).run()
    for row in world.ledger.derivatives():
        assert "done" == row["state"], row["error"]
    found = fingerprint.similar(world.ledger, ids["original"])
    assert {"half", "hevc", "trimmed", "stamped"} == {name_of[r["media_id"]] for r in found}
    trim = next(r for r in found if name_of[r["media_id"]] == "trimmed")
    assert trim["score"] >= 0.8
    # the trimmed copy's seconds 0..4 are the original's 3..7
    (span,) = trim["ranges"]
    assert (3.0, 7.0) == (pytest.approx(span["start"], abs=1.01),
                          pytest.approx(span["end"], abs=1.01))
    assert (0.0, 4.0) == (pytest.approx(span["other_start"], abs=1.01),
                          pytest.approx(span["other_end"], abs=1.01))
    assert [] == fingerprint.similar(world.ledger, ids["other"])
    assert [] == fingerprint.similar(world.ledger, ids["third"])
    # the copy finds its original the other way round too
    assert "original" in {name_of[r["media_id"]] for r in
                          fingerprint.similar(world.ledger, ids["trimmed"])}
    doc = json.loads(world.store.open(world.ledger.derivatives(
        media_id=ids["original"])[0]["object_key"]).read())
    assert ("pdq-1s", "keyframes") == (doc["algorithm"], doc["sampled"])
    assert doc["frames"] == world.ledger.fingerprint(ids["original"])["frames"]
    report = world.ledger.verify()
    assert report.ok, report.problems
    # as an archivist asks it, by hash, with the time ranges
    original = world.ledger.media(ids["original"])
    proc = evidock("ledger", "similar", original.blake3[:12], "--json",
                   "--data-dir", str(tmp_path))
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    assert {ids[n] for n in ("half", "hevc", "trimmed", "stamped")} == {
        r["media_id"] for r in lines}
    assert all(r["ranges"] and r["blake3"] and 0 < r["score"] <= 1 for r in lines)
    table = evidock("ledger", "similar", str(ids["trimmed"]), "--data-dir", str(tmp_path))
    assert "0:00:03-0:00:07" in table.stdout.replace("\u2500", "")


@pytest.mark.slow
def test_a_copy_trimmed_at_any_fraction_of_a_second_matches_and_other_clips_do_not(tmp_path):
    """A cut between the original's key frames puts the copy's frames at another phase:
    the copy's quarter-second grid still finds each of the original's seconds."""
    world = World(tmp_path)
    original = clips.scene(tmp_path / "orig.mp4", seed=5, seconds=10)
    made = {f"cut {start}": clips.trimmed(original, tmp_path / f"t{start}.mp4", start, 5)
            for start in (2.3, 3.5, 4.75)}
    made["other"] = clips.scene(tmp_path / "other.mp4", seed=6, seconds=10, gop=250)
    ids = {name: world.handed_over(data=path.read_bytes()).id for name, path in made.items()}
    ids["original"] = world.handed_over(data=original.read_bytes()).id
    name_of = {v: k for k, v in ids.items()}
    assert 5 == deriver(world, ["fingerprint"]).run()
    docs = {name: json.loads(world.store.open(world.ledger.derivatives(
        media_id=i)[0]["object_key"]).read()) for name, i in ids.items()}
    assert "4fps" == docs["cut 2.3"]["sampled"] == docs["other"]["sampled"]
    assert 20 == len(docs["cut 2.3"]["frames"])  # 5 s, four a second
    found = {name_of[r["media_id"]]: r for r in fingerprint.similar(world.ledger,
                                                                   ids["original"])}
    assert {"cut 2.3", "cut 3.5", "cut 4.75"} == set(found)
    for name, start in (("cut 2.3", 2.3), ("cut 3.5", 3.5), ("cut 4.75", 4.75)):
        assert found[name]["score"] >= 0.8, found[name]
        assert found[name]["best_distance"] <= 20, found[name]
        (span,) = found[name]["ranges"]
        assert span["other_start"] - span["start"] == pytest.approx(-start, abs=0.3)
    # sampled four times a second, an unrelated clip still matches nothing
    assert [] == fingerprint.similar(world.ledger, ids["other"])


def test_similar_of_a_recording_not_fingerprinted_yet_says_what_to_do(tmp_path):
    world = World(tmp_path)
    media = world.handed_over(data=b"not a video")
    proc = evidock("ledger", "similar", str(media.id), "--data-dir", str(tmp_path),
                   check=False)
    assert 4 == proc.returncode
    assert "has no fingerprint yet" in proc.stderr and "derivatives list" in proc.stderr


def test_a_recording_without_pictures_worth_hashing_gets_an_empty_fingerprint(tmp_path):
    world = World(tmp_path)
    clips.ffmpeg("-f", "lavfi", "-i", "color=c=black:s=320x240:d=3", "-c:v", "libx264",
                 "-preset", "ultrafast", str(tmp_path / "black.mp4"))
    media = world.handed_over(data=(tmp_path / "black.mp4").read_bytes())
    deriver(world, ["fingerprint"]).run()
    row = world.ledger.derivatives(media_id=media.id)[0]
    assert "done" == row["state"], row["error"]
    assert [] == world.ledger.fingerprint(media.id)["frames"]  # flat frames match nothing
    assert [] == fingerprint.similar(world.ledger, media.id)


def test_h265_and_mov_originals_get_an_h264_proxy_that_chromium_plays(tmp_path):
    world = World(tmp_path)
    src = clips.scene(tmp_path / "s.mp4", seed=4, seconds=2, size="320x180")
    hevc = world.handed_over(data=clips.hevc(src, tmp_path / "h.mp4").read_bytes())
    clips.ffmpeg("-i", str(src), "-c", "copy", "-f", "mov", str(tmp_path / "m.mov"))
    mov = world.handed_over(data=(tmp_path / "m.mov").read_bytes())
    deriver(world, ["proxy"]).run()
    for media in (hevc, mov):
        row = world.ledger.derivatives(media_id=media.id)[0]
        assert "done" == row["state"], row["error"]
        out = subprocess.run(["ffprobe", "-v", "error", "-show_entries",
                              "stream=codec_name,profile,pix_fmt", "-of", "csv=p=0",
                              str(world.store.local_path(row["object_key"]))],
                             capture_output=True, text=True, check=True).stdout.split()
        # H.264 High 4:2:0 + AAC in MP4: what Chromium decodes without extra codecs
        assert ["h264,High,yuv420p", "aac,LC"] == out
