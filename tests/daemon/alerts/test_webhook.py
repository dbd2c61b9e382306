"""Alert changes reach a webhook as JSON POSTs (a real HTTP server on loopback)."""

from __future__ import annotations

from evidock.daemon.alerts.book import Finding
from evidock.daemon.alerts.sinks import WebhookSink

from ..world import World
from .loopback import Receiver

F = Finding("archive:case:C1", "R7", "critical", "case:C1", "archive case C1")


def test_raised_acknowledged_and_resolved_are_posted_in_order(tmp_path):
    with Receiver() as hook:
        world = World(tmp_path, sinks=[WebhookSink(hook.url, station="st-test")])
        world.c.alerts.sync("archive", [F])
        world.c.alerts.acknowledge(1, by="Li")
        world.c.alerts.sync("archive", [])
    assert ["raised", "acknowledged", "resolved"] == [b["change"] for b in hook.bodies]
    first = hook.bodies[0]
    assert ("st-test", "R7", "critical", "case:C1", "archive case C1") == (
        first["station"], first["alert"]["rule"], first["alert"]["severity"],
        first["alert"]["subject"], first["alert"]["message"])


def test_a_failing_receiver_is_retried_until_it_accepts(tmp_path):
    delays = []
    with Receiver(fail_first=2) as hook:
        sink = WebhookSink(hook.url, station="st-test", retries=3, backoff=0.5,
                           sleep=delays.append)
        world = World(tmp_path, sinks=[sink])
        world.c.alerts.sync("archive", [F])
    assert 3 == hook.requests
    assert [0.5, 1.0] == delays
    assert ["raised"] == [b["change"] for b in hook.bodies]
    assert [] == [e for e in world.ledger.events() if e.kind == "alert_delivery_failed"]


def test_with_a_secret_each_post_is_signed_so_the_receiver_can_check_it(tmp_path):
    import hashlib
    import hmac

    with Receiver() as hook:
        world = World(tmp_path, sinks=[WebhookSink(hook.url, station="st-test", secret="s3cr3t")])
        world.c.alerts.sync("archive", [F])
    headers, body = hook.headers[0], hook.raw[0]
    want = hmac.new(b"s3cr3t", headers["X-Evidock-Timestamp"].encode() + b"." + body,
                    hashlib.sha256).hexdigest()
    assert hmac.compare_digest("sha256=" + want, headers["X-Evidock-Signature"])


def test_without_a_secret_posts_carry_no_signature(tmp_path):
    with Receiver() as hook:
        world = World(tmp_path, sinks=[WebhookSink(hook.url, station="st-test")])
        world.c.alerts.sync("archive", [F])
    assert "X-Evidock-Signature" not in hook.headers[0]


def test_the_secret_is_read_from_systemd_credentials(tmp_path, monkeypatch):
    from evidock.daemon.config import Config
    from evidock.daemon.wiring import Wiring

    (tmp_path / "webhook-secret").write_text("from-creds\n")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(tmp_path))
    config = Config.model_validate({"alerts": {"webhook_url": "http://127.0.0.1:9/x"}})
    (webhook,) = [s for s in Wiring(config).sinks if isinstance(s, WebhookSink)]
    assert "from-creds" == webhook.secret
    assert "from-creds" not in str(config.model_dump())
