"""SIGHUP (``systemctl reload evidock``) re-reads the configuration: live settings apply at
once, the others are named as needing a restart, and a broken file changes nothing."""

from __future__ import annotations

import json
import signal
import subprocess

from ..daemon_proc import EVIDOCK, wait_for


def events(log) -> list[dict]:
    out = []
    for line in log.read_text().splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            pass
    return out


def test_sighup_applies_the_log_level_names_restart_keys_and_survives_a_bad_file(tmp_path):
    (tmp_path / "in").mkdir()
    config = tmp_path / "evidock.toml"
    base = (f'[station]\ndata_dir = "{tmp_path / "d"}"\n[usb]\nenabled = false\n'
            f'[watch]\nfolders = ["{tmp_path / "in"}"]\n[metrics]\nenabled = false\n')
    config.write_text(base + '[log]\nlevel = "warning"\nformat = "json"\n')
    log = tmp_path / "daemon.log"
    with open(log, "ab") as out:
        daemon = subprocess.Popen([*EVIDOCK, "run", "--config", str(config)], stdout=out,
                                  stderr=subprocess.STDOUT)
    try:
        wait_for(lambda: (tmp_path / "d" / "run" / "status.json").exists(), 60, 0.1,
                 what="the daemon running")
        assert not any(e["event"] == "daemon_started" for e in events(log))  # warning level
        config.write_text(base + '[log]\nlevel = "info"\nformat = "json"\n'
                          "[ingest]\nworkers = 3\n")
        daemon.send_signal(signal.SIGHUP)
        done = wait_for(lambda: [e for e in events(log) if e["event"] == "config_reloaded"],
                        30, 0.1, what="config_reloaded")
        assert (["log.level"], ["ingest.workers"]) == (done[0]["applied"],
                                                       done[0]["restart_needed"])
        config.write_text(base + "[ingest]\nworkers = -1\n")
        daemon.send_signal(signal.SIGHUP)
        failed = wait_for(lambda: [e for e in events(log) if e["event"] == "config_reload_failed"],
                          30, 0.1, what="config_reload_failed")
        assert "ingest.workers" in failed[0]["error"]
        assert None is daemon.poll()  # still running on the configuration it had
    finally:
        daemon.terminate()
        assert 0 == daemon.wait(60)
