"""The conventions a command-line user expects: --version, python -m evidock, global options
before or after the command, shell completion, a --follow that works into a pipe, and a
report that says which year it defaulted to."""

from __future__ import annotations

import subprocess
import sys
import time
from importlib import metadata

import pytest

from ...daemon_proc import EVIDOCK, evidock
from ..test_service import make_footage


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("conv")
    make_footage(root / "in", "CAM-CONV", {"a.mp4": 1000})
    evidock("run", "--data-dir", str(root / "d"), "--watch", str(root / "in"), "--settle", "0",
            "--until-idle", "--no-derivatives", env={"EVIDOCK_CONFIG": ""})
    return root / "d"


def test_version_and_python_m_evidock(tmp_path):
    want = f"evidock {metadata.version('evidock')}\n"
    assert want == evidock("--version").stdout
    proc = subprocess.run([sys.executable, "-m", "evidock", "--version"], capture_output=True,
                          text=True, cwd=tmp_path, timeout=60)
    assert (0, want) == (proc.returncode, proc.stdout), proc.stderr


@pytest.mark.parametrize("where", ["before", "between", "after"])
def test_global_options_go_before_or_after_the_command(data, where):
    opts = ["--data-dir", str(data)]
    args = {"before": [*opts, "ledger", "list", "--json"],
            "between": ["ledger", *opts, "list", "--json"],
            "after": ["ledger", "list", "--json", *opts]}[where]
    out = evidock(*args, env={"EVIDOCK_CONFIG": ""}).stdout
    assert '"device_serial": "CAM-CONV"' in out


def test_the_option_nearest_the_command_wins(data, tmp_path):
    proc = evidock("--data-dir", str(data), "ledger", "list", "--data-dir", str(tmp_path / "x"),
                   check=False, env={"EVIDOCK_CONFIG": ""})
    assert 4 == proc.returncode
    assert f"no ledger at {tmp_path / 'x'}" in proc.stderr


def test_completion_scripts_are_made_from_the_parser(tmp_path):
    bash = evidock("--config", "/nonexistent", "completion", "bash").stdout  # no config read
    assert "ledger" in bash and "--data-dir" in bash
    script = tmp_path / "evidock.bash"
    script.write_text(bash)
    assert 0 == subprocess.run(["bash", "-n", str(script)]).returncode
    assert "#compdef evidock" in evidock("completion", "zsh").stdout


def test_status_follow_into_a_pipe_prints_a_snapshot_every_second(data):
    proc = subprocess.Popen([*EVIDOCK, "status", "--follow", "--data-dir", str(data)],
                            stdout=subprocess.PIPE, text=True)
    try:
        start, lines = time.monotonic(), []
        while len([x for x in lines if x.startswith("--- ")]) < 2:
            lines.append(proc.stdout.readline())
            assert time.monotonic() - start < 30, lines
        assert any("NOT RUNNING; ledger: 1 verified" in x for x in lines), lines
    finally:
        proc.terminate()
        proc.wait(10)


def test_report_annual_says_its_default_year_is_empty_and_where_data_is(data):
    from datetime import date

    out = evidock("report", "annual", "--data-dir", str(data)).stdout
    last = date.today().year - 1
    assert f"evidock annual report {last}" in out
    assert "(last year: the default; --year YYYY for another)" in out
    assert (f"no recordings in {last} (the default year); the ledger has recordings from "
            f"{date.today().year} on: use --year") in out
