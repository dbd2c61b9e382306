"""The derivative queue with real ffmpeg on generated clips: proxies and posters stored
write-once beside the original, damaged files failed with a reason, never retried in a loop,
and the ledger verifies."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from prometheus_client import generate_latest

from evidock.daemon.config import DerivativesConfig
from evidock.daemon.derivatives.queue import Deriver
from evidock.daemon.metrics import StationCollector, registry_for

from ..world import World

pytestmark = pytest.mark.ffmpeg


@pytest.fixture(autouse=True)
def needs_ffmpeg():
    if not (shutil.which("ffmpeg") and shutil.which("ffprobe")):
        pytest.skip("ffmpeg/ffprobe are not installed (tools/setup installs them)")


def make(path: Path, *args: str) -> bytes:
    subprocess.run(["ffmpeg", "-loglevel", "error", "-y", *args, str(path)], check=True)
    return path.read_bytes()


def h264(tmp_path, name="clip.mp4", *, audio=True, size="1280x720", seconds=2) -> bytes:
    args = ["-f", "lavfi", "-i", f"testsrc2=size={size}:rate=25:duration={seconds}"]
    if audio:
        args += ["-f", "lavfi", "-i", f"sine=frequency=440:duration={seconds}", "-c:a", "aac"]
    return make(tmp_path / name, *args, "-c:v", "libx264", "-preset", "ultrafast",
                "-pix_fmt", "yuv420p")


def streams(path: Path) -> list[str]:
    out = subprocess.run(["ffprobe", "-v", "error", "-show_entries",
                          "stream=codec_name,width,height", "-of", "csv=p=0", str(path)],
                         capture_output=True, text=True, check=True).stdout
    return [line for line in out.splitlines() if line]


def deriver(world: World, **cfg) -> Deriver:
    return Deriver(world.ledger, world.store, DerivativesConfig(**cfg),
                   work_dir=world.root / "derive")


def stored_path(world: World, key: str) -> Path:
    return world.store.local_path(key)


def test_a_clip_gets_a_playable_proxy_and_a_poster_linked_to_its_original(tmp_path):
    world = World(tmp_path)
    original = h264(tmp_path)
    media = world.handed_over(data=original)
    assert 5 == deriver(world).run()
    rows = {r["kind"]: r for r in world.ledger.derivatives(media_id=media.id)}
    assert {"proxy": "done", "poster": "done", "sprite": "done", "sprite_vtt": "done",
            "fingerprint": "done"} == {k: r["state"] for k, r in rows.items()}
    proxy = rows["proxy"]
    assert (media.blake3, media.sha256) == (proxy["source_blake3"], proxy["source_sha256"])
    assert ["h264,640,360", "aac"] == streams(stored_path(world, proxy["object_key"]))
    head = stored_path(world, proxy["object_key"]).read_bytes()[:64]
    assert head.index(b"moov") < 40  # +faststart: the index before the media data
    assert ["mjpeg,640,360"] == streams(stored_path(world, rows["poster"]["object_key"]))
    info = world.store.stat(proxy["object_key"])
    assert (proxy["sha256"], proxy["size"]) == (info.sha256, info.size)
    assert info.retain_until >= world.store.stat(media.object_key).retain_until
    assert original == world.store.open(media.object_key).read()  # the original untouched
    assert world.ledger.verify().ok
    assert 0 == deriver(world).run()  # made once, not again


def test_a_rotated_clip_and_a_clip_without_audio(tmp_path):
    world = World(tmp_path)
    plain = h264(tmp_path, "plain.mp4", audio=False)
    rotated = make(tmp_path / "rot.mp4", "-i", str(tmp_path / "plain.mp4"), "-c", "copy",
                   "-metadata:s:v:0", "rotate=90")
    a = world.handed_over(data=plain)
    b = world.handed_over(data=rotated)
    d = deriver(world)
    d.kinds = {"video": ["proxy"]}
    d.run()
    proxy = {m.id: world.ledger.derivatives(media_id=m.id)[0] for m in (a, b)}
    assert ["h264,640,360"] == streams(stored_path(world, proxy[a.id]["object_key"]))
    assert ["h264,360,640"] == streams(stored_path(world, proxy[b.id]["object_key"]))


def test_damaged_files_are_handed_over_bit_exact_and_fail_once_with_a_reason(tmp_path):
    world = World(tmp_path)
    full = h264(tmp_path)  # moov at the end, as a camera writes it
    cut = full[:len(full) * 6 // 10]  # the battery died mid-recording
    empty = world.handed_over(data=b"")
    battery = world.handed_over(data=cut)
    assert cut == world.store.open(battery.object_key).read()
    d = deriver(world)
    d.kinds = {"video": ["proxy", "poster"]}
    assert 5 == d.run()  # and a recovery of the cut one (test_recover.py)
    by = {(r["media_id"], r["kind"]): r for r in world.ledger.derivatives()}
    assert {"failed"} == {r["state"] for r in by.values()}
    assert "empty (0 bytes)" in by[(empty.id, "proxy")]["error"]
    assert "battery died" in by[(battery.id, "proxy")]["error"]
    assert "no healthy recording" in by[(battery.id, "recovered")]["error"]
    assert str(tmp_path) not in by[(battery.id, "proxy")]["error"]  # no paths, no URLs
    assert {1} == {r["attempts"] for r in by.values()}
    assert 0 == d.run()  # never tried again by itself
    assert world.ledger.verify().ok
    scraped = generate_latest(registry_for(StationCollector(world.ledger, world.c.alerts)))
    assert b'evidock_derivatives{state="failed"} 5.0' in scraped


def test_audio_gets_an_aac_proxy_and_a_still_a_thumbnail(tmp_path):
    world = World(tmp_path)
    wav = make(tmp_path / "a.wav", "-f", "lavfi", "-i", "sine=duration=2")
    jpg = make(tmp_path / "s.jpg", "-f", "lavfi", "-i", "testsrc2=size=1280x720:duration=1",
               "-vframes", "1")
    audio = world.handed_over(data=wav)
    still = world.handed_over(data=jpg)
    # World registers every file as video: queue what a driver's audio / photo would get
    world.ledger.queue_derivatives(audio.id, ["audio_proxy"])
    world.ledger.queue_derivatives(still.id, ["thumbnail"])
    d = deriver(world)
    d.kinds = {"video": []}
    d.run()
    rows = {r["kind"]: r for r in world.ledger.derivatives()}
    assert "done" == rows["audio_proxy"]["state"], rows["audio_proxy"]["error"]
    assert ["aac"] == streams(stored_path(world, rows["audio_proxy"]["object_key"]))
    assert ["mjpeg,640,360"] == streams(stored_path(world, rows["thumbnail"]["object_key"]))


def test_an_interrupted_derivative_resumes_and_one_interrupted_too_often_fails(tmp_path):
    world = World(tmp_path)
    media = world.handed_over(data=h264(tmp_path))
    d = deriver(world, max_attempts=2)
    d.kinds = {"video": ["proxy"]}
    d.enqueue()
    proxy = world.ledger.derivatives(media_id=media.id)[0]["id"]
    world.ledger.start_derivative(proxy)  # a daemon killed mid-transcode
    assert ([proxy], []) == d.recover()
    world.ledger.start_derivative(proxy)  # and killed again
    assert ([], [proxy]) == d.recover()
    assert "interrupted" in world.ledger.derivative(proxy)["error"]
    assert "failed" == world.ledger.derivative(proxy)["state"]
    world.ledger.retry_derivative(proxy, by="test")
    d.run()
    assert "done" == world.ledger.derivative(proxy)["state"]
