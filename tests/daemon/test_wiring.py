"""The composition root builds only what a command needs: a command that reads opens the ledger
and nothing else, never creates a ledger, and on an S3 station needs neither the S3 secrets nor
the S3 server."""

from __future__ import annotations

import json

import pytest

from evidock.daemon.config import Config
from evidock.daemon.errors import ExitCode, LedgerMissing
from evidock.daemon.wiring import Wiring

from ..daemon_proc import evidock

READS = [("ledger", "list"), ("ledger", "verify"), ("ledger", "show", "1"), ("alerts", "list"),
         ("cases", "list"), ("cases", "show", "C1"), ("exemptions", "list"),
         ("devices", "list"), ("report", "annual"), ("status",), ("check", "handover")]


@pytest.mark.parametrize("command", READS, ids=" ".join)
def test_a_read_command_on_a_mistyped_data_dir_says_there_is_no_ledger(tmp_path, command):
    nowhere = tmp_path / "typo"
    proc = evidock(*command, "--data-dir", str(nowhere), check=False)
    assert ExitCode.NOT_FOUND == proc.returncode, proc.stderr
    assert f"no ledger at {nowhere / 'ledger.sqlite3'}" in proc.stderr
    assert "check --data-dir" in proc.stderr
    assert not nowhere.exists()  # nothing created, no empty ledger to report as OK


def test_registering_a_device_on_a_new_station_creates_its_ledger(tmp_path):
    evidock("devices", "assign", "CAM1", "--officer", "110001", "--data-dir", str(tmp_path))
    assert (tmp_path / "ledger.sqlite3").is_file()


def s3_config(tmp_path) -> Config:
    return Config.model_validate({
        "station": {"id": "st", "data_dir": str(tmp_path)},
        "store": {"type": "s3", "endpoint": "http://127.0.0.1:9", "bucket": "evidence"}})


def test_cases_show_builds_the_compliance_objects_without_the_store(tmp_path, monkeypatch):
    monkeypatch.delenv("EVIDOCK_S3_ACCESS_KEY", raising=False)
    Wiring(s3_config(tmp_path), ledger_may_be_new=True).ledger.close()
    wiring = Wiring(s3_config(tmp_path))
    wiring.compliance.cases.cases()
    wiring.compliance.alerts.list()
    assert set() == {"store", "primary", "s3_client"} & set(wiring.__dict__)


def test_the_ledger_of_a_read_command_must_exist(tmp_path):
    with pytest.raises(LedgerMissing, match="no ledger at"):
        Wiring(s3_config(tmp_path)).ledger  # noqa: B018
    assert [] == list(tmp_path.iterdir())


def test_config_check_on_an_s3_station_needs_no_secrets(tmp_path, monkeypatch):
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
    monkeypatch.delenv("EVIDOCK_S3_ACCESS_KEY", raising=False)
    monkeypatch.delenv("EVIDOCK_S3_SECRET_KEY", raising=False)
    config = tmp_path / "evidock.toml"
    config.write_text('[store]\ntype = "s3"\nendpoint = "http://127.0.0.1:9"\n'
                      'bucket = "evidence"\n')
    doc = json.loads(evidock("config", "check", "--json", "--config", str(config)).stdout)
    assert "s3" == doc["store"]["type"]
