"""A webhook URL's password and token never reach the screen, the log or the append-only
ledger (where nothing could ever remove them); the names of the variables that hold secrets
are shown, since they are no secret."""

from __future__ import annotations

import io
import json

import structlog

from evidock.daemon import logging as evidock_logging
from evidock.daemon.alerts.book import Finding
from evidock.daemon.alerts.sinks import WebhookSink
from evidock.daemon.redact import redact_url

from ...daemon_proc import evidock
from ..world import World
from .loopback import Receiver
from .test_webhook_down import closed_port

SECRETS = ("hunter2", "tok-dd-123456", "wecom-key-987")


def test_config_check_masks_url_credentials_and_tokens_but_not_variable_names(tmp_path):
    config = tmp_path / "evidock.toml"
    config.write_text('[alerts]\nwebhook_url = "https://ops:hunter2@alerts.example/robot/send'
                      '?access_token=tok-dd-123456&key=wecom-key-987&lang=zh"\n'
                      '[usb]\nenabled = false\n')
    out = evidock("config", "check", "--config", str(config)).stdout
    for secret in SECRETS:
        assert secret not in out
    assert ("https://ops:****@alerts.example/robot/send?access_token=****&key=****&lang=zh"
            in out)
    assert 'webhook_secret_env = "EVIDOCK_WEBHOOK_SECRET"' in out
    assert 'secret_key_env = "EVIDOCK_S3_SECRET_KEY"' in evidock(
        "config", "check", "--config", str(_s3(tmp_path))).stdout


def _s3(tmp_path):
    path = tmp_path / "s3.toml"
    path.write_text('[store]\ntype = "s3"\nendpoint = "http://127.0.0.1:9"\nbucket = "evidence"\n')
    return path


def test_a_failed_delivery_puts_no_secret_in_the_ledger_or_the_log(tmp_path):
    out = io.StringIO()
    evidock_logging.configure("info", "json", stream=out)
    try:
        url = (f"http://ops:hunter2@127.0.0.1:{closed_port()}/hook?access_token=tok-dd-123456"
               "&key=wecom-key-987")
        sink = WebhookSink(url, station="st-test", retries=1, timeout=1, sleep=lambda s: None)
        world = World(tmp_path, sinks=[sink])
        world.c.alerts.sync("fixity", [Finding("k", "R4", "critical", "media:1", "x")])
        structlog.get_logger("t").error("probe", url=url, nested={"u": [url]})
    finally:
        evidock_logging.configure("info", "json")
    failed = [json.loads(e.data) for e in world.ledger.events()
              if e.kind == "alert_delivery_failed"]
    assert 1 == len(failed)
    assert redact_url(url) in failed[0]["error"]
    ledger_text = "\n".join(e.data for e in world.ledger.events())
    for secret in SECRETS:
        assert secret not in ledger_text
        assert secret not in out.getvalue()
    assert "ops:****@127.0.0.1" in out.getvalue()


def test_user_and_password_in_the_url_are_sent_as_basic_auth(tmp_path):
    import base64

    with Receiver() as hook:
        url = hook.url.replace("http://", "http://ops:hunter2@")
        world = World(tmp_path, sinks=[WebhookSink(url, station="st-test")])
        world.c.alerts.sync("fixity", [Finding("k", "R4", "critical", "media:1", "x")])
    assert ["raised"] == [b["change"] for b in hook.bodies]
    assert "Basic " + base64.b64encode(b"ops:hunter2").decode() == \
        hook.headers[0]["Authorization"]
