"""The compliance commands end to end: a real data directory, real files handed over by
``evidock run``, then cases, links, checks and alerts from the command line."""

from __future__ import annotations

import json
import os
import shutil

import pytest

from evidock.daemon.cli.main import main


def write_config(folder):
    conf = folder / "evidock.toml"
    conf.write_text(f'[station]\nid = "st-cli"\ndata_dir = "{folder / "data"}"\n'
                    '[alerts]\nlog = false\n')
    return conf


@pytest.fixture(scope="module")
def handed_over(tmp_path_factory):
    """Two recordings handed over by 'evidock run', once for the module; each test gets a
    fresh copy at the same place (the local store's name is its path)."""
    folder = tmp_path_factory.mktemp("station")
    watch = folder / "watch" / "DSJ-001"
    watch.mkdir(parents=True)
    for n in range(2):
        (watch / f"REC{n}.MP4").write_bytes(f"recording {n}".encode() * 500)
    old = os.environ.get("EVIDOCK_CONFIG")
    os.environ["EVIDOCK_CONFIG"] = str(write_config(folder))
    try:
        assert 0 == main(["run", "--watch", str(folder / "watch"), "--settle", "0.05",
                          "--until-idle"])
    finally:
        os.environ.pop("EVIDOCK_CONFIG") if old is None else os.environ.update(
            EVIDOCK_CONFIG=old)
    shutil.move(folder / "data", folder / "template")
    return folder


@pytest.fixture
def station(tmp_path, monkeypatch, capsys, handed_over):
    shutil.rmtree(handed_over / "data", ignore_errors=True)
    shutil.copytree(handed_over / "template", handed_over / "data")
    monkeypatch.setenv("EVIDOCK_CONFIG", str(write_config(handed_over)))
    capsys.readouterr()

    def run(*argv):
        code = main(list(argv))
        out = capsys.readouterr()
        return code, out.out, out.err

    run.tmp = tmp_path
    run.config = handed_over / "evidock.toml"
    return run


CSV = ("case_id,type,officers,subject,start,end,status,closed_at,sensitivity\n"
       "C-1,seizure,110001,Shop A,2026-01-01T00:00Z,2026-01-01T02:00Z,open,,normal\n"
       "C-2,hearing,110009,,2026-01-02T00:00Z,2026-01-02T01:00Z,closed,2026-01-03T00:00Z,"
       "normal\n")


def test_import_link_show_and_unlink_from_the_command_line(station):
    cases = station.tmp / "cases.csv"
    cases.write_text(CSV)
    code, out, _ = station("cases", "import", str(cases), "--by", "archivist")
    assert (0, True) == (code, "2 added" in out)
    code, out, _ = station("cases", "link", "C-1", "1", "--note", "the seizure", "--by", "Li")
    assert 0 == code, out
    code, out, _ = station("cases", "show", "C-1", "--json")
    doc = json.loads(out)
    assert [(1, "evidence", "the seizure", "Li")] == [
        (lk["media_id"], lk["kind"], lk["note"], lk["linked_by"]) for lk in doc["links"]]
    assert doc["links"][0]["hold_placed_at"]
    code, out, _ = station("cases", "unlink", "C-1", "1", "--by", "Wang", "--reason", "dup")
    assert 0 == code and "stays under legal hold" in out
    code, out, _ = station("ledger", "verify")
    assert 0 == code, out


def test_a_bad_case_file_names_the_line_and_exits_non_zero(station):
    cases = station.tmp / "cases.csv"
    cases.write_text(CSV + "C-3,seizure,110001,,later,never,open,,normal\n")
    code, _, err = station("cases", "import", str(cases))
    assert 6 == code
    assert "cases.csv:line 4: case C-3" in err
    assert "" == station("cases", "list", "--json")[1]


def test_check_raises_an_alert_that_list_shows_and_ack_acknowledges(station):
    cases = station.tmp / "cases.csv"
    cases.write_text(CSV)
    station("cases", "import", str(cases))
    code, out, _ = station("check", "archive")
    assert 1 == code and "R10" in out
    code, out, _ = station("alerts", "list", "--json")
    alerts = {a["subject"]: a for a in map(json.loads, out.splitlines())}
    alert = alerts["case:C-2"]  # a closed hearing without footage
    assert ("R10", "critical", "raised") == (alert["rule"], alert["severity"], alert["state"])
    code, out, _ = station("alerts", "ack", str(alert["id"]), "--by", "Li")
    assert 0 == code
    alerts = {a["subject"]: a for a in map(json.loads,
                                           station("alerts", "list", "--json")[1].splitlines())}
    assert ("acknowledged", "Li") == (alerts["case:C-2"]["state"],
                                      alerts["case:C-2"]["acknowledged_by"])


@pytest.mark.parametrize("name", ["handover", "retention", "fixity"])
def test_each_check_runs_once_and_exits_zero_when_all_is_well(station, name):
    code, out, _ = station("check", name, "--json")
    assert 0 == code
    assert json.loads(out)["ok"]


def test_exemptions_are_added_and_listed(station):
    code, out, _ = station("exemptions", "add", "--officer", "110001", "--from",
                           "2026-01-01T00:00Z", "--until", "2026-01-03T00:00Z", "--reason",
                           "remote_area", "--by", "Zhao")
    assert 0 == code, out
    rows = [json.loads(x) for x in station("exemptions", "list", "--json")[1].splitlines()]
    assert [("110001", "remote_area", "Zhao")] == [
        (r["officer_id"], r["reason"], r["registered_by"]) for r in rows]


def test_exemption_times_without_offset_are_in_the_configured_zone(station):
    conf = station.config
    conf.write_text(conf.read_text() + '[cases]\ntime_zone = "Asia/Shanghai"\n')
    code, out, err = station("exemptions", "add", "--device", "DSJ-001", "--from",
                             "2026-01-01T08:00", "--until", "2026-01-02T08:00", "--reason",
                             "continuous_duty", "--by", "Zhao")
    assert 0 == code, err
    [row] = [json.loads(x) for x in station("exemptions", "list", "--json")[1].splitlines()]
    assert ("2026-01-01T00:00:00.000000Z", "DSJ-001") == (row["start_at"], row["device_serial"])
    code, _, err = station("exemptions", "add", "--device", "D", "--from", "soon", "--until",
                           "later", "--reason", "remote_area", "--by", "Z")
    assert 1 == code and "not an ISO 8601 time" in err
