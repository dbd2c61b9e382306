"""The running daemon checks on schedule and shows an alert in all three places: the ledger
(``evidock alerts list``), ``/metrics`` and the webhook."""

from __future__ import annotations

import json
import signal
import socket
import urllib.request

from ..daemon_proc import evidock, start_daemon, wait_for
from .alerts.loopback import Receiver

CASES = ("case_id,type,officers,subject,start,end,status,closed_at,sensitivity\n"
         "C-9,hearing,110009,,2026-01-02T00:00Z,2026-01-02T01:00Z,closed,2026-01-03T00:00Z,"
         "normal\n")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def scrape(port: int) -> str:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as resp:
            return resp.read().decode()
    except OSError:
        return ""


def test_an_alert_raised_by_the_daemon_reaches_the_list_metrics_and_webhook(tmp_path,
                                                                            monkeypatch):
    port = free_port()
    with Receiver() as hook:
        conf = tmp_path / "evidock.toml"
        conf.write_text(f'[station]\nid = "st-mon"\ndata_dir = "{tmp_path / "d"}"\n'
                        f'[alerts]\nwebhook_url = "{hook.url}"\n'
                        f'[metrics]\nport = {port}\n')
        env = {"EVIDOCK_CONFIG": str(conf)}
        monkeypatch.setenv("EVIDOCK_CONFIG", str(conf))  # for start_daemon
        (tmp_path / "cases.csv").write_text(CASES)
        evidock("cases", "import", str(tmp_path / "cases.csv"), env=env)
        (tmp_path / "in").mkdir()
        daemon = start_daemon(tmp_path / "d", tmp_path / "in")
        try:
            wait_for(lambda: hook.bodies, timeout=30, what="the webhook POST")
            line = 'evidock_alerts_open{rule="R10",severity="critical"} 1.0'
            wait_for(lambda: line in scrape(port), timeout=10, what="the alert on /metrics")
        finally:
            daemon.send_signal(signal.SIGTERM)
            daemon.wait(30)
    assert ("raised", "R10", "case:C-9") == (hook.bodies[0]["change"],
                                            hook.bodies[0]["alert"]["rule"],
                                            hook.bodies[0]["alert"]["subject"])
    listed = [json.loads(x) for x in evidock("alerts", "list", "--json", env=env).stdout
              .splitlines()]
    assert ["case:C-9"] == [a["subject"] for a in listed]
