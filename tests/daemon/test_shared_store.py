"""Two data directories on one store path, as two real daemon processes.  The local store may be
shared: one daemon's start-up recovery leaves the other's upload in flight alone.  A spool may
not: the second daemon on it is refused with what to do."""

from __future__ import annotations

import signal
import socket

from ..daemon_proc import evidock, ledger_rows, start_daemon, wait_for
from .test_service import make_footage


def config(tmp_path, name: str, store: str) -> str:
    path = tmp_path / f"{name}.toml"
    path.write_text(f'[station]\nid = "{name}"\ndata_dir = "{tmp_path / name}"\n'
                    f'[usb]\nenabled = false\n[ingest]\nprobe = false\n{store}')
    return str(path)


def rows(data) -> list[dict]:
    return ledger_rows(data) if (data / "ledger.sqlite3").exists() else []


def test_a_second_daemons_recovery_leaves_the_first_ones_upload_in_flight_alone(tmp_path):
    shared = tmp_path / "shared-store"
    store = f'[store]\ntype = "local"\npath = "{shared}"\n'
    first, second = config(tmp_path, "a", store), config(tmp_path, "b", store)
    want = make_footage(tmp_path / "in-a", "CAM-A", {"big.mp4": 160 << 20})
    (tmp_path / "in-b").mkdir()
    daemon = start_daemon(tmp_path / "a", tmp_path / "in-a",
                          extra=("--config", first, "--settle", "0"))
    try:
        def part():
            parts = list((shared / ".incoming").glob("*.part")) if shared.exists() else []
            return [p for p in parts if p.exists() and p.stat().st_size > (8 << 20)]

        (in_flight,) = wait_for(part, 60, 0.005, what="the first daemon's upload in flight")
        daemon.send_signal(signal.SIGSTOP)  # hold it mid-upload while the second one starts
        try:
            proc = evidock("run", "--config", second, "--watch", str(tmp_path / "in-b"),
                           "--until-idle", timeout=120)
            assert 0 == proc.returncode
            assert in_flight.exists(), "the second daemon's recovery removed a live upload"
            assert "store_leftovers_removed" not in proc.stderr
        finally:
            daemon.send_signal(signal.SIGCONT)
        wait_for(lambda: [r["state"] for r in rows(tmp_path / "a")] == ["verified"], 120, 0.2,
                 what="the first daemon's recording handed over")
    finally:
        daemon.terminate()
        daemon.wait(30)
    (row,) = ledger_rows(tmp_path / "a")
    assert (want["big.mp4"], 1) == (row["sha256"], row["attempts"])  # one attempt: not broken


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_second_daemon_on_the_same_spool_is_refused(tmp_path, monkeypatch):
    """Also: S3 configured but no credentials at all and nothing listening: the first daemon
    starts anyway and hands recordings over to its spool."""
    for name in ("CREDENTIALS_DIRECTORY", "EVIDOCK_S3_ACCESS_KEY", "EVIDOCK_S3_SECRET_KEY"):
        monkeypatch.delenv(name, raising=False)
    store = (f'[store]\ntype = "s3"\nendpoint = "http://127.0.0.1:{closed_port()}"\n'
             f'bucket = "evidence"\ntimeout_seconds = 2\n'
             f'[store.spool]\npath = "{tmp_path / "shared-spool"}"\n')
    first, second = config(tmp_path, "a", store), config(tmp_path, "b", store)
    make_footage(tmp_path / "in", "CAM-S", {"a.mp4": 3000})
    daemon = start_daemon(tmp_path / "a", tmp_path / "in",
                          extra=("--config", first, "--settle", "0"))
    try:
        wait_for(lambda: [(r["state"], r["store"]) for r in rows(tmp_path / "a")] == [
            ("verified", f"spool:{tmp_path / 'shared-spool'}")], 60, 0.2,
            what="the recording handed over to the spool")
        proc = evidock("run", "--config", second, "--watch", str(tmp_path / "in"),
                       "--until-idle", check=False, timeout=60)
        assert 1 == proc.returncode
        assert f"spool {tmp_path / 'shared-spool'} belongs to another running evidock" in \
            proc.stderr
        assert "store.spool.path" in proc.stderr
        assert None is daemon.poll()
    finally:
        daemon.terminate()
        daemon.wait(30)
