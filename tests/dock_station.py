"""A real ``evidock run`` with USB docking on, for tests that dock their own simulated
camera (``tools/dock-sim``) and watch what the station shows: ``evidock status --json`` and
the kiosk page.

The daemon takes only cameras of its own test vendor (a profile in the test's folder,
generic cameras off), so images other tests dock at the same time are unknown devices to
it, never read.  Reading is slowed per chunk (``EVIDOCK_SLOW``) so a test can see a device
being read and pull it mid-copy; the reads, mounts and udev events are real.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import zlib
from pathlib import Path

from tests.daemon_proc import EVIDOCK, evidock, wait_for

ROOT = Path(__file__).resolve().parents[1]
VENDOR = "EVKIOSK"
PORT = "pci-0000:00:14.0-usb-0:3:1.0-scsi-0:0:0:0"  # as udev's ID_PATH says it


def sn(tmp: Path, tag: str = "K1") -> str:
    """A serial of this test alone: on a machine where other dock tests run too, an image of
    an earlier test may still be attached (another process holding it open delays its
    detach), and must not pass for this test's camera."""
    return f"DSJ-{tag}-{zlib.crc32(str(tmp).encode()) % 100000:05d}"


def stick_port(tmp: Path) -> tuple[str, str]:
    """A port of this test alone for a disk that is not a camera (its tile has no serial),
    and the slot the station shows for it."""
    hub = zlib.crc32(str(tmp).encode()) % 7 + 1
    return f"pci-0000:00:14.0-usb-0:5.{hub}:1.0-scsi-0:0:0:0", f"USB 5.{hub}"


def camera(folder: Path, *, serial: str, files: int = 3, size: int = 8 << 20,
           officer: str = "012345", name: str = "张伟", unit: str = "城关派出所") -> Path:
    """A camera's volume: recordings, and DEVICE.TXT saying who carries it."""
    for i in range(files):
        rec = folder / "DCIM" / f"20261122_1030{i:02d}_{i:04d}.MP4"
        rec.parent.mkdir(parents=True, exist_ok=True)
        rec.write_bytes(os.urandom(size + i))
    (folder / "DEVICE.TXT").write_text(
        f"SERIAL={serial}\nPOLICE_ID={officer}\nNAME={name}\nUNIT={unit}\n"
        "TIME=2026-11-22 20:30:00\n", encoding="utf-8")
    return folder


def mkimg(dock_sim, src: Path, serial: str, port: str = PORT) -> Path:
    return dock_sim.mkimg(src, serial, "exfat", None, "--vendor", VENDOR, "--model",
                          "DSJ-K9", "--port", port)


class StationDaemon:
    def __init__(self, tmp: Path, *, language: str = "zh-CN", linger: float = 4,
                 slow: str = "read:0.15") -> None:
        self.tmp = tmp
        self.data = tmp / "data"
        profiles = tmp / "profiles"
        profiles.mkdir(exist_ok=True)
        sim = (ROOT / "config" / "profiles" / "dock-sim.toml").read_text()
        (profiles / "kiosk-test.toml").write_text(
            sim.replace('name = "dock-sim"', 'name = "kiosk-test"')
               .replace('vendor = ["ZFYSIM"]', f'vendor = ["{VENDOR}"]'))
        self.config = tmp / "evidock.toml"
        self.config.write_text(f"""
[station]
id = "st-kiosk"
name = "城关派出所 采集站 1"
data_dir = "{self.data}"
language = "{language}"
undocked_linger_seconds = {linger}
[station.slots]
"{PORT}" = "3"
[usb]
enabled = true
profiles_dir = "{profiles}"
generic_cameras = false
[ingest]
probe = false
[derivatives]
enabled = false
[metrics]
enabled = false
[web]
port = 0
""", encoding="utf-8")
        self.env = {**os.environ, "EVIDOCK_SLOW": slow}
        self.proc: subprocess.Popen | None = None

    def start(self) -> StationDaemon:
        log = open(self.tmp / "daemon.log", "ab")
        self.proc = subprocess.Popen([*EVIDOCK, "run", "--config", str(self.config)],
                                     stdout=log, stderr=subprocess.STDOUT, env=self.env)
        wait_for(lambda: self.status()["running"], 60, 0.2, "the daemon to run")
        return self

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def status(self) -> dict:
        out = evidock("status", "--json", "--config", str(self.config), check=False)
        if out.returncode != 0:
            return {"running": False, "tiles": []}
        return json.loads(out.stdout)

    def status_text(self, columns: int = 80) -> str:
        return evidock("status", "--config", str(self.config),
                       env={"COLUMNS": str(columns)}).stdout

    def tile(self, serial: str) -> dict | None:
        return next((t for t in self.status()["tiles"] if t["serial"] == serial), None)

    def wait_state(self, state: str, serial: str, timeout: float = 60) -> dict:
        def reached():
            t = self.tile(serial)
            return t if t and t["state"] == state else None
        return wait_for(reached, timeout, 0.1, f"{serial} to be {state} "
                        f"(last: {self.tile(serial)})")

    def url(self) -> str:
        return wait_for(lambda: self.status().get("web", {}).get("url"), 30, 0.2,
                        "the kiosk's address")
