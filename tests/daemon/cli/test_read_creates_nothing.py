"""A command that only reads never creates a ledger, a store or a data directory: a mistyped
``--data-dir`` (or a station that was never run) is an error naming the path, not an empty
station reported as fine, and no root-owned files are left where the service will run."""

from __future__ import annotations

import pytest

from ...daemon_proc import evidock

READS = [
    ("ledger", "verify"),
    ("ledger", "list"),
    ("check", "retention"),
    ("check", "handover"),
    ("status",),
    ("status", "--json"),
    ("doctor",),
    ("alerts", "list"),
    ("devices", "list"),
    ("report", "annual", "--year", "2025"),
]


@pytest.mark.parametrize("command", READS, ids=" ".join)
def test_a_read_command_on_a_mistyped_data_dir_fails_and_creates_nothing(tmp_path, command):
    data = tmp_path / "typo"
    proc = evidock(*command, "--data-dir", str(data), check=False, env={"EVIDOCK_CONFIG": ""})
    assert 0 != proc.returncode, proc.stdout
    assert "no ledger at" in proc.stderr or "no local store at" in proc.stdout + proc.stderr
    assert not data.exists()


def test_doctor_without_data_dir_creates_nothing_where_the_config_points(tmp_path):
    config = tmp_path / "evidock.toml"
    config.write_text(f'[station]\ndata_dir = "{tmp_path / "var-lib-evidock"}"\n')
    proc = evidock("doctor", check=False, env={"EVIDOCK_CONFIG": str(config)})
    assert 1 == proc.returncode
    assert f"no local store at {tmp_path / 'var-lib-evidock' / 'store'}" in proc.stdout
    assert ["evidock.toml"] == [p.name for p in tmp_path.iterdir()]
