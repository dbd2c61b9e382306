"""The archivist's commands, run as a person would run them."""

from __future__ import annotations

import json
import sqlite3

from ...daemon_proc import evidock, ledger_rows
from ..test_service import make_footage

FIELDS = {"id", "blake3", "sha256", "size", "device_serial", "officer_id", "source_path",
          "recorded_at", "ingested_at", "store", "object_key", "retain_until", "state"}


def ingest(tmp_path):
    make_footage(tmp_path / "in", "CAM1", {"a.mp4": 2000})
    make_footage(tmp_path / "in", "CAM2", {"b.mp4": 3000})
    evidock("run", "--data-dir", str(tmp_path / "d"), "--watch", str(tmp_path / "in"),
            "--settle", "0.1", "--until-idle")
    return str(tmp_path / "d")


def test_list_json_has_every_documented_field(tmp_path):
    data = ingest(tmp_path)
    rows = ledger_rows(tmp_path / "d")
    assert 2 == len(rows) and all(FIELDS <= set(r) for r in rows)
    only = evidock("ledger", "list", "--json", "--device", "CAM2", "--data-dir", data).stdout
    assert ["CAM2"] == [json.loads(line)["device_serial"] for line in only.splitlines()]
    none = evidock("ledger", "list", "--json", "--since", "2999-01-01", "--data-dir", data)
    assert "" == none.stdout


def test_show_finds_a_recording_by_hash(tmp_path):
    data = ingest(tmp_path)
    row = ledger_rows(tmp_path / "d")[0]
    shown = json.loads(evidock("ledger", "show", row["sha256"][:12], "--json",
                               "--data-dir", data).stdout)
    assert row["id"] == shown["id"]
    assert ["media_seen", "attempt_started", "media_stored", "media_verified",
            "media_probed", *["derivative_queued"] * 5,
            *["derivative_started", "derivative_failed"] * 5] == [
        e["kind"] for e in shown["events"]]
    # the footage is not real video: its derivatives are listed, failed once with the reason
    assert [(kind, "failed", 1) for kind in ("proxy", "poster", "sprite", "sprite_vtt",
                                             "fingerprint")] == [
        (d["kind"], d["state"], d["attempts"]) for d in shown["derivatives"]]
    # random bytes: what ffmpeg says of them varies (almost always "no format"), the reason
    # is always given in words, and the file is not tried again
    assert shown["derivatives"][0]["error"].strip(), shown["derivatives"]


def test_show_of_an_unknown_recording_says_so(tmp_path):
    data = ingest(tmp_path)
    proc = evidock("ledger", "show", "999", "--data-dir", data, check=False)
    assert 4 == proc.returncode and "no recording with id 999" in proc.stderr


def test_verify_exits_non_zero_and_names_the_tampered_row(tmp_path):
    data = ingest(tmp_path)
    conn = sqlite3.connect(tmp_path / "d" / "ledger.sqlite3")
    conn.execute("UPDATE media SET size = 1 WHERE id = 1")
    conn.commit()
    conn.close()
    proc = evidock("ledger", "verify", "--data-dir", data, check=False)
    assert 5 == proc.returncode
    assert "media 1: column size is 1" in proc.stderr


def test_a_malformed_config_names_the_key_and_exits_2(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('[watch]\nsettle_seconds = "soon"\n')
    proc = evidock("run", "--config", str(bad), check=False)
    assert 2 == proc.returncode
    assert f"invalid configuration in {bad}" in proc.stderr
    assert "watch.settle_seconds = 'soon'" in proc.stderr


def test_config_check_prints_the_effective_configuration(tmp_path):
    proc = evidock("config", "check", "--data-dir", str(tmp_path / "d"))
    assert f'path = "{tmp_path / "d" / "ledger.sqlite3"}"' in proc.stdout


def test_status_reports_ledger_counts_without_a_daemon(tmp_path):
    data = ingest(tmp_path)
    doc = json.loads(evidock("status", "--json", "--data-dir", data).stdout)
    assert (False, {"verified": 2}) == (doc["running"], doc["ledger"])
