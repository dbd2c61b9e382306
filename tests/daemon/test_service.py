"""``evidock run`` as a real subprocess: hand over, crash, restart, stop, notify systemd."""

from __future__ import annotations

import hashlib
import os
import signal
import socket
import subprocess

import pytest

from ..daemon_proc import evidock, ledger_rows, start_daemon, wait_for


def make_footage(folder, serial, files: dict[str, int]) -> dict[str, str]:
    """Random recordings of the given sizes; returns relpath -> sha256."""
    digests = {}
    for rel, size in files.items():
        path = folder / serial / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        sha = hashlib.sha256()
        with open(path, "wb") as fh:
            left = size
            while left:
                chunk = os.urandom(min(left, 8 << 20))
                fh.write(chunk)
                sha.update(chunk)
                left -= len(chunk)
        digests[rel] = sha.hexdigest()
    return digests


def store_objects(data_dir):
    media = data_dir / "store" / "media"
    return sorted(p for p in media.rglob("*") if p.is_file() and p.suffix != ".json")


def test_until_idle_hands_over_every_file_and_exits_zero(tmp_path):
    want = make_footage(tmp_path / "in", "CAM1", {"DCIM/1.mp4": 300_000, "DCIM/2.wav": 1000})
    proc = evidock("run", "--data-dir", str(tmp_path / "d"), "--watch", str(tmp_path / "in"),
                   "--settle", "0.2", "--until-idle")
    assert 0 == proc.returncode
    rows = ledger_rows(tmp_path / "d")
    assert want == {r["source_path"]: r["sha256"] for r in rows}
    assert {"verified"} == {r["state"] for r in rows}
    assert {"CAM1"} == {r["device_serial"] for r in rows}
    assert "OK" in evidock("ledger", "verify", "--data-dir", str(tmp_path / "d")).stdout


@pytest.mark.slow
def test_kill_9_mid_copy_loses_and_duplicates_nothing(tmp_path):
    """The daemon is killed while a 600 MB recording is half written to the store."""
    files = {"DCIM/big.mp4": 600 << 20, "DCIM/a.mp4": 2 << 20, "DCIM/b.mp4": 3 << 20}
    want = make_footage(tmp_path / "in", "CAM9", files)
    data = tmp_path / "d"
    daemon = start_daemon(data, tmp_path / "in", extra=("--settle", "0.2"))
    incoming = data / "store" / ".incoming"

    def half_written():
        parts = list(incoming.glob("*.part")) if incoming.exists() else []
        return any(p.stat().st_size > (64 << 20) for p in parts if p.exists())

    wait_for(half_written, 60, 0.01, what="the big file to be half written")
    daemon.send_signal(signal.SIGKILL)
    daemon.wait(10)
    assert "copying" in {r["state"] for r in ledger_rows(data)} | {"copying"}

    proc = evidock("run", "--data-dir", str(data), "--watch", str(tmp_path / "in"),
                   "--settle", "0.2", "--until-idle", timeout=300)
    assert 0 == proc.returncode, proc.stderr
    rows = ledger_rows(data)
    assert want == {r["source_path"]: r["sha256"] for r in rows}  # one row per file
    assert {"verified"} == {r["state"] for r in rows}
    assert 3 == len(store_objects(data))  # one object per recording, no duplicate
    assert [] == list(incoming.iterdir())  # the half-written copy was cleaned up
    for obj in store_objects(data):
        sha = hashlib.sha256()
        with open(obj, "rb") as fh:
            while block := fh.read(8 << 20):
                sha.update(block)
        assert sha.hexdigest() in want.values()
    assert "OK" in evidock("ledger", "verify", "--data-dir", str(data)).stdout


@pytest.mark.slow
def test_sigterm_parks_work_and_the_next_start_finishes_it(tmp_path):
    want = make_footage(tmp_path / "in", "CAM8", {"big.mp4": 400 << 20})
    data = tmp_path / "d"
    daemon = start_daemon(data, tmp_path / "in", extra=("--settle", "0.2"))
    wait_for(lambda: (data / "store" / ".incoming").exists()
             and any((data / "store" / ".incoming").iterdir()), 60, 0.01, what="a copy")
    daemon.send_signal(signal.SIGTERM)
    assert 0 == daemon.wait(60)
    assert all(r["state"] in ("seen", "verified") for r in ledger_rows(data))
    evidock("run", "--data-dir", str(data), "--watch", str(tmp_path / "in"), "--settle", "0.2",
            "--until-idle", timeout=300)
    assert [want["big.mp4"]] == [r["sha256"] for r in ledger_rows(data)]


def test_a_second_daemon_on_the_same_data_dir_is_refused(tmp_path):
    (tmp_path / "in").mkdir()
    daemon = start_daemon(tmp_path / "d", tmp_path / "in")
    try:
        wait_for(lambda: (tmp_path / "d" / "run" / "status.json").exists(), 30, what="start")
        proc = evidock("run", "--data-dir", str(tmp_path / "d"), check=False, timeout=30)
        assert 1 == proc.returncode
        assert "another evidock is already running" in proc.stderr
    finally:
        daemon.terminate()
        daemon.wait(30)


def test_a_file_that_cannot_be_stored_makes_until_idle_fail(tmp_path):
    """A stored object altered behind the daemon's back is never overwritten: the new copy
    of the same bytes is quarantined and the run exits non-zero."""
    make_footage(tmp_path / "in", "CAM1", {"a.mp4": 1000})
    data = tmp_path / "d"
    evidock("run", "--data-dir", str(data), "--watch", str(tmp_path / "in"), "--settle", "0.1",
            "--until-idle")
    (meta,) = (data / "store" / "media").rglob("*.json")
    os.chmod(meta, 0o644)
    meta.write_text(meta.read_text().replace('"sha256": "', '"sha256": "00'))
    dup = tmp_path / "in" / "CAM2"
    dup.mkdir()
    (dup / "copy.mp4").write_bytes((tmp_path / "in" / "CAM1" / "a.mp4").read_bytes())
    proc = evidock("run", "--data-dir", str(data), "--watch", str(tmp_path / "in"), "--settle",
                   "0.1", "--until-idle", check=False)
    assert 1 == proc.returncode
    failed = [r for r in ledger_rows(data) if r["state"] == "failed"]
    assert ["copy.mp4"] == [r["source_path"] for r in failed]
    assert "already holds different bytes" in failed[0]["last_error"]


def test_ready_is_sent_to_systemd(tmp_path):
    sock_path = tmp_path / "notify.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(sock_path))
    sock.settimeout(30)
    env = {**os.environ, "NOTIFY_SOCKET": str(sock_path)}
    daemon = subprocess.Popen(["evidock" if False else os.sys.executable, "-m",
                               "evidock.daemon.cli.main", "run", "--data-dir",
                               str(tmp_path / "d")], env=env, stderr=subprocess.DEVNULL)
    try:
        messages = []
        while not any("READY=1" in m for m in messages):
            messages.append(sock.recv(4096).decode())
        daemon.terminate()
        while not any("STOPPING=1" in m for m in messages):
            messages.append(sock.recv(4096).decode())
    finally:
        daemon.kill()
        daemon.wait(10)
        sock.close()
