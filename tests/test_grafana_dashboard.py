"""The Grafana dashboard in config/ only queries metrics the daemon really serves."""

from __future__ import annotations

import json
import re
import shutil
import socket
import subprocess
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from prometheus_client import generate_latest

from evidock.daemon.alerts.book import Finding
from evidock.daemon.metrics import StationCollector, registry_for

from .daemon.test_service import make_footage
from .daemon.world import World
from .daemon_proc import start_daemon, wait_for

DASHBOARD = Path(__file__).resolve().parents[1] / "config" / "grafana-dashboard.json"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_every_query_uses_a_metric_the_daemon_serves(tmp_path):
    world = World(tmp_path)
    world.device("DSJ-1")
    world.found()  # a recording waiting: the deadline metric is served
    world.c.alerts.sync("archive", [Finding("k", "R7", "warning", "case:1", "x")])
    collector = StationCollector(world.ledger, world.c.alerts, spool_bytes=lambda: 0)
    served = set(re.findall(r"^(evidock_[a-z_]+)", generate_latest(registry_for(collector))
                            .decode(), re.M))
    doc = json.loads(DASHBOARD.read_text())
    used = {name for panel in doc["panels"] for t in panel["targets"]
            for name in re.findall(r"evidock_[a-z_]+", t["expr"])}
    assert used and used <= served, used - served
    assert len({p["id"] for p in doc["panels"]}) == len(doc["panels"])


def test_the_dashboard_declares_no_import_input_it_does_not_use():
    doc = json.loads(DASHBOARD.read_text())
    text = DASHBOARD.read_text()
    unused = [i["name"] for i in doc.get("__inputs", []) if "${" + i["name"] + "}" not in text]
    assert [] == unused


@pytest.mark.slow
def test_every_tile_shows_a_number_from_a_real_daemon_scraped_by_prometheus(tmp_path):
    """A real daemon serves /metrics and a real Prometheus scrapes it; every stat tile's query
    then returns a value (0 where nothing is there, such as the spool of a local store), not
    "No data", and every metric the dashboard names is in what the daemon served."""
    prometheus = shutil.which("prometheus")
    assert prometheus, "Debian's prometheus package is missing (bash tools/setup --test)"
    make_footage(tmp_path / "in", "CAM-GRAF", {"a.mp4": 1000})
    port, prom_port = free_port(), free_port()
    config = tmp_path / "evidock.toml"
    config.write_text(f'[station]\ndata_dir = "{tmp_path / "d"}"\n[usb]\nenabled = false\n'
                      f'[metrics]\nport = {port}\n[ingest]\nprobe = false\n')
    prom_config = tmp_path / "prometheus.yml"
    prom_config.write_text("global:\n  scrape_interval: 1s\nscrape_configs:\n"
                           "  - job_name: evidock\n    static_configs:\n"
                           f"      - targets: ['127.0.0.1:{port}']\n")
    daemon = start_daemon(tmp_path / "d", tmp_path / "in",
                          extra=("--config", str(config), "--settle", "0", "--no-derivatives"))
    prom = subprocess.Popen([prometheus, f"--config.file={prom_config}",
                             f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                             f"--web.listen-address=127.0.0.1:{prom_port}"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        def query(expr: str) -> list:
            url = (f"http://127.0.0.1:{prom_port}/api/v1/query?"
                   + urllib.parse.urlencode({"query": expr}))
            try:
                with urllib.request.urlopen(url, timeout=5) as resp:
                    return json.loads(resp.read())["data"]["result"]
            except OSError:
                return []

        wait_for(lambda: [r for r in query('evidock_handed_over_files_total{job="evidock"}')
                          if r["value"][1] == "1"], 60, 0.5, what="Prometheus scraping a daemon "
                 "that handed over its recording")
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
            served = set(re.findall(r"^(?:# TYPE )?(evidock_[a-z_]+)", resp.read().decode(),
                                    re.M))
        doc = json.loads(DASHBOARD.read_text())
        used = {name for panel in doc["panels"] for t in panel["targets"]
                for name in re.findall(r"evidock_[a-z_]+", t["expr"])}
        # only while something waits, and only for S3 stores: their tiles say so (noValue)
        absent_by_design = {"evidock_next_handover_deadline_seconds", "evidock_spool_bytes"}
        assert used <= served | absent_by_design, used - served
        values = {}
        for panel in doc["panels"]:
            if panel["type"] != "stat":
                continue
            expr = panel["targets"][0]["expr"].replace("$instance", ".*")
            result = query(expr)
            values[panel["title"]] = result[0]["value"][1] if result else None
        empty = [t for t, v in values.items() if v is None and t != "Next handover deadline"]
        assert [] == empty, values
        assert "1" == values["Recordings handed over"]
        assert ("0", "0") == (values["Waiting to be handed over"], values["Spool (waiting for S3)"])
    finally:
        prom.terminate()
        daemon.terminate()
        prom.wait(30)
        daemon.wait(60)
