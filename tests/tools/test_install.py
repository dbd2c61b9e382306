"""``tools/install`` on Debian 12: one route that works.  evidock in a virtual environment
under /opt/evidock with its command on PATH (pip into Debian's Python is refused, PEP 668),
a unit whose ExecStart is that command and which ``systemd-analyze verify`` accepts, hardened
to at most 2.5 by ``systemd-analyze security`` (with the USB drop-in too), and a configuration
file the service's group can read.  Installed below a scratch root, not onto this machine."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.slow, pytest.mark.skipif(os.geteuid() != 0, reason="needs root")]


@pytest.fixture(scope="module")
def installed():
    # not under pytest's 0700 tmp: the service user must be able to reach the files
    target = Path(tempfile.mkdtemp(prefix="evidock-install-"))
    target.chmod(0o755)
    proc = subprocess.run(["bash", str(ROOT / "tools" / "install"), "--usb", "--root",
                           str(target)], capture_output=True, text=True, timeout=600)
    assert 0 == proc.returncode, proc.stderr[-3000:]
    # what systemd-analyze needs to judge the unit inside the scratch root: the system units
    # (sysinit.target ...) and the kill that ExecReload runs
    shutil.copytree("/usr/lib/systemd/system", target / "usr/lib/systemd/system",
                    symlinks=True, dirs_exist_ok=True)
    (target / "bin").mkdir(exist_ok=True)
    shutil.copy2("/bin/kill", target / "bin" / "kill")
    yield target
    shutil.rmtree(target)


def ids(target: Path) -> tuple[int, int]:
    for line in (target / "etc/passwd").read_text().splitlines():
        name, _, uid, gid, *_ = line.split(":")
        if name == "evidock":
            return int(uid), int(gid)
    raise AssertionError("no evidock user")


def test_the_command_is_linked_on_path_and_runs_from_the_venv(installed):
    link = installed / "usr/local/bin/evidock"
    assert "/opt/evidock/bin/evidock" == os.readlink(link)
    out = subprocess.run([installed / "opt/evidock/bin/evidock", "--version"],
                         capture_output=True, text=True, check=True).stdout
    assert out.startswith("evidock ")
    unit = (installed / "etc/systemd/system/evidock.service").read_text()
    assert "ExecStart=/opt/evidock/bin/evidock run" in unit


def test_systemd_analyze_verify_accepts_the_unit(installed):
    proc = subprocess.run(["systemd-analyze", "verify", f"--root={installed}",
                           "evidock.service"], capture_output=True, text=True)
    assert (0, "") == (proc.returncode, proc.stderr.strip())


def test_the_unit_is_hardened_to_2_5_or_lower_with_and_without_usb(installed):
    def exposure() -> float:
        out = subprocess.run(["systemd-analyze", "security", "--offline=yes",
                              f"--root={installed}", "evidock.service"],
                             capture_output=True, text=True).stdout
        return float(re.search(r"Overall exposure level for evidock.service: ([\d.]+)",
                               out).group(1))

    with_usb = exposure()
    dropin = installed / "etc/systemd/system/evidock.service.d/usb.conf"
    saved = dropin.read_text()
    dropin.unlink()
    try:
        without = exposure()
    finally:
        dropin.write_text(saved)
    assert with_usb <= 2.5 and without <= 2.5, (with_usb, without)


def test_the_service_user_can_read_the_installed_config(installed):
    uid, gid = ids(installed)
    config = installed / "etc/evidock/evidock.toml"
    st = config.stat()
    assert (0o640, 0, gid) == (st.st_mode & 0o777, st.st_uid, st.st_gid)
    as_service = ["setpriv", f"--reuid={uid}", f"--regid={gid}", "--clear-groups",
                  str(installed / "opt/evidock/bin/evidock"), "config", "check", "--config",
                  str(config)]
    proc = subprocess.run(as_service, capture_output=True, text=True)
    assert 0 == proc.returncode, proc.stderr
    os.chown(config, 0, 0)  # what `install -m 0640` alone left: root:root
    try:
        proc = subprocess.run(as_service, capture_output=True, text=True)
        assert 2 == proc.returncode and "Permission denied" in proc.stderr
    finally:
        os.chown(config, 0, gid)
