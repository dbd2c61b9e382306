"""The /metrics endpoint, scraped over HTTP on loopback."""

from __future__ import annotations

import urllib.request
from datetime import timedelta

import pytest
from prometheus_client.parser import text_string_to_metric_families

from evidock.daemon.alerts.book import Finding
from evidock.daemon.metrics import StationCollector, registry_for, serve

from .world import T0, World


@pytest.fixture
def scrape(tmp_path):
    servers = []

    def get(world, **kw):
        if not servers:
            collector = StationCollector(world.ledger, world.c.alerts, clock=world.clock, **kw)
            servers.append(serve(registry_for(collector), bind="127.0.0.1", port=0))
        port = servers[0][0].server_address[1]
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
            text = resp.read().decode()
        return {(s.name, tuple(sorted(s.labels.items()))): s.value
                for fam in text_string_to_metric_families(text) for s in fam.samples}

    yield get
    for server, _thread in servers:
        server.shutdown()
        server.server_close()


def test_files_bytes_queue_and_oldest_pending_age_are_served(tmp_path, scrape):
    world = World(tmp_path)
    done = world.handed_over()
    world.found(recorded_at=T0 - timedelta(hours=5))
    m = scrape(world)
    assert 1 == m[("evidock_handed_over_files_total", ())]
    assert done.size == m[("evidock_handed_over_bytes_total", ())]
    assert 1 == m[("evidock_queue_depth", ())]
    assert 5 * 3600 == m[("evidock_oldest_pending_recording_age_seconds", ())]
    assert 19 * 3600 == m[("evidock_next_handover_deadline_seconds", ())]


def test_open_alerts_are_counted_by_rule_and_severity_and_drop_when_resolved(tmp_path, scrape):
    world = World(tmp_path)
    world.c.alerts.sync("archive", [Finding("a", "R7", "critical", "case:1", "x"),
                                    Finding("b", "R10", "warning", "case:2", "y")])
    m = scrape(world)
    assert 1 == m[("evidock_alerts_open", (("rule", "R7"), ("severity", "critical")))]
    assert 1 == m[("evidock_alerts_open", (("rule", "R10"), ("severity", "warning")))]
    world.c.alerts.sync("archive", [])
    m = scrape(world)
    assert ("evidock_alerts_open", (("rule", "R7"), ("severity", "critical"))) not in m


def test_device_state_and_spool_size(tmp_path, scrape):
    world = World(tmp_path)
    world.device("DSJ-7")
    world.ledger.record_undock("DSJ-7", "usb-1")  # at the world's clock, T0
    m = scrape(world, spool_bytes=lambda: 4096)
    assert 1 == m[("evidock_device_state", (("serial", "DSJ-7"), ("state", "away")))]
    assert 0 == m[("evidock_device_state", (("serial", "DSJ-7"), ("state", "docked")))]
    assert 4096 == m[("evidock_spool_bytes", ())]


def test_dead_and_stuck_workers_and_a_pause_are_served(tmp_path, scrape):
    world = World(tmp_path)
    live = {"queued": 0, "retrying": 1, "devices": [],
            "paused": {"cause": "ledger", "error": "database or disk is full"},
            "workers": [
                {"name": "ingest-0", "alive": False, "stuck": False, "last_beat_age_s": 7.0},
                {"name": "ingest-1", "alive": True, "stuck": True, "last_beat_age_s": 400.0},
                {"name": "ingest-2", "alive": True, "stuck": False, "last_beat_age_s": 0.5}]}
    m = scrape(world, status=lambda: live)
    assert (2, 1, 1) == tuple(m[("evidock_workers", (("state", s),))]
                              for s in ("alive", "dead", "stuck"))
    assert 400.0 == m[("evidock_worker_heartbeat_age_seconds", (("worker", "ingest-1"),))]
    assert (1, 0) == (m[("evidock_ingest_paused", (("cause", "ledger"),))],
                      m[("evidock_ingest_paused", (("cause", "store"),))])
