"""A webhook that is down loses nothing: the alert is in the ledger, and the failed delivery
is recorded there too."""

from __future__ import annotations

import json
import socket

from evidock.daemon.alerts.book import Finding
from evidock.daemon.alerts.sinks import WebhookSink

from ..world import World
from .loopback import Receiver


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_receiver_that_is_down_is_recorded_as_a_failed_delivery(tmp_path):
    sink = WebhookSink(f"http://127.0.0.1:{closed_port()}/hook", station="st-test", retries=2,
                       timeout=1, sleep=lambda s: None)
    world = World(tmp_path, sinks=[sink])
    world.c.alerts.sync("fixity", [Finding("fixity:media:1", "R4", "critical", "media:1", "x")])
    assert 1 == len(world.open_alerts())
    failed = [e for e in world.ledger.events() if e.kind == "alert_delivery_failed"]
    assert 1 == len(failed)
    data = json.loads(failed[0].data)
    assert ("webhook", "raised", 1) == (data["sink"], data["change"], data["alert_id"])
    assert "after 3 tries" in data["error"]


def test_a_receiver_that_keeps_answering_5xx_is_a_failed_delivery(tmp_path):
    with Receiver(fail_first=99) as hook:
        sink = WebhookSink(hook.url, station="st-test", retries=1, sleep=lambda s: None)
        world = World(tmp_path, sinks=[sink])
        world.c.alerts.sync("fixity", [Finding("k", "R4", "critical", "media:1", "x")])
    assert 2 == hook.requests
    failed = [json.loads(e.data) for e in world.ledger.events()
              if e.kind == "alert_delivery_failed"]
    assert "HTTP 503" in failed[0]["error"]


def test_changes_missed_while_down_are_sent_in_order_once_the_receiver_is_back(tmp_path):
    with Receiver(fail_first=2) as hook:
        sink = WebhookSink(hook.url, station="st-test", retries=0, sleep=lambda s: None)
        world = World(tmp_path, sinks=[sink])
        f = Finding("fixity:media:1", "R4", "critical", "media:1", "x")
        world.c.alerts.sync("fixity", [f])  # refused (503)
        world.c.alerts.sync("fixity", [])  # queued behind it, not sent out of order
        assert [] == hook.bodies
        assert 0 == world.c.alerts.redeliver()  # still down: the run stops at the first
        assert 2 == world.c.alerts.redeliver()  # back: both, oldest first
    assert ["raised", "resolved"] == [b["change"] for b in hook.bodies]
    assert 0 == world.c.alerts.redeliver()
    kinds = [e.kind for e in world.ledger.events(subject="alert:1")]
    assert 2 == kinds.count("alert_delivered")
