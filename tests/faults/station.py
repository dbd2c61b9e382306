"""A station for the fault matrix: a configuration file, a watch folder and the real daemon.

Each case builds a :class:`Station` in its own tmp folder, starts ``evidock run`` as a process
(optionally with ``EVIDOCK_FAULT`` so it SIGKILLs itself at a named point), and reads the
result back through the CLI, as an operator would.  Every daemon a case starts is killed at
the end of the case, whatever happened.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.daemon_proc import EVIDOCK, wait_for

MiB = 1 << 20


def toml_str(value: str | Path) -> str:
    """A TOML basic string (JSON string escapes are valid TOML)."""
    return json.dumps(str(value))


def footage(folder: Path | bytes, serial: str | bytes, files: dict[str | bytes, int]) -> dict:
    """Random recordings under ``folder/serial``; names may be bytes (any encoding).

    Each file is written under a hidden name and renamed into place, so a running daemon
    (with no settle time) never sees it half-written."""
    made = {}
    for rel, size in files.items():
        path = os.path.join(os.fsencode(folder), os.fsencode(serial), os.fsencode(rel))
        parent, name = os.path.split(path)
        os.makedirs(parent, exist_ok=True)
        data = os.urandom(size)
        tmp = os.path.join(parent, b"." + name + b".writing")
        with open(tmp, "wb") as fh:
            fh.write(data)
        os.rename(tmp, path)
        made[os.fsencode(rel)] = hashlib.sha256(data).hexdigest()
    return made


class Station:
    """One station's files: ``root/evidock.toml``, ``root/in`` (watch), ``root/data``.

    USB is off unless ``usb_profiles`` names a folder of device profiles; then only the
    cameras those profiles cover are taken (not the generic profile), so a case never reads
    a camera that another test on the same machine docked."""

    def __init__(self, root: Path, *, station_id: str = "faults", store: str = "",
                 ledger_path: Path | None = None, data_dir: Path | None = None,
                 store_path: Path | None = None, ingest: dict | None = None,
                 env: dict | None = None, usb_profiles: Path | None = None,
                 watch: bool = True) -> None:
        self.root = root
        self.usb = usb_profiles is not None
        self.watch = root / "in"
        self.data = data_dir or root / "data"
        self.config = root / "evidock.toml"
        self.log = root / "daemon.log"
        self.store_root = store_path or self.data / "store"
        self.spool_root = self.data / "spool"
        self.env = {**os.environ, **(env or {})}
        self.env.pop("EVIDOCK_FAULT", None)
        self.env.pop("EVIDOCK_CONFIG", None)
        self.procs: list[subprocess.Popen] = []
        root.mkdir(parents=True, exist_ok=True)
        self.watch.mkdir(exist_ok=True)
        knobs = {"retry_base_seconds": 0.2, "retry_max_seconds": 1.0, "max_attempts": 5,
                 "probe": False, **(ingest or {})}
        lines = [f"[station]\nid = {toml_str(station_id)}\ndata_dir = {toml_str(self.data)}",
                 "[ingest]", *(f"{k} = {json.dumps(v)}" for k, v in knobs.items()),
                 "[usb]\n" + (f"profiles_dir = {toml_str(usb_profiles)}\ngeneric_cameras = false"
                               if usb_profiles else "enabled = false"),
                 "[metrics]\nenabled = false",
                 # the matrix is about originals: a derivative of random bytes that some
                 # decoder happens to accept would be one more object in the store
                 "[derivatives]\nenabled = false",
                 "[web]\nenabled = false",
                 '[log]\nlevel = "debug"\nformat = "json"']
        if watch:
            lines.append(f"[watch]\nfolders = [{toml_str(self.watch)}]\nsettle_seconds = 0\n"
                         "rescan_seconds = 1")
        if ledger_path is not None:
            lines.append(f"[ledger]\npath = {toml_str(ledger_path)}")
        if store_path is not None:
            store = f"[store]\ntype = \"local\"\npath = {toml_str(store_path)}"
        lines.append(store or "[store]\ntype = \"local\"")
        self.config.write_text("\n".join(lines) + "\n")

    # -- the daemon --------------------------------------------------------------------------

    def start(self, *, fault: str | None = None, until_idle: bool = False) -> subprocess.Popen:
        env = dict(self.env)
        if fault:
            env["EVIDOCK_FAULT"] = fault
        args = [*EVIDOCK, "run", "--config", str(self.config)]
        if until_idle:  # a one-shot run docks cameras only when asked to
            args += ["--until-idle", *(["--usb"] if self.usb else [])]
        with open(self.log, "ab") as out:
            proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, env=env,
                                    stdin=subprocess.DEVNULL)
        self.procs.append(proc)
        return proc

    def run_until_idle(self, *, fault: str | None = None, timeout: float = 120) -> int:
        """``evidock run --until-idle``; its exit status (``-SIGKILL`` when a fault fired)."""
        proc = self.start(fault=fault, until_idle=True)
        try:
            return proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            raise AssertionError(f"evidock run --until-idle did not end in {timeout} s\n"
                                 f"{self.log_tail()}") from None

    def killed_by_fault(self, fault: str, timeout: float = 120) -> None:
        code = self.run_until_idle(fault=fault, timeout=timeout)
        assert -signal.SIGKILL == code, f"{fault} did not fire (exit {code})\n{self.log_tail()}"

    def stop(self, proc: subprocess.Popen, timeout: float = 60) -> int:
        proc.send_signal(signal.SIGTERM)
        try:
            return proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            raise AssertionError(f"the daemon did not stop on SIGTERM in {timeout} s\n"
                                 f"{self.log_tail()}") from None

    def kill_all(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait(30)

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log.read_text(errors="replace").splitlines()
        except FileNotFoundError:
            return "(no daemon log)"
        return "daemon log (tail):\n" + "\n".join(text[-lines:])

    def log_events(self) -> Iterator[dict]:
        """The daemon's structured log lines (JSON), oldest first."""
        try:
            text = self.log.read_text(errors="replace")
        except FileNotFoundError:
            return
        for line in text.splitlines():
            if line.startswith("{"):
                try:
                    yield json.loads(line)
                except ValueError:
                    continue

    # -- reading the result, through the CLI -------------------------------------------------

    def cli(self, *args: str, check: bool = True, timeout: float = 60):
        proc = subprocess.run([*EVIDOCK, *args, "--config", str(self.config)],
                              capture_output=True, text=True, timeout=timeout, env=self.env,
                              stdin=subprocess.DEVNULL)
        if check and proc.returncode != 0:
            raise AssertionError(f"evidock {' '.join(args)} exited {proc.returncode}:\n"
                                 f"{proc.stdout}\n{proc.stderr}\n{self.log_tail()}")
        return proc

    def rows(self) -> list[dict]:
        out = self.cli("ledger", "list", "--json").stdout
        return [json.loads(line) for line in out.splitlines() if line.strip()]

    def show(self, media_id: int) -> dict:
        return json.loads(self.cli("ledger", "show", str(media_id), "--json").stdout)

    def status(self) -> dict | None:
        """The daemon's own snapshot (run/status.json), or None if there is none yet."""
        try:
            return json.loads((self.data / "run" / "status.json").read_text())
        except (FileNotFoundError, ValueError):
            return None

    def wait_rows(self, predicate, timeout: float = 60, what: str = "ledger rows"):
        def check():
            rows = self.rows()
            return rows if predicate(rows) else None

        try:
            return wait_for(check, timeout, 0.2, what=what)
        except AssertionError as exc:
            raise AssertionError(f"{exc}; rows: {self.rows()}\n{self.log_tail()}") from None

    def wait_verified(self, count: int, timeout: float = 60):
        return self.wait_rows(lambda rows: len(rows) == count
                              and all(r["state"] == "verified" for r in rows), timeout,
                              what=f"{count} verified recordings")


