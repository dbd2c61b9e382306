"""The workers check reads the daemon's status snapshot: a dead or stuck worker, a dead
thread and a paused pipeline are critical alerts; a stale snapshot (no daemon) is none."""

from __future__ import annotations

import json
import time

from evidock.daemon.checks.workers import WorkersCheck
from evidock.daemon.timeutil import utcnow


def snapshot(path, **over):
    doc = {"station": "st", "updated": time.time(), "paused": None, "threads": {},
           "workers": [{"name": "ingest-0", "alive": True, "stuck": False, "state": "waiting",
                        "media_id": None, "last_beat_age_s": 0.2, "restarts": 0,
                        "crashes": 0}]}
    doc.update(over)
    path.write_text(json.dumps(doc))
    return WorkersCheck(path)


def test_healthy_workers_raise_nothing(tmp_path):
    assert [] == snapshot(tmp_path / "status.json").run(utcnow())


def test_a_dead_or_stuck_worker_a_dead_thread_and_a_pause_are_critical(tmp_path):
    check = snapshot(
        tmp_path / "status.json", threads={"spool-drainer": False, "device-release": True},
        paused={"cause": "ledger", "error": "database or disk is full", "probes": 3,
                "for_s": 12.0, "next_probe_in_s": 4.0},
        workers=[{"name": "ingest-0", "alive": False, "stuck": False, "state": "reading",
                  "media_id": 3, "last_beat_age_s": 9, "restarts": 1, "crashes": 0},
                 {"name": "ingest-1", "alive": True, "stuck": True, "state": "reading",
                  "media_id": 4, "last_beat_age_s": 400, "restarts": 0, "crashes": 0}])
    found = {f.key: f for f in check.run(utcnow())}
    assert {"workers:dead:ingest-0", "workers:stuck:ingest-1", "workers:dead:spool-drainer",
            "workers:paused"} == set(found)
    assert {"critical"} == {f.severity for f in found.values()}
    assert "database or disk is full" in found["workers:paused"].message
    assert "recording 4" in found["workers:stuck:ingest-1"].message


def test_a_stale_or_missing_snapshot_is_no_daemon_not_a_dead_worker(tmp_path):
    assert [] == WorkersCheck(tmp_path / "none.json").run(utcnow())
    stale = snapshot(tmp_path / "status.json", updated=time.time() - 3600,
                     workers=[{"name": "ingest-0", "alive": False, "stuck": False}])
    assert [] == stale.run(utcnow())
