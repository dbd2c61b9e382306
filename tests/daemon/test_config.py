"""Configuration: strict, documented, and every error names the key and the file."""

from __future__ import annotations

from pathlib import Path

import pytest

from evidock.daemon import config
from evidock.daemon.errors import ConfigError

EXAMPLE = Path(__file__).resolve().parents[2] / "config" / "evidock.toml"


def write(tmp_path, text: str) -> Path:
    path = tmp_path / "evidock.toml"
    path.write_text(text)
    return path


def test_embedded_defaults_need_no_file(monkeypatch):
    monkeypatch.delenv("EVIDOCK_CONFIG", raising=False)
    monkeypatch.setattr(config, "SYSTEM_CONFIG", Path("/nonexistent/evidock.toml"))
    cfg = config.load(None)
    assert ("embedded defaults", "local", 730) == (cfg.source, cfg.store.type,
                                                   cfg.policy.retention_days)
    assert cfg.data_dir / "ledger.sqlite3" == cfg.ledger_path


def test_explicit_path_wins_over_environment(tmp_path, monkeypatch):
    env_file = write(tmp_path, '[station]\nid = "from-env"\n')
    other = tmp_path / "other.toml"
    other.write_text('[station]\nid = "from-flag"\n')
    monkeypatch.setenv("EVIDOCK_CONFIG", str(env_file))
    assert "from-flag" == config.load(other).station.id
    assert "from-env" == config.load(None).station.id


def test_unknown_key_is_named_with_the_file(tmp_path):
    path = write(tmp_path, "[ingest]\nworkerz = 3\n")
    with pytest.raises(ConfigError) as exc:
        config.load(path)
    assert "ingest.workerz: unknown key" in exc.value.message
    assert str(path) in exc.value.message
    assert 2 == exc.value.exit_code


def test_bad_value_names_key_and_value(tmp_path):
    path = write(tmp_path, "[ingest]\nworkers = 0\n")
    with pytest.raises(ConfigError) as exc:
        config.load(path)
    assert "ingest.workers = 0" in exc.value.message


def test_retention_floor_of_two_years_is_enforced(tmp_path):
    with pytest.raises(ConfigError) as exc:
        config.load(write(tmp_path, "[policy]\nretention_days = 365\n"))
    assert "policy.retention_days = 365" in exc.value.message


def test_handover_window_cannot_exceed_24_hours(tmp_path):
    with pytest.raises(ConfigError) as exc:
        config.load(write(tmp_path, "[policy]\nhandover_hours = 48\n"))
    assert "policy.handover_hours = 48" in exc.value.message


def test_invalid_toml_names_the_file_and_line(tmp_path):
    path = write(tmp_path, "[station\nid = 1\n")
    with pytest.raises(ConfigError) as exc:
        config.load(path)
    assert str(path) in exc.value.message and "line 1" in exc.value.message


def test_missing_explicit_file_is_an_error(tmp_path):
    with pytest.raises(ConfigError):
        config.load(tmp_path / "absent.toml")


def test_overrides_from_the_command_line_apply(tmp_path):
    cfg = config.load(write(tmp_path, ""), overrides={"station.data_dir": str(tmp_path / "d")})
    assert tmp_path / "d" / "store" == cfg.store_path


def test_the_documented_example_is_valid():
    cfg = config.load(EXAMPLE)
    assert "local" == cfg.store.type


def test_effective_configuration_masks_secrets():
    doc = config._mask({"store": {"secret_key": "hunter2", "access_key": "AK", "port": 1}})
    assert {"store": {"secret_key": "********", "access_key": "AK", "port": 1}} == doc
