"""A station with three recordings handed over by ``evidock run``, people registered, two
cases (one normal, one state secret) with footage linked: copied fresh for each test."""

from __future__ import annotations

import json
import os
import shutil

import pytest
import structlog

from evidock.daemon.cli.main import main

CSV = ("case_id,type,officers,subject,start,end,status,closed_at,sensitivity\n"
       "C-1,seizure,110001,Shop A,2026-01-01T00:00Z,2026-01-01T02:00Z,open,,normal\n"
       "C-2,hearing,110009,,2026-01-02T00:00Z,2026-01-02T01:00Z,open,,secret\n")

PEOPLE = [  # badge, name, role, login
    ("A0", "Admin Liu", "admin", None),
    ("O1", "Officer Zhang", "officer", None),
    ("AR1", "Archivist Wang", "archivist", None),
    ("AP1", "Head Chen", "approver", None),
    ("AP2", "Deputy Zhao", "approver", None),
    ("AU1", "Auditor Sun", "auditor", None),
]


def write_config(folder, tsa=None) -> os.PathLike:
    conf = folder / "evidock.toml"
    text = (f'[station]\nid = "st-cust"\ndata_dir = "{folder / "data"}"\n'
            '[alerts]\nlog = false\n')
    if tsa is not None:
        text += (f'[timestamps]\ntsa_url = "{tsa.url}"\ntsa_certificate = '
                 f'"{tsa.folder / "tsa.pem"}"\ntsa_ca = "{tsa.ca_pem}"\ntimeout_seconds = 3\n')
    conf.write_text(text)
    return conf


def _call(*argv) -> int:
    try:
        return main(list(argv))
    finally:
        structlog.reset_defaults()


@pytest.fixture(scope="session")
def custody_template(tmp_path_factory):
    folder = tmp_path_factory.mktemp("custody")
    watch = folder / "watch" / "DSJ-001"
    watch.mkdir(parents=True)
    for n in range(3):
        (watch / f"REC{n}.MP4").write_bytes(f"recording {n} ".encode() * 5000)
    old = os.environ.get("EVIDOCK_CONFIG")
    os.environ["EVIDOCK_CONFIG"] = str(write_config(folder))
    try:
        assert 0 == _call("run", "--watch", str(folder / "watch"), "--settle", "0.05",
                          "--until-idle", "--no-derivatives")
        admin = PEOPLE[0]
        for badge, name, role, _ in PEOPLE:
            assert 0 == _call("people", "add", badge, "--name", name, "--role", role,
                              "--unit", "Unit 1", *(["--by", admin[0]] if badge != "A0"
                                                    else []))
        (folder / "cases.csv").write_text(CSV)
        assert 0 == _call("cases", "import", str(folder / "cases.csv"), "--by", "A0")
        assert 0 == _call("cases", "link", "C-1", "1", "2", "--note", "the seizure",
                          "--by", "AR1")
        assert 0 == _call("cases", "link", "C-2", "3", "--note", "the hearing", "--by", "AP1")
    finally:
        os.environ.pop("EVIDOCK_CONFIG") if old is None else os.environ.update(
            EVIDOCK_CONFIG=old)
    shutil.move(folder / "data", folder / "template")
    return folder


@pytest.fixture
def station(custody_template, tmp_path, monkeypatch, capsys):
    """``station(*argv)`` runs a command: (exit code, stdout, stderr).  ``station.use_tsa``
    points the configuration at a running authority."""
    folder = custody_template
    shutil.rmtree(folder / "data", ignore_errors=True)
    shutil.copytree(folder / "template", folder / "data")
    monkeypatch.setenv("EVIDOCK_CONFIG", str(write_config(folder)))
    capsys.readouterr()

    def run(*argv):
        code = _call(*argv)
        out = capsys.readouterr()
        return code, out.out, out.err

    def use_tsa(tsa):
        write_config(folder, tsa)

    def json_out(*argv):
        code, out, err = run(*argv, "--json")
        assert 0 == code, err
        return [json.loads(line) for line in out.splitlines()]

    run.tmp, run.folder, run.use_tsa, run.json = tmp_path, folder, use_tsa, json_out
    yield run
    write_config(folder)
