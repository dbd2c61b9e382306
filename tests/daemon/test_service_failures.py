"""Failure paths of the station's main loop: systemd's watchdog is pinged only while every
worker is alive and moving, and a data directory that fills up (status file, ledger and
store on one small real file system) neither crashes the daemon nor loses a recording."""

from __future__ import annotations

import os
import signal
import socket
import threading
import time

from evidock.daemon import config as config_mod
from evidock.daemon.service import Station
from tests.small_fs import small_fs

from ..daemon_proc import evidock, ledger_rows, start_daemon, wait_for


def station_config(tmp_path, **over):
    return config_mod.load(None, overrides={
        "station.data_dir": str(tmp_path / "d"), "watch.folders": [str(tmp_path / "in")],
        "watch.settle_seconds": 0.2, "usb.enabled": False, "ingest.probe": False,
        "metrics.enabled": False, **over})


def test_the_watchdog_is_not_pinged_while_a_worker_is_stuck(tmp_path, monkeypatch):
    sock_path = tmp_path / "notify.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(sock_path))
    sock.settimeout(0.2)
    monkeypatch.setenv("NOTIFY_SOCKET", str(sock_path))
    (tmp_path / "in" / "CAM1").mkdir(parents=True)
    station = Station(station_config(tmp_path, **{"ingest.stuck_seconds": 5}))
    release, reading = threading.Event(), threading.Event()
    put = station.ingestor.store.put

    def hanging_put(stream, **kw):
        read = stream.read

        def hang(n=-1):
            reading.set()
            release.wait(60)  # a device read that does not come back
            return read(n)
        stream.read = hang
        return put(stream, **kw)

    station.ingestor.store.put = hanging_put
    seen: list[tuple[float, str]] = []

    def listen():
        while not station.stop_requested.is_set():
            try:
                seen.append((time.monotonic(), sock.recv(4096).decode()))
            except TimeoutError:
                pass

    def pings_since(t: float) -> int:
        return sum(1 for at, m in list(seen) if at >= t and "WATCHDOG=1" in m)

    def scenario():
        try:
            wait_for(lambda: pings_since(0) > 0, 20, what="a first ping")
            (tmp_path / "in" / "CAM1" / "a.mp4").write_bytes(os.urandom(100_000))
            assert reading.wait(20)
            wait_for(lambda: not station.pipeline.healthy(), 20, what="the worker stuck")
            quiet = time.monotonic() + 0.5
            time.sleep(2.0)
            results["stuck_pings"] = pings_since(quiet)
            results["stuck_status"] = "a worker is dead or stuck" in "".join(
                m for _, m in seen)
            release.set()
            wait_for(lambda: station.ledger.counts() == {"verified": 1}, 20)
            again = time.monotonic()
            wait_for(lambda: pings_since(again) > 0, 10, what="pings again")
            results["ok"] = True
        finally:
            release.set()
            station.stop_requested.set()

    results: dict = {}
    threads = [threading.Thread(target=f, daemon=True) for f in (listen, scenario)]
    for t in threads:
        t.start()
    station.run()
    for t in threads:
        t.join(10)
    sock.close()
    assert {"ok": True, "stuck_pings": 0, "stuck_status": True} == results


def test_a_data_directory_that_fills_up_neither_crashes_the_daemon_nor_loses_a_file(tmp_path):
    """Ledger, store and run/status.json on one 8 MiB file system that fills up while the
    daemon runs: the daemon stays up; a recording dropped meanwhile is handed over once
    space returns; the ledger verifies."""
    (tmp_path / "in" / "CAM1").mkdir(parents=True)
    with small_fs(tmp_path / "d", size="8m") as fs:
        conf = tmp_path / "evidock.toml"
        conf.write_text("[usb]\nenabled = false\n")  # watch folders only
        daemon = start_daemon(fs.root, tmp_path / "in", log=tmp_path / "daemon.log",
                              extra=("--settle", "0.2", "--config", str(conf)))
        try:
            wait_for(lambda: (fs.root / "run" / "status.json").exists(), 30,
                     what="the daemon up")
            fs.fill()
            (tmp_path / "in" / "CAM1" / "a.mp4").write_bytes(os.urandom(200_000))
            time.sleep(4)  # scans, attempts and status writes fail meanwhile
            assert daemon.poll() is None, (tmp_path / "daemon.log").read_text()[-3000:]
            fs.free()
            wait_for(lambda: [r["state"] for r in ledger_rows(fs.root)] == ["verified"], 60,
                     what="the recording handed over after space returned")
        finally:
            daemon.send_signal(signal.SIGTERM)
            code = daemon.wait(60)
        assert 0 == code
        log = (tmp_path / "daemon.log").read_text()
        assert "status_write_failed" in log  # the disk was full for the daemon indeed
        assert "media_delivery_failed" in log or "ingest_paused" in log
        assert "OK" in evidock("ledger", "verify", "--data-dir", str(fs.root)).stdout
