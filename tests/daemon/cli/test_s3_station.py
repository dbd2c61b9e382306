"""The daemon against a real S3 server with Object Lock: `evidock run` hands recordings over as
one locked version each that matches the ledger; `evidock doctor` and start-up refuse a bucket
that cannot hold evidence."""

from __future__ import annotations

import os
import sqlite3
from datetime import timedelta

import pytest
import structlog

from evidock.daemon.cli.main import main
from evidock.daemon.timeutil import parse

pytestmark = pytest.mark.s3


@pytest.fixture(autouse=True)
def _restore_logging():
    """`evidock run` points structlog at this test's captured stderr; undo that afterwards."""
    yield
    structlog.reset_defaults()


@pytest.fixture
def s3_config(tmp_path, s3_server, monkeypatch):
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
    monkeypatch.setenv("EVIDOCK_S3_ACCESS_KEY", s3_server.access_key)
    monkeypatch.setenv("EVIDOCK_S3_SECRET_KEY", s3_server.secret_key)

    def write(bucket: str, extra: str = "") -> str:
        path = tmp_path / f"{bucket}.toml"
        path.write_text(f'[station]\nid = "st1"\ndata_dir = "{tmp_path / "data"}"\n'
                        f'[store]\ntype = "s3"\nendpoint = "http://{s3_server.endpoint}"\n'
                        f'bucket = "{bucket}"\npart_size_mib = 5\n{extra}')
        return str(path)
    return write


def test_run_hands_over_each_recording_as_one_locked_version(tmp_path, s3_config, s3_server,
                                                            s3_client, capsys):
    bucket = s3_server.make_lock_bucket("station-e2e")
    watch = tmp_path / "watch" / "CAM0001"
    watch.mkdir(parents=True)
    clips = {"a.mp4": os.urandom(12 << 20), "b.wav": os.urandom(3000)}
    for name, data in clips.items():
        (watch / name).write_bytes(data)
    config = s3_config(bucket)
    assert 0 == main(["run", "--config", config, "--watch", str(watch.parent), "--settle", "0",
                      "--until-idle"])
    db = sqlite3.connect(tmp_path / "data" / "ledger.sqlite3")
    rows = db.execute("SELECT state, store, object_key, sha256, retain_until FROM media").fetchall()
    assert 2 == len(rows)
    for state, store, key, sha256, retain_until in rows:
        assert ("verified", f"s3:{bucket}") == (state, store)
        (version,) = [o for o in s3_client.list_objects(bucket, prefix=key, include_version=True)]
        head = s3_client.stat_object(bucket, key, version_id=version.version_id).metadata
        assert ("COMPLIANCE", sha256) == (head["x-amz-object-lock-mode"],
                                          head["x-amz-meta-evidock-sha256"])
        held = parse(head["x-amz-object-lock-retain-until-date"])
        assert abs(held - parse(retain_until)) < timedelta(seconds=2)
        assert held > parse("2026-01-01T00:00:00Z") + timedelta(days=729)
    assert 0 == main(["ledger", "verify", "--config", config])


def test_the_daemon_refuses_a_bucket_without_object_lock(tmp_path, s3_config, s3_client,
                                                         capsys):
    s3_client.make_bucket("station-unlocked")
    assert 0 != main(["run", "--config", s3_config("station-unlocked"), "--watch",
                      str(tmp_path), "--until-idle"])
    assert "has no Object Lock" in capsys.readouterr().err


def test_doctor_reports_credentials_that_can_delete_and_exits_non_zero(s3_config, s3_server,
                                                                       capsys):
    bucket = s3_server.make_lock_bucket("station-doctor", default_days=1)
    assert 1 == main(["doctor", "--config", s3_config(bucket)])
    out = capsys.readouterr().out
    assert "the credentials can delete" in out and "policy needs at least 730" in out
    assert "NOT fit for evidence" in out


def test_doctor_without_writing_reads_the_set_up_only(s3_config, s3_server, capsys):
    bucket = s3_server.make_lock_bucket("station-doctor-ro", default_days=800)
    assert 0 == main(["doctor", "--no-write", "--config", s3_config(bucket)])
    assert "fit for evidence" in capsys.readouterr().out