@pytest.fixture
def stations(tmp_path):
    """Make stations under the test's tmp folder; their daemons die with the test."""
    made: list[Station] = []

    def make(name: str = "st", **kwargs) -> Station:
        station = Station(tmp_path / name, **kwargs)
        made.append(station)
        return station

    yield make
    for station in made:
        station.kill_all()
    unmount_below(tmp_path)


def unmount_below(folder: Path) -> None:
    """Lazily unmount what a killed daemon left mounted under ``folder`` (camera volumes)."""
    top = os.fsencode(os.path.realpath(folder)) + b"/"
    with open("/proc/self/mounts", "rb") as fh:
        points = [line.split()[1].replace(b"\\040", b" ") for line in fh if len(line.split()) > 1]
    for point in sorted((p for p in points if p.startswith(top)), key=len, reverse=True):
        if b"/data/mounts/" in point:
            subprocess.run(["umount", "-l", point], capture_output=True, timeout=30, check=False)


def s3_store(endpoint: str, bucket: str, **extra) -> str:
    """The ``[store]`` table of an S3 station on the test server (spool drained quickly)."""
    knobs = {"part_size_mib": 5, "timeout_seconds": 5, **extra}
    return (f"[store]\ntype = \"s3\"\nendpoint = {toml_str('http://' + endpoint)}\n"
            f"bucket = {toml_str(bucket)}\n"
            + "".join(f"{k} = {json.dumps(v)}\n" for k, v in knobs.items())
            + "[store.spool]\ndrain_interval_seconds = 0.5\nretry_max_seconds = 1\n")


