"""The review room failing never takes the kiosk down: a session key file that is not a key
is said and recorded (``review_unavailable``), the kiosk is served, and ``/review`` answers
503 without serving anything."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest

from evidock.daemon.ledger.sqlite import SqliteLedger
from evidock.daemon.web.auth import KEY_FILE
from tests.daemon.web.test_kiosk_http import config
from tests.daemon_proc import evidock, start_daemon, wait_for


def test_a_broken_session_key_leaves_the_kiosk_up_and_the_room_closed(tmp_path):
    watch, data = tmp_path / "watch", tmp_path / "data"
    (watch / "DSJ-W1").mkdir(parents=True)
    data.mkdir()
    (data / KEY_FILE).write_text("")  # as a disk that lost the file's contents
    cfg = config(tmp_path, "en")
    proc = start_daemon(data, watch, extra=("--config", cfg))
    try:
        status_file = data / "run" / "status.json"  # the daemon's own, once it runs
        wait_for(status_file.exists, 60, 0.2, "the daemon to start")
        doc = wait_for(lambda: (d := json.loads(evidock(
            "status", "--json", "--data-dir", str(data), "--config", cfg).stdout)).get("web")
            and d, 60, 0.2, "the web pages to be served")
        url = doc["web"]["url"]
        with urllib.request.urlopen(url, timeout=5) as resp:
            assert 200 == resp.status
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(url.replace("/station", "/review/login"), timeout=5)
        assert 503 == err.value.code
    finally:
        proc.terminate()
        proc.wait(30)
    [event] = SqliteLedger(data / "ledger.sqlite3", station="x").events(
        kinds=["review_unavailable"])
    assert "not a session key" in json.loads(event.data)["error"]
