"""Run ``evidock`` as a real subprocess, the way systemd or a person would."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

EVIDOCK = [sys.executable, "-m", "evidock.daemon.cli.main"]


def evidock(*args: str, check: bool = True, timeout: float = 120, env: dict | None = None,
            input: str | None = None) -> subprocess.CompletedProcess:
    proc = subprocess.run([*EVIDOCK, *args], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})}, input=input)
    if check and proc.returncode != 0:
        raise AssertionError(f"evidock {' '.join(args)} exited {proc.returncode}:\n"
                             f"{proc.stdout}\n{proc.stderr}")
    return proc


def start_daemon(data_dir: Path, *watch: Path, extra: tuple[str, ...] = (),
                 log: Path | None = None) -> subprocess.Popen:
    args = [*EVIDOCK, "run", "--data-dir", str(data_dir), *extra]
    for folder in watch:
        args += ["--watch", str(folder)]
    out = open(log or data_dir.parent / "daemon.log", "ab")
    return subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT)


def ledger_rows(data_dir: Path) -> list[dict]:
    proc = evidock("ledger", "list", "--json", "--data-dir", str(data_dir))
    return [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]


def wait_for(predicate, timeout: float = 60, interval: float = 0.05, what: str = "condition"):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")
