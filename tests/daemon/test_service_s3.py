"""The daemon process against the real S3 server: SIGKILL in the middle of a multipart upload,
restart, and the recording ends up as exactly one locked version that matches the ledger."""

from __future__ import annotations

import hashlib
import json
import signal

import pytest

from ..daemon_proc import evidock, ledger_rows, start_daemon, wait_for
from .test_service import make_footage

pytestmark = [pytest.mark.s3, pytest.mark.slow]


@pytest.fixture
def station(tmp_path, s3_server, monkeypatch):
    bucket = s3_server.make_lock_bucket("kill9")
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
    monkeypatch.setenv("EVIDOCK_S3_ACCESS_KEY", s3_server.access_key)
    monkeypatch.setenv("EVIDOCK_S3_SECRET_KEY", s3_server.secret_key)
    config = tmp_path / "evidock.toml"
    config.write_text(f'[station]\nid = "st-kill"\ndata_dir = "{tmp_path / "data"}"\n'
                      f'[store]\ntype = "s3"\nendpoint = "http://{s3_server.endpoint}"\n'
                      f'bucket = "{bucket}"\npart_size_mib = 5\n')
    return config, bucket


def test_kill_9_during_a_multipart_upload_loses_nothing_and_stores_one_version(
        tmp_path, station, s3_client):
    config, bucket = station
    want = make_footage(tmp_path / "in", "CAM5", {"DCIM/big.mp4": 160 << 20,
                                                  "DCIM/small.mp4": 1 << 20})
    data = tmp_path / "data"
    daemon = start_daemon(data, tmp_path / "in",
                          extra=("--config", str(config), "--settle", "0.2"))

    def uploading_big():
        try:
            status = json.loads((data / "run" / "status.json").read_text())
        except (FileNotFoundError, ValueError):
            return False
        return any(d["bytes_done"] > (40 << 20) and d["current"] for d in status["devices"])

    wait_for(uploading_big, 120, 0.02, what="the big recording to be half uploaded")
    daemon.send_signal(signal.SIGKILL)
    daemon.wait(10)
    assert "verified" != next(r["state"] for r in ledger_rows(data)
                              if r["source_path"] == "DCIM/big.mp4")

    proc = evidock("run", "--config", str(config), "--watch", str(tmp_path / "in"), "--settle",
                   "0.2", "--until-idle", timeout=600)
    assert 0 == proc.returncode, proc.stderr
    rows = ledger_rows(data)
    assert want == {r["source_path"]: r["sha256"] for r in rows}
    assert {("verified", f"s3:{bucket}")} == {(r["state"], r["store"]) for r in rows}
    for row in rows:
        versions = list(s3_client.list_objects(bucket, prefix=row["object_key"],
                                               include_version=True))
        assert 1 == len(versions), row["object_key"]
        head = s3_client.stat_object(bucket, row["object_key"], version_id=versions[0].version_id)
        assert "COMPLIANCE" == head.metadata["x-amz-object-lock-mode"]
        body = s3_client.get_object(bucket, row["object_key"])
        try:
            digest = hashlib.sha256()
            for chunk in body.stream(8 << 20):
                digest.update(chunk)
        finally:
            body.close()
            body.release_conn()
        assert row["sha256"] == digest.hexdigest()
    assert "OK" in evidock("ledger", "verify", "--config", str(config)).stdout