def s3_env(server) -> dict:
    return {"EVIDOCK_S3_ACCESS_KEY": server.access_key,
            "EVIDOCK_S3_SECRET_KEY": server.secret_key, "CREDENTIALS_DIRECTORY": ""}


class Notifications:
    """A stand-in for systemd's notify socket: what the daemon tells systemd (READY=1,
    WATCHDOG=1, STATUS=...), one datagram per message."""

    def __init__(self, station: Station) -> None:
        self.path = station.root / "notify.sock"
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(self.path))
        station.env["NOTIFY_SOCKET"] = str(self.path)

    def drain(self) -> None:
        self.sock.setblocking(False)
        try:
            while True:
                self.sock.recv(4096)
        except BlockingIOError:
            pass
        finally:
            self.sock.setblocking(True)

    def wait(self, field: str, count: int = 1, timeout: float = 10) -> None:
        """Block until ``count`` messages carrying ``field`` arrived (AssertionError if not)."""
        end = time.monotonic() + timeout
        seen = 0
        while seen < count:
            left = end - time.monotonic()
            if left <= 0:
                raise AssertionError(f"{seen} of {count} {field} messages in {timeout} s")
            self.sock.settimeout(left)
            try:
                message = self.sock.recv(4096).decode()
            except TimeoutError:
                continue
            seen += field in message.splitlines()

    def close(self) -> None:
        self.sock.close()


def catch_put(store_root: Path, proc: subprocess.Popen, timeout: float = 30) -> str:
    """Stop ``proc`` (SIGSTOP) while it writes a recording into ``store_root``'s .incoming;
    returns the name of the partial file.  The caller sends SIGCONT."""
    incoming = store_root / ".incoming"
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        assert proc.poll() is None, "the daemon ended before it wrote to the store"
        parts = [n for n in (os.listdir(incoming) if incoming.exists() else ())
                 if n.endswith(".part")]
        if parts:
            os.kill(proc.pid, signal.SIGSTOP)
            if (incoming / parts[0]).exists():
                return parts[0]
            os.kill(proc.pid, signal.SIGCONT)  # it finished meanwhile: wait for the next one
        time.sleep(0.0005)
    raise AssertionError(f"no put into {store_root} in {timeout} s")
