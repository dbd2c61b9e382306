"""What a watch folder holds and evidock does not take leaves a trace: symlinks, FIFOs and
device nodes are ledger events (not only log lines), and hidden or symlinked device folders
are skipped with a log line (a symlinked one also in the ledger), each once."""

from __future__ import annotations

import json
import os
import sqlite3

from ..daemon.test_service import make_footage
from ..daemon_proc import evidock, ledger_rows


def unreadable_events(data) -> list[dict]:
    db = sqlite3.connect(data / "ledger.sqlite3")
    try:
        return [json.loads(d) for (d,) in db.execute(
            "SELECT data FROM events WHERE kind = 'source_unreadable' ORDER BY seq")]
    finally:
        db.close()


def test_symlinks_fifos_device_nodes_and_skipped_folders_leave_traces(tmp_path):
    inbox, data = tmp_path / "in", tmp_path / "d"
    make_footage(inbox, "CAM-T", {"a.mp4": 1000})
    make_footage(inbox, ".hidden", {"b.mp4": 1000})
    cam = inbox / "CAM-T"
    os.mkfifo(cam / "pipe.mp4")
    os.symlink(cam / "a.mp4", cam / "link.mp4")
    os.mknod(cam / "null.mp4", 0o600 | 0o020000, os.makedev(1, 3))  # a character device
    os.symlink(cam, inbox / "CAM-LINK")
    args = ("run", "--data-dir", str(data), "--watch", str(inbox), "--settle", "0",
            "--until-idle", "--no-derivatives")
    proc = evidock(*args, env={"EVIDOCK_CONFIG": ""})
    assert ["a.mp4"] == [r["source_path"] for r in ledger_rows(data)]
    got = {(e["serial"], e["path"]): e["reason"] for e in unreadable_events(data)}
    assert {("CAM-T", "pipe.mp4"), ("CAM-T", "link.mp4"), ("CAM-T", "null.mp4"),
            ("CAM-LINK", "")} == set(got)
    assert got[("CAM-T", "pipe.mp4")].startswith("not a regular file (p")
    assert got[("CAM-LINK", "")] == "device folder is a symlink: not followed"
    skipped = [json.loads(line) for line in proc.stderr.splitlines()
               if "watch_entry_skipped" in line]
    assert {".hidden", "CAM-LINK"} == {e["file"] for e in skipped}
    assert 1 == sum(1 for e in skipped if e["file"] == ".hidden")
