"""The probe derivative: durations and codecs from the stored copy, errors recorded, never a
crash; durations feed the annual report's hours."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from evidock.daemon.probe import Prober
from evidock.daemon.report import annual

from .world import T0, World

pytestmark = pytest.mark.ffmpeg

TOOL = Path(__file__).resolve().parents[2] / "tools" / "sample-footage"


@pytest.fixture(autouse=True)
def needs_ffmpeg():
    if not (shutil.which("ffmpeg") and shutil.which("ffprobe")):
        pytest.skip("ffmpeg/ffprobe are not installed (tools/setup installs them)")


def clip(tmp_path) -> bytes:
    subprocess.run([sys.executable, str(TOOL), str(tmp_path / "gen"), "--serial", "S",
                    "--clips", "1", "--seconds", "2"], check=True, capture_output=True)
    return next((tmp_path / "gen" / "S" / "DCIM").glob("*.MP4")).read_bytes()


def test_a_stored_clip_gets_its_duration_and_codecs(tmp_path):
    world = World(tmp_path)
    media = world.handed_over(data=clip(tmp_path), recorded_at=T0)
    prober = Prober(world.ledger, world.store)
    assert 1 == prober.run()
    got = prober.of(media.id)
    assert (None, "h264", "aac", 640, 360) == (got["error"], got["video_codec"],
                                                got["audio_codec"], got["width"], got["height"])
    assert 1.9 < got["duration_s"] < 2.2
    assert [] == prober.pending()  # probed once, not again
    assert "media_probed" in [e.kind for e in world.ledger.events(subject=f"media:{media.id}")]
    assert world.ledger.verify().ok


def test_a_file_ffprobe_cannot_read_is_recorded_not_retried(tmp_path):
    world = World(tmp_path)
    media = world.handed_over(data=b"not a video at all" * 100)
    prober = Prober(world.ledger, world.store)
    assert 1 == prober.run()
    assert prober.of(media.id)["error"]
    assert 0 == prober.run()


def test_the_annual_report_adds_up_probed_hours(tmp_path):
    world = World(tmp_path)
    world.handed_over(data=clip(tmp_path), recorded_at=T0)
    Prober(world.ledger, world.store).run()
    doc = annual(world.ledger, T0.year)
    assert "" == doc["hours_note"]
    assert 1.9 < doc["footage_seconds"] < 2.2


def test_a_one_shot_run_probes_in_parallel_and_records_each_batch_in_one_transaction(
        tmp_path, monkeypatch):
    world = World(tmp_path)
    video = clip(tmp_path)
    good = [world.handed_over(data=video + bytes([n]), recorded_at=T0) for n in range(3)]
    bad = [world.handed_over(data=b"not a video %d" % n * 50) for n in range(4)]
    transactions = []
    opened = world.ledger._transaction

    def counted():
        transactions.append(1)
        return opened()

    monkeypatch.setattr(world.ledger, "_transaction", counted)
    prober = Prober(world.ledger, world.store)
    assert 7 == prober.run(parallel=3, batch=4)
    assert 2 == len(transactions)  # batches of 4 and 3
    assert all(prober.of(m.id)["video_codec"] == "h264" for m in good)
    assert all(prober.of(m.id)["error"] for m in bad)
    assert [] == prober.pending()
    assert world.ledger.verify().ok


def test_a_batched_run_stops_between_batches_when_asked(tmp_path):
    world = World(tmp_path)
    for n in range(5):
        world.handed_over(data=b"not a video %d" % n * 50)
    asked = []
    prober = Prober(world.ledger, world.store)
    assert 2 == prober.run(batch=2, parallel=2, keep_going=lambda: not asked.append(1)
                           and len(asked) < 2)
    assert 3 == len(prober.pending())
