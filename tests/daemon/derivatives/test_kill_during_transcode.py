"""kill -9 of the real daemon during a transcode: the next start puts the derivative back,
stops the orphaned ffmpeg, and finishes it without a second derivative object."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
from pathlib import Path

import pytest

from tests.daemon_proc import EVIDOCK, evidock, start_daemon, wait_for

pytestmark = [pytest.mark.ffmpeg, pytest.mark.slow]


@pytest.fixture(autouse=True)
def station(tmp_path, monkeypatch):
    if not (shutil.which("ffmpeg") and shutil.which("ffprobe")):
        pytest.skip("ffmpeg/ffprobe are not installed (tools/setup installs them)")
    config = tmp_path / "evidock.toml"
    config.write_text('[station]\nid = "st-derive"\n[usb]\nenabled = false\n'
                      '[derivatives]\nnice = 0\n')
    monkeypatch.setenv("EVIDOCK_CONFIG", str(config))


def derivatives(data_dir: Path) -> list[dict]:
    proc = evidock("derivatives", "list", "--json", "--data-dir", str(data_dir), check=False)
    if proc.returncode != 0:  # the daemon has not made its ledger yet
        return []
    out = proc.stdout
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def objects(data_dir: Path) -> list[Path]:
    return [p for p in (data_dir / "store" / "media").rglob("*")
            if p.is_file() and p.suffix != ".json"]


def test_a_kill_during_a_transcode_resumes_without_a_duplicate_object(tmp_path):
    src = tmp_path / "src" / "CAM9" / "DCIM"
    src.mkdir(parents=True)
    subprocess.run(["ffmpeg", "-loglevel", "error", "-f", "lavfi", "-i",
                    "testsrc2=size=1920x1080:rate=30:duration=40", "-c:v", "libx264",
                    "-preset", "ultrafast", "-pix_fmt", "yuv420p",
                    str(src / "20261201_080000_0001.MP4")], check=True)
    data = tmp_path / "data"
    data.mkdir()
    daemon = start_daemon(data, tmp_path / "src", extra=("--settle", "0.5"))
    try:
        try:
            wait_for(lambda: any(d["state"] == "running" and d["kind"] == "proxy"
                                 for d in derivatives(data)), timeout=240, interval=0.2,
                     what="the proxy transcode to start")
        except AssertionError as exc:  # say what the daemon was doing instead
            log = (tmp_path / "daemon.log").read_text(errors="replace")[-4000:]
            raise AssertionError(f"{exc}; derivatives: {derivatives(data)}; log:\n{log}") \
                from None
    finally:
        daemon.send_signal(signal.SIGKILL)
        daemon.wait(timeout=10)
    assert 1 == len(objects(data))  # the original only: the proxy was not finished
    proc = subprocess.run([*EVIDOCK, "run", "--data-dir", str(data), "--watch",
                           str(tmp_path / "src"), "--settle", "0.5", "--until-idle"],
                          capture_output=True, text=True, timeout=300)
    assert 0 == proc.returncode, proc.stdout[-3000:] + proc.stderr[-3000:]
    rows = {d["kind"]: d for d in derivatives(data)}
    assert {"proxy": "done", "poster": "done", "sprite": "done", "sprite_vtt": "done",
            "fingerprint": "done"} == {k: r["state"] for k, r in rows.items()}
    assert 2 == rows["proxy"]["attempts"]
    assert 6 == len(objects(data))  # the original and each derivative once: nothing twice
    assert not (data / "derive").exists() or not any((data / "derive").iterdir())
    assert "derivative_orphan_stopped" in proc.stdout + proc.stderr
    evidock("ledger", "verify", "--data-dir", str(data))
