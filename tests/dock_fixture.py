"""pytest fixtures for tests that dock simulated cameras (``tools/dock-sim``).

``dock_sim`` runs ``tools/dock-sim setup`` once per session and gives each test a
:class:`DockSim` whose images live in the test's tmp folder; whatever a test leaves docked is
undocked afterwards.  Where the machine cannot simulate docks (not root, no loop or FUSE, a
missing package) the test is skipped with the reason, except in CI (``CI=true``), where
that is a failure: the dock suite must run there.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
from pathlib import Path

import pytest

TOOL = Path(__file__).resolve().parents[1] / "tools" / "dock-sim"


def _unavailable(reason: str):
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"dock tests cannot run: {reason} (CI must install and set this up)")
    pytest.skip(f"dock tests need: {reason}")


class DockSim:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.images: list[Path] = []

    def run(self, *args: str, check: bool = True) -> str:
        proc = subprocess.run([str(TOOL), *args], capture_output=True, text=True, timeout=120,
                              check=False)
        if check and proc.returncode != 0:
            raise AssertionError(f"dock-sim {' '.join(args)} failed: {proc.stderr.strip()}")
        return proc.stdout.strip()

    def mkimg(self, src: Path, serial: str, fs: str = "exfat", name: str | None = None,
              *extra: str) -> Path:
        img = self.folder / f"{name or serial}.img"
        self.run("mkimg", str(img), fs, str(src), serial, *extra)
        self.images.append(img)
        return img

    def dock(self, img: Path) -> str:
        return self.run("dock", str(img))

    def undock(self, img: Path) -> None:
        self.run("undock", str(img))

    def yank(self, img: Path) -> None:
        self.run("yank", str(img))

    def cleanup(self) -> None:
        for img in self.images:
            self.run("undock", str(img), check=False)


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


@pytest.fixture(scope="session")
def dock_sim_ready():
    if os.geteuid() != 0:
        _unavailable("root (loop devices, mounts, udev rules)")
    proc = subprocess.run([str(TOOL), "setup"], capture_output=True, text=True, timeout=60,
                          check=False)
    if proc.returncode != 0:
        _unavailable(proc.stderr.strip() or "tools/dock-sim setup failed")
    return TOOL


@pytest.fixture
def dock_sim(dock_sim_ready, tmp_path):
    sim = DockSim(tmp_path)
    yield sim
    sim.cleanup()
