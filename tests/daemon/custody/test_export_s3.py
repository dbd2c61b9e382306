"""An export from the real S3 store (SeaweedFS with Object Lock on loopback): the original is
streamed into the bag bit-exact, without the whole object in memory and without a second
copy anywhere on the station."""

from __future__ import annotations

import os
import tracemalloc

import bagit
import pytest
import structlog

from evidock.daemon.cli.main import main

pytestmark = [pytest.mark.s3, pytest.mark.slow]
MIB = 1 << 20


def _main(*argv) -> int:
    try:
        return main(list(argv))
    finally:
        structlog.reset_defaults()


def _size(folder) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def test_an_s3_recording_is_streamed_into_the_bag(tmp_path, s3_server, monkeypatch, capsys):
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
    monkeypatch.setenv("EVIDOCK_S3_ACCESS_KEY", s3_server.access_key)
    monkeypatch.setenv("EVIDOCK_S3_SECRET_KEY", s3_server.secret_key)
    bucket = s3_server.make_lock_bucket("custody-export")
    conf = tmp_path / "e.toml"
    conf.write_text(f'[station]\nid = "st-x"\ndata_dir = "{tmp_path / "data"}"\n'
                    f'[store]\ntype = "s3"\nendpoint = "http://{s3_server.endpoint}"\n'
                    f'bucket = "{bucket}"\npart_size_mib = 5\n[alerts]\nlog = false\n')
    monkeypatch.setenv("EVIDOCK_CONFIG", str(conf))
    watch = tmp_path / "watch" / "CAM1"
    watch.mkdir(parents=True)
    clip = os.urandom(48 * MIB)
    (watch / "big.mp4").write_bytes(clip)
    assert 0 == _main("run", "--watch", str(watch.parent), "--settle", "0", "--until-idle",
                      "--no-derivatives")
    for badge, role in (("A0", "admin"), ("AR1", "archivist"), ("AP1", "approver")):
        assert 0 == _main("people", "add", badge, "--name", badge, "--role", role,
                          *([] if badge == "A0" else ["--by", "A0"]))
    (tmp_path / "c.csv").write_text(
        "case_id,type,officers,subject,start,end,status,closed_at,sensitivity\n"
        "C-9,seizure,1,x,2026-01-01T00:00Z,2026-01-01T02:00Z,open,,normal\n")
    assert 0 == _main("cases", "import", str(tmp_path / "c.csv"), "--by", "A0")
    assert 0 == _main("cases", "link", "C-9", "1", "--note", "n", "--by", "AR1")
    assert 0 == _main("access", "request", "C-9", "--by", "AR1", "--purpose", "court")
    assert 0 == _main("access", "approve", "1", "--by", "AP1")
    capsys.readouterr()

    before = _size(tmp_path / "data")
    bag = tmp_path / "bag"
    tracemalloc.start()
    try:
        assert 0 == _main("export", "C-9", "--request", "1", "--to", str(bag), "--as", "AR1")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 16 * MIB, f"export held {peak / MIB:.1f} MiB at its peak"
    assert _size(tmp_path / "data") - before < MIB  # the ledger's new entries, no copy
    [original] = (bag / "data" / "originals").iterdir()
    assert clip == original.read_bytes()
    bagit.Bag(str(bag)).validate()
    assert 0 == _main("export", "verify", str(bag))
