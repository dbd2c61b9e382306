"""The Grafana dashboard in config/ only queries metrics the daemon really serves."""

from __future__ import annotations

import json
import re
from pathlib import Path

from prometheus_client import generate_latest

from evidock.daemon.alerts.book import Finding
from evidock.daemon.metrics import StationCollector, registry_for

from .daemon.world import World

DASHBOARD = Path(__file__).resolve().parents[1] / "config" / "grafana-dashboard.json"


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
