"""In the daemon a webhook receiver that stalls or is down never holds up a check run: the
checks hand each change to the sender thread, which delivers it (real HTTP servers on
loopback) and keeps what the receiver did not take in the ledger's outbox."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from evidock.daemon.alerts.book import AlertBook, Finding
from evidock.daemon.alerts.sinks import WebhookSender, WebhookSink
from evidock.daemon.wiring import build_compliance

from ...daemon_proc import wait_for
from ..world import World
from .loopback import Receiver

F = Finding("archive:case:C1", "R7", "critical", "case:C1", "archive case C1")


class Stalling:
    """A receiver that takes ``stall`` seconds before it answers each POST."""

    def __init__(self, stall: float) -> None:
        self.bodies: list[dict] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                time.sleep(stall)
                receiver.bodies.append(json.loads(body))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def sender_world(tmp_path, url: str, **sink) -> tuple[World, WebhookSender]:
    world = World(tmp_path)
    sender = WebhookSender(AlertBook(world.ledger, [WebhookSink(url, station="st-test", **sink)]),
                           redeliver_seconds=0.2)
    world.c = build_compliance(world.config, world.ledger, world.store, sinks=[sender.handoff])
    return world, sender


def test_a_stalling_receiver_does_not_delay_the_check_run(tmp_path):
    hook = Stalling(3.0)
    world, sender = sender_world(tmp_path, hook.url, timeout=10)
    try:
        world.clock.advance(days=60)
        started = time.monotonic()
        world.c.alerts.sync("archive", [F])
        result = world.c.runner.run("handover")
        took = time.monotonic() - started
        assert result.ok and took < 1.0, took
        wait_for(lambda: hook.bodies, 20, what="the POST to arrive in the end")
        assert ["raised"] == [b["change"] for b in hook.bodies]
    finally:
        sender.stop()
        hook.close()


def test_a_change_the_receiver_refused_is_kept_in_the_outbox_and_sent_in_order(tmp_path):
    with Receiver(fail_first=1) as hook:
        world, sender = sender_world(tmp_path, hook.url, retries=0)
        try:
            world.c.alerts.sync("archive", [F])  # refused (503): to the outbox
            world.c.alerts.sync("archive", [])  # resolved: behind it, in order
            wait_for(lambda: len(hook.bodies) == 2, 20, what="both changes delivered")
        finally:
            sender.stop()
    assert ["raised", "resolved"] == [b["change"] for b in hook.bodies]
    kinds = [e.kind for e in world.ledger.events(subject="alert:1")]
    assert 1 == kinds.count("alert_delivery_failed")
    assert 1 == kinds.count("alert_delivered")  # the late one; direct deliveries need none


def test_stop_sends_what_is_queued_before_the_daemon_ends(tmp_path):
    with Receiver() as hook:
        world, sender = sender_world(tmp_path, hook.url)
        world.c.alerts.sync("archive", [F])
        sender.stop()
    assert ["raised"] == [b["change"] for b in hook.bodies]
