"""``evidock ledger rebuild``: a deleted ledger comes back from the store with the same
recordings (ids, digests, states), including those handed over after the last anchor."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from ...daemon_proc import evidock, ledger_rows
from ..test_service import make_footage

pytestmark = pytest.mark.usefixtures("station")  # conftest.py: USB off

KEEP = ("id", "device_serial", "source_path", "size", "blake3", "sha256", "state", "store",
        "object_key", "recorded_at", "deadline_at", "found_at", "officer_id")


def run_once(tmp_path: Path, files: dict[str, int], *extra: str) -> Path:
    make_footage(tmp_path / "in", "CAM1", files)
    data = tmp_path / "d"
    evidock("run", "--data-dir", str(data), "--watch", str(tmp_path / "in"), "--settle", "0.1",
            "--until-idle", *extra)
    return data


def rows_of(data: Path, *extra: str) -> list[dict]:
    return [{k: r[k] for k in KEEP} for r in ledger_rows(data)] if not extra else [
        {k: r[k] for k in KEEP} for r in map(json.loads, evidock(
            "ledger", "list", "--json", "--data-dir", str(data), *extra).stdout.splitlines())]


def delete_ledger(data: Path) -> None:
    for name in os.listdir(data):
        if name.startswith("ledger.sqlite3"):
            (data / name).unlink()


def rebuild(data: Path, into: Path, check: bool = True):
    return evidock("ledger", "rebuild", "--data-dir", str(data), "--into", str(into),
                   check=check)


def test_a_deleted_ledger_is_rebuilt_with_the_same_recordings(tmp_path):
    data = run_once(tmp_path, {"a.mp4": 3000, "DCIM/b.mp4": 4000})
    before = rows_of(data)
    delete_ledger(data)
    proc = rebuild(data, tmp_path / "new.sqlite3")
    assert "0 recording(s) handed over after the last anchor" in proc.stdout
    assert "verified: chain, tables and the store's anchors agree" in proc.stdout
    os.replace(tmp_path / "new.sqlite3", data / "ledger.sqlite3")
    assert before == rows_of(data)
    assert 0 == evidock("ledger", "verify", "--data-dir", str(data)).returncode


def test_recordings_handed_over_after_the_last_anchor_come_back_from_their_metadata(tmp_path):
    data = run_once(tmp_path, {"a.mp4": 3000})
    [first] = sorted((data / "store" / "ledger").rglob("*.jsonl"))
    run_once(tmp_path, {"b.mp4": 5000, "c.mp4": 6000})
    before = rows_of(data)
    delete_ledger(data)
    for later in sorted((data / "store" / "ledger").rglob("*.jsonl*")):
        if not later.name.startswith(first.name):
            later.unlink()  # as if the daemon had died before its next anchor
    proc = rebuild(data, tmp_path / "new.sqlite3")
    assert "2 recording(s) handed over after the last anchor" in proc.stdout
    assert "media 2: CAM1 b.mp4 (5000 bytes" in proc.stdout
    os.replace(tmp_path / "new.sqlite3", data / "ledger.sqlite3")
    after = rows_of(data)
    assert [(r["id"], r["sha256"], r["state"]) for r in before] == \
        [(r["id"], r["sha256"], r["state"]) for r in after]
    assert before == after
    shown = json.loads(evidock("ledger", "show", "3", "--json", "--data-dir", str(data)).stdout)
    assert ["media_recovered_from_store"] == [e["kind"] for e in shown["events"]]
    assert 0 == evidock("ledger", "verify", "--data-dir", str(data)).returncode


def test_the_rebuilt_ledger_takes_new_recordings_and_anchors_them(tmp_path):
    data = run_once(tmp_path, {"a.mp4": 3000})
    delete_ledger(data)
    rebuild(data, tmp_path / "new.sqlite3")
    os.replace(tmp_path / "new.sqlite3", data / "ledger.sqlite3")
    run_once(tmp_path, {"b.mp4": 4000})
    assert 2 == len(rows_of(data))
    proc = evidock("ledger", "verify", "--data-dir", str(data))
    assert "agrees with the store's anchors: 2 anchor(s)" in proc.stdout


def test_rebuild_never_writes_over_an_existing_ledger(tmp_path):
    data = run_once(tmp_path, {"a.mp4": 3000})
    before = (data / "ledger.sqlite3").read_bytes()
    proc = rebuild(data, data / "ledger.sqlite3", check=False)
    assert 3 == proc.returncode
    assert "already exists: a rebuild never writes over a ledger" in proc.stderr
    assert before == (data / "ledger.sqlite3").read_bytes()
