"""``[ledger]``: SQLite stays the default; PostgreSQL needs a DSN, and its password comes from
the systemd credential, then the password file, then the environment - never the file."""

from __future__ import annotations

import pytest

from evidock.daemon import config
from evidock.daemon.errors import ConfigError


def load(tmp_path, text: str):
    path = tmp_path / "evidock.toml"
    path.write_text(text)
    return config.load(path)


def test_sqlite_is_the_default_and_the_older_key_backend_still_reads(tmp_path):
    assert "sqlite" == config.Config().ledger.type
    assert "sqlite" == load(tmp_path, '[ledger]\nbackend = "sqlite"\n').ledger.type


def test_postgres_without_a_dsn_is_refused_naming_the_key(tmp_path):
    with pytest.raises(ConfigError, match="ledger.dsn"):
        load(tmp_path, '[ledger]\ntype = "postgres"\n')


def test_the_password_comes_from_the_credential_then_the_file_then_the_environment(
        tmp_path, monkeypatch):
    (tmp_path / "pw").write_text("from-file\n")
    cfg = load(tmp_path, f'[ledger]\ntype = "postgres"\ndsn = "host=db"\n'
                         f'password_file = "{tmp_path / "pw"}"\n').ledger
    monkeypatch.setenv("EVIDOCK_LEDGER_PASSWORD", "from-env")
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
    assert "from-file" == cfg.password()
    creds = tmp_path / "creds"
    creds.mkdir()
    (creds / "ledger-password").write_text("from-credential\n")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(creds))
    assert "from-credential" == cfg.password()
    no_file = load(tmp_path, '[ledger]\ntype = "postgres"\ndsn = "host=db"\n').ledger
    monkeypatch.delenv("CREDENTIALS_DIRECTORY")
    assert "from-env" == no_file.password()


def test_the_password_never_shows_in_the_effective_configuration(tmp_path):
    cfg = load(tmp_path, '[ledger]\ntype = "postgres"\ndsn = "host=db user=x"\n'
                         'password_file = "/etc/evidock/pw"\n')
    doc = config.effective(cfg)
    assert "********" == doc["ledger"]["password_file"]
    assert "path" not in doc["ledger"] or doc["ledger"]["path"] is None
