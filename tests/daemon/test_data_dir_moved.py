"""A data directory moved (or restored) to another path audits clean: the local store keeps
answering for the name its objects were recorded under, and the daemon records the move."""

from __future__ import annotations

import json
import sqlite3

from ..daemon_proc import evidock
from .test_service import make_footage

ENV = {"EVIDOCK_CONFIG": ""}


def run_once(data, inbox):
    evidock("run", "--data-dir", str(data), "--watch", str(inbox), "--settle", "0",
            "--until-idle", "--no-derivatives", env=ENV)


def test_a_moved_data_directory_audits_clean_and_the_move_is_recorded(tmp_path):
    inbox, old, new = tmp_path / "in", tmp_path / "old", tmp_path / "new"
    make_footage(inbox, "CAM-MV", {"a.mp4": 4000, "b.wav": 3000})
    run_once(old, inbox)
    old.rename(new)
    for check in ("retention", "fixity", "inventory"):  # before any daemon ran at the new path
        proc = evidock("check", check, "--data-dir", str(new), check=False, env=ENV)
        assert 0 == proc.returncode, (check, proc.stdout, proc.stderr)
    run_once(new, inbox)  # the daemon at the new path: the move goes into the ledger
    db = sqlite3.connect(new / "ledger.sqlite3")
    moved = [json.loads(d) for (d,) in db.execute(
        "SELECT data FROM events WHERE kind = 'store_moved'")]
    db.close()
    assert [{"from": f"local:{old / 'store'}", "to": f"local:{new / 'store'}"}] == moved
    for check in ("retention", "fixity", "inventory"):
        assert 0 == evidock("check", check, "--data-dir", str(new), check=False,
                            env=ENV).returncode
    assert "OK" in evidock("ledger", "verify", "--data-dir", str(new), env=ENV).stdout
    run_once(new, inbox)  # nothing moved since: recorded once
    db = sqlite3.connect(new / "ledger.sqlite3")
    assert 1 == db.execute("SELECT COUNT(*) FROM events WHERE kind = 'store_moved'").fetchone()[0]
    db.close()
