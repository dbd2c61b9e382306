"""Bad input ends in a clear error with the documented exit code, never a traceback: case
files with impossible dates or huge cells, a configuration that is not UTF-8, and references
to recordings that are neither an id nor a hash."""

from __future__ import annotations

import pytest

from ...daemon_proc import evidock
from ..test_service import make_footage

HEADER = "case_id,type,officers,subject,start,end,status,closed_at,sensitivity\n"
ENV = {"EVIDOCK_CONFIG": ""}


def no_traceback(proc) -> None:
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]


@pytest.mark.parametrize("start, says", [
    ("0001-01-01T00:00:00+08:00", "is out of range (years 1970 to 2999)"),
    ("9999-12-31T23:00:00-08:00", "is out of range (years 1970 to 2999)"),
    ("9999-12-31T23:00:00", "is out of range (years 1970 to 2999)"),
])
def test_case_dates_out_of_range_are_a_bad_row(tmp_path, start, says):
    path = tmp_path / "cases.csv"
    path.write_text(HEADER + f"C-1,seizure,110001,,{start},9999-12-31T23:59:00Z,open,,normal\n")
    proc = evidock("cases", "import", str(path), "--data-dir", str(tmp_path / "d"),
                   check=False, env=ENV)
    no_traceback(proc)
    assert 6 == proc.returncode
    assert f"{path}:line 2: case C-1: start {start!r} {says}" in proc.stderr
    assert not (tmp_path / "d").exists()  # a file refused creates no ledger either


def test_a_case_cell_over_128_kib_is_a_bad_row(tmp_path):
    path = tmp_path / "cases.csv"
    path.write_text(HEADER + "C-1,seizure,110001," + "x" * (129 * 1024)
                    + ",2026-03-01T09:00Z,2026-03-01T10:00Z,open,,normal\n")
    proc = evidock("cases", "import", str(path), "--data-dir", str(tmp_path / "d"),
                   check=False, env=ENV)
    no_traceback(proc)
    assert 6 == proc.returncode
    assert f"{path}:line 2: not readable as CSV" in proc.stderr
    assert "a cell may hold at most 128 KiB" in proc.stderr


def test_a_config_file_that_is_not_utf8_exits_2(tmp_path):
    config = tmp_path / "evidock.toml"
    config.write_bytes('[station]\ncustodian = "张三"\n'.encode("gb18030"))
    proc = evidock("config", "check", "--config", str(config), check=False)
    no_traceback(proc)
    assert 2 == proc.returncode
    assert f"config file {config}: not UTF-8 text" in proc.stderr


@pytest.fixture(scope="module")
def station(tmp_path_factory):
    root = tmp_path_factory.mktemp("refs")
    make_footage(root / "in", "CAM-REF", {"a.mp4": 1000})
    evidock("run", "--data-dir", str(root / "d"), "--watch", str(root / "in"), "--settle", "0",
            "--until-idle", "--no-derivatives", env=ENV)
    return root / "d"


@pytest.mark.parametrize("ref", ["\u00b2", "\u0661", "a" * 100_000, "1" * 65])
def test_ledger_show_refuses_what_is_neither_id_nor_hash(station, ref):
    proc = evidock("ledger", "show", ref, "--data-dir", str(station), check=False, env=ENV)
    no_traceback(proc)
    assert 4 == proc.returncode
    assert "id" not in proc.stdout  # nothing shown: '١' is not recording 1
    assert len(proc.stderr) < 1000


def test_cases_link_refuses_a_superscript_digit(station):
    proc = evidock("cases", "link", "C-9", "\u00b2", "--note", "n", "--by", "li",
                   "--data-dir", str(station), check=False, env=ENV)
    no_traceback(proc)
    assert 4 == proc.returncode
    assert "neither a recording id nor a hash" in proc.stderr


def test_a_hash_prefix_or_id_n_finds_its_recording(station):
    import json

    row = json.loads(evidock("ledger", "list", "--json", "--data-dir", str(station),
                             env=ENV).stdout.splitlines()[0])
    for digest in (row["blake3"], row["sha256"]):
        shown = evidock("ledger", "show", digest[:12], "--json", "--data-dir", str(station),
                        env=ENV)
        assert row["id"] == json.loads(shown.stdout)["id"]
    shown = evidock("ledger", "show", f"id:{row['id']}", "--json", "--data-dir", str(station),
                    env=ENV)
    assert row["id"] == json.loads(shown.stdout)["id"]
