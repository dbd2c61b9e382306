"""The [store] type = "s3" section: strict, documented; secrets read when S3 is used, not shown."""

from __future__ import annotations

import json

import pytest

from evidock.daemon import config as config_mod
from evidock.daemon.errors import ConfigError

S3 = '[store]\ntype = "s3"\nendpoint = "{endpoint}"\nbucket = "evidence"\n{extra}'


def write(tmp_path, endpoint="https://s3.example.org", extra=""):
    path = tmp_path / "evidock.toml"
    path.write_text(S3.format(endpoint=endpoint, extra=extra))
    return path


@pytest.fixture
def env_keys(monkeypatch):
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
    monkeypatch.setenv("EVIDOCK_S3_ACCESS_KEY", "AKIDEXAMPLE")
    monkeypatch.setenv("EVIDOCK_S3_SECRET_KEY", "very-secret-value")


def test_credentials_come_from_the_environment(tmp_path, env_keys):
    cfg = config_mod.load(write(tmp_path))
    assert ("AKIDEXAMPLE", "very-secret-value") == cfg.store.credentials()


def test_systemd_credentials_win_over_the_environment(tmp_path, env_keys, monkeypatch):
    creds = tmp_path / "creds"
    creds.mkdir()
    (creds / "s3-access-key").write_text("AKIDSYSTEMD\n")
    (creds / "s3-secret-key").write_text("systemd-secret\n")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(creds))
    cfg = config_mod.load(write(tmp_path))
    assert ("AKIDSYSTEMD", "systemd-secret") == cfg.store.credentials()


def test_missing_credentials_are_no_config_error_but_say_where_to_put_them(tmp_path,
                                                                          monkeypatch):
    """Secrets are read when S3 is talked to: a station whose secrets a command cannot see
    still has a valid configuration (``ledger list`` works), and S3 says what is missing."""
    from evidock.daemon.errors import StoreMisconfigured

    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
    monkeypatch.delenv("EVIDOCK_S3_ACCESS_KEY", raising=False)
    monkeypatch.delenv("EVIDOCK_S3_SECRET_KEY", raising=False)
    cfg = config_mod.load(write(tmp_path))
    with pytest.raises(StoreMisconfigured, match="S3 credentials not found") as caught:
        cfg.store.credentials()
    assert "LoadCredential=s3-access-key" in caught.value.hint


def test_secrets_never_appear_in_the_effective_configuration(tmp_path, env_keys):
    shown = json.dumps(config_mod.effective(config_mod.load(write(tmp_path))))
    assert "very-secret-value" not in shown and "AKIDEXAMPLE" not in shown


def test_the_endpoint_scheme_decides_tls(tmp_path, env_keys):
    assert ("127.0.0.1:9000", False) == config_mod.load(
        write(tmp_path, "http://127.0.0.1:9000")).store.host_and_tls()
    assert ("s3.example.org", True) == config_mod.load(write(tmp_path)).store.host_and_tls()


@pytest.mark.parametrize("extra,key", [
    ("part_size_mib = 2\n", "store.s3.part_size_mib"),
    ("colour = 1\n", "store.s3.colour"),
    ("[store.spool]\nwarn_fraction = 2\n", "store.s3.spool.warn_fraction"),
])
def test_bad_values_name_their_key(tmp_path, env_keys, extra, key):
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        config_mod.load(write(tmp_path, extra=extra))
