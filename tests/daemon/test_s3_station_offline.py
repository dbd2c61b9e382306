"""An S3 station whose S3 is away: commands that only read work without the secrets or the
server, and the daemon started with S3 down, refusing its credentials or without Object Lock
keeps taking recordings into the spool instead of exiting (real processes, real S3 server)."""

from __future__ import annotations

import json
import signal
import sqlite3
import time

import pytest

from tests.s3_fixture import module_server

from ..daemon_proc import evidock, ledger_rows, start_daemon, wait_for
from .test_service import make_footage

pytestmark = pytest.mark.s3


# A server of this module's own: these tests stop and start it.
server, up = module_server("s3-offline")


@pytest.fixture
def no_secrets(monkeypatch):
    for name in ("CREDENTIALS_DIRECTORY", "EVIDOCK_S3_ACCESS_KEY", "EVIDOCK_S3_SECRET_KEY"):
        monkeypatch.delenv(name, raising=False)


def write_config(tmp_path, server, bucket: str) -> str:
    path = tmp_path / "evidock.toml"
    path.write_text(
        f'[station]\nid = "st-off"\ndata_dir = "{tmp_path / "data"}"\n[usb]\nenabled = false\n'
        f'[ingest]\nretry_base_seconds = 0.2\nprobe = false\n'
        f'[store]\ntype = "s3"\nendpoint = "http://{server.endpoint}"\nbucket = "{bucket}"\n'
        f'part_size_mib = 5\ntimeout_seconds = 3\n'
        f'[store.spool]\ndrain_interval_seconds = 0.3\nretry_max_seconds = 1\n'
        f'[watch]\nrescan_seconds = 1\n')
    return str(path)


def store_alerts(config: str) -> dict[str, str]:
    """key -> state of the alerts about the store."""
    out = evidock("alerts", "list", "--all", "--json", "--config", config).stdout
    return {a["key"]: a["state"] for a in map(json.loads, out.splitlines())
            if a["check_name"] == "store"}


def rows(tmp_path) -> list[dict]:
    """The ledger's recordings, or none while the daemon has not created its ledger yet."""
    if not (tmp_path / "data" / "ledger.sqlite3").exists():
        return []
    return ledger_rows(tmp_path / "data")


def stores(tmp_path) -> set[str]:
    db = sqlite3.connect(tmp_path / "data" / "ledger.sqlite3")
    try:
        return {store for (store,) in db.execute("SELECT store FROM media")}
    finally:
        db.close()


def event_kinds(tmp_path) -> list[str]:
    db = sqlite3.connect(tmp_path / "data" / "ledger.sqlite3")
    try:
        return [kind for (kind,) in db.execute("SELECT kind FROM events ORDER BY seq")]
    finally:
        db.close()


def test_read_commands_need_neither_the_secrets_nor_the_server(tmp_path, up, monkeypatch):
    bucket = up.make_lock_bucket("offline-reads")
    monkeypatch.setenv("EVIDOCK_S3_ACCESS_KEY", up.access_key)
    monkeypatch.setenv("EVIDOCK_S3_SECRET_KEY", up.secret_key)
    config = write_config(tmp_path, up, bucket)
    make_footage(tmp_path / "in", "CAM1", {"a.mp4": 5000})
    evidock("run", "--config", config, "--watch", str(tmp_path / "in"), "--settle", "0",
            "--until-idle")
    cases = tmp_path / "cases.json"
    cases.write_text(json.dumps([{"case_id": "C1", "type": "hearing", "officers": ["110001"],
                                  "start": "2026-01-01T00:00:00Z",
                                  "end": "2026-01-01T01:00:00Z"}]))
    evidock("cases", "import", str(cases), "--config", config)
    up.stop(signal.SIGKILL)
    for name in ("CREDENTIALS_DIRECTORY", "EVIDOCK_S3_ACCESS_KEY", "EVIDOCK_S3_SECRET_KEY"):
        monkeypatch.delenv(name, raising=False)
    started = time.monotonic()
    rows = [json.loads(line) for line in evidock(
        "ledger", "list", "--json", "--config", config).stdout.splitlines()]
    assert [f"s3:{bucket}"] == [r["store"] for r in rows]
    assert "OK" in evidock("ledger", "verify", "--config", config).stdout
    assert "alert(s)" in evidock("alerts", "list", "--config", config).stdout
    assert "C1" in evidock("cases", "show", "C1", "--config", config).stdout
    assert time.monotonic() - started < 30  # no S3 timeouts: nothing tried to reach it


