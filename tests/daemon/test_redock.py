"""A re-dock of a device whose recordings are all handed over reads none of their contents:
the ledger knows each file by device, path, size and mtime."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.daemon_proc import evidock, ledger_rows

#: runs the daemon with a Python audit hook that logs every file it opens (not directories)
WRAPPER = """
import json, os, runpy, sys
log = open(os.environ["EVIDOCK_TEST_OPENS"], "a", buffering=1)
def hook(event, args):
    if event == "open" and isinstance(args[2], int) and not args[2] & os.O_DIRECTORY:
        path = args[0]
        log.write(json.dumps(os.fsdecode(path) if isinstance(path, (str, bytes)) else str(path))
                  + "\\n")
sys.addaudithook(hook)
sys.argv = ["evidock", *sys.argv[1:]]
runpy.run_module("evidock.daemon.cli.main", run_name="__main__")
"""

NAMES = ("DCIM/A0001.MP4", "DCIM/A0002.MP4", "AUDIO/N0001.WAV", "PHOTO/P0001.JPG")


def run_once(tmp_path, watch, data, opens):
    wrapper = tmp_path / "audited.py"
    wrapper.write_text(WRAPPER)
    opens.unlink(missing_ok=True)
    proc = subprocess.run(
        [sys.executable, str(wrapper), "run", "--data-dir", str(data), "--watch", str(watch),
         "--settle", "0", "--until-idle"], capture_output=True, text=True, timeout=120,
        env={**os.environ, "EVIDOCK_TEST_OPENS": str(opens)})
    assert 0 == proc.returncode, proc.stdout[-3000:] + proc.stderr[-3000:]
    return [json.loads(line) for line in opens.read_text().splitlines()]


def test_a_redock_of_a_handed_over_device_opens_none_of_its_files(tmp_path, monkeypatch):
    config = tmp_path / "evidock.toml"
    config.write_text('[station]\nid = "st-redock"\n[usb]\nenabled = false\n'
                      "[ingest]\nprobe = false\n")
    monkeypatch.setenv("EVIDOCK_CONFIG", str(config))
    watch, data, opens = tmp_path / "watch", tmp_path / "data", tmp_path / "opens.jsonl"
    for n, name in enumerate(NAMES):
        path = watch / "DSJ-REDOCK" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(os.urandom(100_000 + n))
    basenames = {os.path.basename(n) for n in NAMES}

    first = run_once(tmp_path, watch, data, opens)
    assert basenames <= {os.path.basename(p) for p in first}, "the hook sees the first read"
    assert {"verified"} == {r["state"] for r in ledger_rows(data)}
    attempts = sorted(r["attempts"] for r in ledger_rows(data))

    again = run_once(tmp_path, watch, data, opens)  # the device is docked again

    assert [] == [p for p in again if os.path.basename(p) in basenames]
    assert attempts == sorted(r["attempts"] for r in ledger_rows(data))
    assert len(NAMES) == len(ledger_rows(data))
    evidock("ledger", "verify", "--data-dir", str(data))
