"""``tools/bench --quick --scale`` runs end to end and its JSON says what it measured.

No timed assertion: a shared or slow machine gives other numbers, never another shape."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

TOOL = Path(__file__).resolve().parents[2] / "tools" / "bench"

pytestmark = [pytest.mark.slow, pytest.mark.s3, pytest.mark.ffmpeg]


def test_the_quick_bench_runs_and_prints_well_formed_json(tmp_path):
    out = tmp_path / "bench.json"
    done = subprocess.run([sys.executable, str(TOOL), "--quick", "--scale", "--workdir",
                           str(tmp_path), "--json", str(out)], capture_output=True, text=True,
                          timeout=1500)
    assert 0 == done.returncode, done.stderr[-3000:]
    doc = json.loads(out.read_text())
    assert doc == json.loads(done.stdout.strip().splitlines()[-1])  # the last line is the JSON
    assert "evidock.bench/1" == doc["format"]
    rows = {(r["case"], r["shape"]): r for r in doc["rows"]}
    must = [("raw read", "large"), ("raw read", "small"), ("sha256 one core", "cpu"),
            *((f"evidock {store} x{n}", "small") for store in ("local", "s3") for n in (1, 4, 8)),
            ("evidock local x1", "large"), ("evidock s3 x1", "large"),
            ("evidock paced 40 MB/s", "paced"), ("evidock paced 400 MB/s", "paced"),
            ("evidock derivatives off", "clips"), ("evidock derivatives on", "clips"),
            ("raw read", "huge"), ("evidock local x1", "huge"), ("raw read", "many"),
            ("evidock local x1", "many"), ("evidock re-dock", "many")]
    missing = [k for k in must if k not in rows or "mb_s" not in rows[k]]
    assert [] == missing, {k: rows.get(k) for k in missing}
    for row in rows.values():
        if "mb_s" in row:
            assert row["mb_s"] > 0 and math.isfinite(row["mb_s"]) and row["peak_rss_mb"] >= 0
            assert row["spread_s"][0] <= row["seconds"] <= row["spread_s"][1]
    evidock = rows[("evidock local x1", "small")]
    assert "raw read" in evidock["ratios"] and "sha256 one core" in evidock["ratios"]
    assert evidock["peak_rss_mb"] > 10  # the daemon's own peak, not the bench's
    assert {"rclone", "b3sum", "aws"} <= set(doc["meta"]["peers"])  # installed, or None
    # --scale: the re-dock says what it read, beside the content it did not need to
    redock = rows[("evidock re-dock", "many")]["extra"]
    assert {"rchar", "read_bytes", "files_read", "content_bytes"} <= set(redock)
    assert 0 == redock["files_read"] and redock["content_bytes"] > 0
    assert rows[("evidock local x1", "huge")]["extra"]["rchar"] >= doc["meta"]["scale"][
        "huge_bytes"]  # the handover read the whole file: the counters are the child's own
    assert not list(tmp_path.glob("evidock-bench-*")), "the throw-away folder is left"
