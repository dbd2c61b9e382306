"""On an S3 station the anchors are COMPLIANCE-locked objects in the bucket: a rolled-back
ledger is named by ``ledger verify``, a deleted one is rebuilt from the bucket, and the
inventory names an object the ledger lost.  The real S3 server with Object Lock."""

from __future__ import annotations

import os
import shutil

import pytest

from ...daemon_proc import evidock, ledger_rows
from ..test_service import make_footage

pytestmark = [pytest.mark.s3, pytest.mark.slow]
KEEP = ("id", "sha256", "blake3", "state", "store", "object_key", "source_path")


@pytest.fixture
def station(tmp_path, s3_server, monkeypatch):
    bucket = s3_server.make_lock_bucket(f"anchor-{os.urandom(3).hex()}")
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
    monkeypatch.setenv("EVIDOCK_S3_ACCESS_KEY", s3_server.access_key)
    monkeypatch.setenv("EVIDOCK_S3_SECRET_KEY", s3_server.secret_key)
    config = tmp_path / "evidock.toml"
    config.write_text(f'[station]\nid = "st-s3"\ndata_dir = "{tmp_path / "data"}"\n'
                      f'[usb]\nenabled = false\n'
                      f'[store]\ntype = "s3"\nendpoint = "http://{s3_server.endpoint}"\n'
                      f'bucket = "{bucket}"\npart_size_mib = 5\n')
    monkeypatch.setenv("EVIDOCK_CONFIG", str(config))
    return tmp_path / "data", bucket


def run_once(tmp_path, files):
    make_footage(tmp_path / "in", "CAM1", files)
    evidock("run", "--watch", str(tmp_path / "in"), "--settle", "0.1", "--until-idle",
            timeout=300)


def test_s3_anchors_are_locked_and_catch_a_rollback(tmp_path, station, s3_client):
    data, bucket = station
    run_once(tmp_path, {"a.mp4": 3000})
    shutil.copy(data / "ledger.sqlite3", tmp_path / "old.sqlite3")
    run_once(tmp_path, {"b.mp4": 7 << 20})  # multipart
    [first, second] = sorted(o.object_name for o in s3_client.list_objects(
        bucket, prefix="ledger/st-s3/", recursive=True))
    head = s3_client.stat_object(bucket, second).metadata
    assert "COMPLIANCE" == head["x-amz-object-lock-mode"]
    assert "agrees with the store's anchors: 2 anchor(s)" in evidock("ledger", "verify").stdout

    shutil.copy(tmp_path / "old.sqlite3", data / "ledger.sqlite3")
    proc = evidock("ledger", "verify", check=False)
    assert 5 == proc.returncode
    assert "the whole database is an older copy" in proc.stderr
    assert second in proc.stderr

    inventory = evidock("check", "inventory", check=False)
    assert 1 == inventory.returncode  # an open alert
    assert "no ledger row accounts for" in inventory.stdout
    assert "device CAM1, file b.mp4" in inventory.stdout


def test_a_deleted_s3_ledger_is_rebuilt_from_the_bucket(tmp_path, station):
    data, _ = station
    run_once(tmp_path, {"a.mp4": 3000, "b.mp4": 6 << 20})
    before = [{k: r[k] for k in KEEP} for r in ledger_rows(data)]
    for name in os.listdir(data):
        if name.startswith("ledger.sqlite3"):
            (data / name).unlink()
    proc = evidock("ledger", "verify", check=False)
    assert 5 == proc.returncode and "there is no ledger at" in proc.stderr
    evidock("ledger", "rebuild", "--into", str(data / "ledger.sqlite3"))
    assert before == [{k: r[k] for k in KEEP} for r in ledger_rows(data)]
    assert 0 == evidock("ledger", "verify").returncode
    assert 0 == evidock("check", "inventory").returncode
