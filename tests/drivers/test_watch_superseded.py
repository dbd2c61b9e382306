"""A watch folder's file that changes after it was found (touched by a copy tool, rewritten
by a recorder) is a new version: its new row is handed over, and the old row ends
``superseded`` by it instead of failing, being given up on and raising a handover alert."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import time

from ..daemon.test_service import make_footage
from ..daemon_proc import EVIDOCK, evidock, wait_for

HOUR_NS = 3600 * 10**9


def media(data) -> list[dict]:
    try:
        db = sqlite3.connect(f"file:{data / 'ledger.sqlite3'}?mode=ro", uri=True)
    except sqlite3.OperationalError:  # not created yet
        return []
    db.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in db.execute(
            "SELECT id, source_path, state, mtime_ns, deadline_at, superseded_by, sha256 "
            "FROM media ORDER BY id")]
    except sqlite3.OperationalError:  # its schema not written yet
        return []
    finally:
        db.close()


def test_a_file_changed_while_read_and_one_changed_while_queued_are_superseded(tmp_path):
    inbox, data = tmp_path / "in", tmp_path / "d"
    want = make_footage(inbox, "CAM-S", {"a.mp4": 6 << 20, "b.mp4": 1000})
    cam = inbox / "CAM-S"
    then = time.time_ns() - 2 * HOUR_NS
    os.utime(cam / "a.mp4", ns=(then, then))  # a first: the earlier deadline
    os.utime(cam / "b.mp4", ns=(then + 60 * 10**9,) * 2)
    # every 1 MiB chunk read waits: a.mp4 is read for about 2 s
    env = {**os.environ, "EVIDOCK_CONFIG": "", "EVIDOCK_SLOW": "read:0.3"}
    proc = subprocess.Popen(
        [*EVIDOCK, "run", "--data-dir", str(data), "--watch", str(inbox), "--settle", "0.2",
         "--until-idle", "--no-derivatives"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: any(r["state"] == "copying" and r["source_path"] == "a.mp4"
                             for r in media(data)) and len(media(data)) == 2, 60,
                 what="a.mp4 being read while b.mp4 waits")
        before = {r["source_path"]: r for r in media(data)}
        later = time.time_ns() - HOUR_NS
        for name in ("a.mp4", "b.mp4"):  # same bytes, a new mtime: a new version
            os.utime(cam / name, ns=(later, later))
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert 0 == proc.returncode, err
    rows = media(data)
    by = {r["id"]: r for r in rows}
    for name in ("a.mp4", "b.mp4"):
        old, new = [r for r in rows if r["source_path"] == name]
        assert old["id"] == before[name]["id"]
        assert ("superseded", new["id"]) == (old["state"], old["superseded_by"]), rows
        assert ("verified", want[name]) == (new["state"], new["sha256"])
        assert later == new["mtime_ns"]
        # the new version keeps the earlier deadline: a change never buys time
        assert before[name]["deadline_at"] == new["deadline_at"]
        assert by[old["superseded_by"]] is new
    # nothing left behind, given up on or alerted on for the versions that are gone
    assert "left_behind" not in err and "quarantined" not in err
    listed = evidock("ledger", "list", "--state", "superseded", "--data-dir", str(data),
                     env={"EVIDOCK_CONFIG": ""}).stdout
    assert 2 == listed.count("superseded")
    alerts = evidock("alerts", "list", "--json", "--data-dir", str(data),
                     env={"EVIDOCK_CONFIG": ""}).stdout
    assert "handover:device:CAM-S" not in alerts
    assert "OK" in evidock("ledger", "verify", "--data-dir", str(data),
                           env={"EVIDOCK_CONFIG": ""}).stdout