def test_wrong_credentials_at_start_spool_and_drain_once_they_are_fixed(tmp_path, up,
                                                                         no_secrets,
                                                                         monkeypatch):
    """Credentials are read at each request: fixing the systemd credential file is enough."""
    bucket = up.make_lock_bucket("offline-creds")
    creds = tmp_path / "creds"
    creds.mkdir()
    (creds / "s3-access-key").write_text(up.access_key)
    (creds / "s3-secret-key").write_text("wrong-secret")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(creds))
    config = write_config(tmp_path, up, bucket)
    make_footage(tmp_path / "in", "CAM2", {"a.mp4": 7000, "b.mp4": 3 << 20})
    daemon = start_daemon(tmp_path / "data", tmp_path / "in",
                          extra=("--config", config, "--settle", "0"))
    try:
        wait_for(lambda: len(rows(tmp_path)) == 2 and all(
            r["state"] == "verified" for r in rows(tmp_path)), 60,
            0.2, what="both recordings handed over to the spool")
        assert {f"spool:{tmp_path / 'data' / 'spool'}"} == stores(tmp_path)
        status = json.loads((tmp_path / "data" / "run" / "status.json").read_text())
        assert True is status["store"]["primary_down"]
        assert None is daemon.poll()  # still running: no exit, no restart loop
        wait_for(lambda: store_alerts(config) == {"store:away": "raised"}, 30, 0.3,
                 what="an alert that S3 is away")
        (creds / "s3-secret-key").write_text(up.secret_key)
        wait_for(lambda: stores(tmp_path) == {f"s3:{bucket}"}, 60, 0.2,
                 what="the spool drained to S3")
        wait_for(lambda: store_alerts(config) == {"store:away": "resolved"}, 30, 0.3,
                 what="the alert resolved once S3 took the recordings")
    finally:
        daemon.terminate()
        daemon.wait(30)
    assert "OK" in evidock("ledger", "verify", "--config", config).stdout


def test_s3_down_at_start_spools_and_drains_when_it_answers(tmp_path, server, no_secrets,
                                                             monkeypatch):
    up = server if server.proc is not None else server.start()
    bucket = up.make_lock_bucket("offline-down")
    monkeypatch.setenv("EVIDOCK_S3_ACCESS_KEY", up.access_key)
    monkeypatch.setenv("EVIDOCK_S3_SECRET_KEY", up.secret_key)
    config = write_config(tmp_path, up, bucket)
    make_footage(tmp_path / "in", "CAM3", {"a.mp4": 9000})
    up.stop(signal.SIGKILL)
    daemon = start_daemon(tmp_path / "data", tmp_path / "in",
                          extra=("--config", config, "--settle", "0"))
    try:
        wait_for(lambda: [r["state"] for r in rows(tmp_path)] == ["verified"],
                 60, 0.2, what="the recording handed over to the spool")
        assert {f"spool:{tmp_path / 'data' / 'spool'}"} == stores(tmp_path)
        up.start()
        wait_for(lambda: stores(tmp_path) == {f"s3:{bucket}"}, 60, 0.2,
                 what="the spool drained to S3")
        assert None is daemon.poll()
    finally:
        daemon.terminate()
        daemon.wait(30)


def test_a_bucket_found_without_object_lock_stops_uploads_and_keeps_spooling(
        tmp_path, server, no_secrets, monkeypatch):
    """S3 was away at start, so the bucket could not be checked; once it answers, the drainer
    finds no Object Lock, records the refusal and uploads nothing, and the spool still takes
    every recording."""
    from tests.s3_fixture import s3_client_for

    up = server if server.proc is not None else server.start()
    s3_client_for(up).make_bucket("offline-unlocked")
    monkeypatch.setenv("EVIDOCK_S3_ACCESS_KEY", up.access_key)
    monkeypatch.setenv("EVIDOCK_S3_SECRET_KEY", up.secret_key)
    config = write_config(tmp_path, up, "offline-unlocked")
    make_footage(tmp_path / "in", "CAM4", {"a.mp4": 4000})
    up.stop(signal.SIGKILL)
    daemon = start_daemon(tmp_path / "data", tmp_path / "in",
                          extra=("--config", config, "--settle", "0"))
    try:
        wait_for(lambda: [r["state"] for r in rows(tmp_path)] == ["verified"],
                 60, 0.2, what="the recording handed over to the spool")
        up.start()
        wait_for(lambda: "store_refused" in event_kinds(tmp_path), 60, 0.2,
                 what="the refusal of the unlocked bucket")
        make_footage(tmp_path / "in", "CAM4", {"b.mp4": 5000})
        wait_for(lambda: [r["state"] for r in rows(tmp_path)] == ["verified"] * 2,
                 60, 0.2, what="a new recording handed over to the spool")
        assert {f"spool:{tmp_path / 'data' / 'spool'}"} == stores(tmp_path)
        status = json.loads((tmp_path / "data" / "run" / "status.json").read_text())
        assert "no Object Lock" in status["store"]["primary_refused"]
        wait_for(lambda: store_alerts(config).get("store:refused") == "raised", 30, 0.3,
                 what="a critical alert that the bucket is refused")
        assert [] == list(s3_client_for(up).list_objects("offline-unlocked", prefix="media/",
                                                           recursive=True))
        assert None is daemon.poll()
    finally:
        daemon.terminate()
        daemon.wait(30)
