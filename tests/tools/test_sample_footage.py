"""Real clips from tools/sample-footage go through the daemon bit-exact and stay playable."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ..daemon_proc import evidock, ledger_rows

TOOL = Path(__file__).resolve().parents[2] / "tools" / "sample-footage"

pytestmark = pytest.mark.ffmpeg


@pytest.fixture(autouse=True)
def needs_ffmpeg():
    if not (shutil.which("ffmpeg") and shutil.which("ffprobe")):
        pytest.skip("ffmpeg/ffprobe are not installed (tools/setup installs them)")


def test_sample_clips_are_handed_over_bit_exact_and_playable(tmp_path):
    subprocess.run([sys.executable, str(TOOL), str(tmp_path / "in"), "--serial", "DSJ1",
                    "--clips", "2", "--seconds", "1"], check=True, capture_output=True)
    sources = {p.relative_to(tmp_path / "in" / "DSJ1").as_posix(): p
               for p in (tmp_path / "in" / "DSJ1").rglob("*") if p.is_file()}
    evidock("run", "--data-dir", str(tmp_path / "d"), "--watch", str(tmp_path / "in"),
            "--settle", "0.1", "--until-idle")
    rows = {r["source_path"]: r for r in ledger_rows(tmp_path / "d")}
    assert set(sources) == set(rows)
    for rel, path in sources.items():
        assert hashlib.sha256(path.read_bytes()).hexdigest() == rows[rel]["sha256"]
    clip = next(r for r in rows.values() if r["kind"] == "video")
    stored = tmp_path / "d" / "store" / clip["object_key"]
    probe = json.loads(subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "stream=codec_type", "-of", "json",
         str(stored)], check=True, capture_output=True, text=True).stdout)
    assert {"video", "audio"} == {s["codec_type"] for s in probe["streams"]}


def test_a_one_shot_run_probes_what_it_handed_over(tmp_path):
    subprocess.run([sys.executable, str(TOOL), str(tmp_path / "in"), "--serial", "DSJ2",
                    "--clips", "1", "--seconds", "1"], check=True, capture_output=True)
    evidock("run", "--data-dir", str(tmp_path / "d"), "--watch", str(tmp_path / "in"),
            "--settle", "0.1", "--until-idle")
    video = next(r for r in ledger_rows(tmp_path / "d") if r["kind"] == "video")
    shown = json.loads(evidock("ledger", "show", str(video["id"]), "--json",
                               "--data-dir", str(tmp_path / "d")).stdout)
    assert ("h264", None) == (shown["probe"]["video_codec"], shown["probe"]["error"])
    assert 0.9 < shown["probe"]["duration_s"] < 1.2
