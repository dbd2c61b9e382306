"""The kiosk page as the daemon serves it (a real ``evidock run`` on a watch folder): the
station's language and name, the officer's name, no file names, live events, loopback by
default, the review room's login, and a busy port that does not stop ingest."""

from __future__ import annotations

import json
import socket
import urllib.error
import urllib.request

import pytest

from evidock.daemon.ledger.sqlite import SqliteLedger
from tests.daemon_proc import evidock, start_daemon, wait_for

SECRET_NAME = "case-4711-witness-interview.mp4"


def config(tmp_path, language: str, port: int = 0) -> str:
    path = tmp_path / "evidock.toml"
    path.write_text(f'[station]\nname = "城关派出所 采集站 1"\nlanguage = "{language}"\n'
                    f'[metrics]\nenabled = false\n[derivatives]\nenabled = false\n'
                    f'[ingest]\nprobe = false\n[web]\nport = {port}\n', encoding="utf-8")
    return str(path)


def get(url: str, timeout: float = 5) -> str:
    with urllib.request.urlopen(url, timeout=timeout) as resp:
        assert "default-src 'self'" in resp.headers["Content-Security-Policy"]
        return resp.read().decode()


def first_event(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=10) as resp:
        assert "text/event-stream" in resp.headers["Content-Type"]
        for raw in resp:
            line = raw.decode().rstrip("\n")
            if line.startswith("data: "):
                return json.loads(line[len("data: "):])
    raise AssertionError("no event")


@pytest.fixture
def station(tmp_path, request):
    language = getattr(request, "param", "zh-CN")
    watch, data = tmp_path / "watch", tmp_path / "data"
    (watch / "DSJ-W1").mkdir(parents=True)
    (watch / "DSJ-W1" / SECRET_NAME).write_bytes(b"\0" * 200_000)
    cfg = config(tmp_path, language)
    evidock("devices", "assign", "DSJ-W1", "--officer", "012345", "--name", "张伟",
            "--data-dir", str(data), "--config", cfg)
    proc = start_daemon(data, watch, extra=("--config", cfg))

    def status():
        return json.loads(evidock("status", "--json", "--data-dir", str(data),
                                  "--config", cfg).stdout)
    try:
        doc = wait_for(lambda: (d := status()).get("tiles") and d["tiles"][0]["state"] == "safe"
                       and d, 60, 0.2, "the watched device to be handed over")
        yield doc["web"]["url"], data, cfg
    finally:
        proc.terminate()
        proc.wait(30)


def test_the_page_speaks_the_station_language_and_shows_no_file_name(station):
    url, _, _ = station
    assert url.startswith("http://127.0.0.1:")  # loopback unless configured otherwise
    page = get(url)
    assert '<html lang="zh-CN">' in page
    assert "城关派出所 采集站 1" in page and "张伟" in page and "警号 012345" in page
    assert "可以安全拔出" in page  # the watch folder's device is all handed over
    assert SECRET_NAME not in page and "case-4711" not in page
    event = first_event(url + "/events")
    assert True is event["running"] and 'data-state="safe"' in event["html"]
    assert "张伟" in event["html"] and "case-4711" not in event["html"]
    assert get(url + "/tiles").count('class="tile') == 1


@pytest.mark.parametrize("station", ["en"], indirect=True)
def test_english_when_the_station_says_so(station):
    url, _, _ = station
    page = get(url)
    assert '<html lang="en">' in page and "Safe to undock" in page and "张伟" in page
    assert "Badge 012345" in page and "可以" not in page


def test_the_review_room_asks_for_a_login_and_serves_nothing_without_one(station):
    url, _, _ = station
    review = url.replace("/station", "/review")
    request = urllib.request.Request(review, headers={"Accept": "text/html"})
    with urllib.request.urlopen(request, timeout=5) as resp:  # redirected to the login
        assert resp.url.startswith(review + "/login") and 'name="password"' in resp.read().decode()
    with pytest.raises(urllib.error.HTTPError) as err:
        get(review + "/media/1/proxy.mp4")
    assert 401 == err.value.code


def test_a_busy_port_is_said_and_recorded_and_ingest_goes_on(tmp_path):
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen(1)
    port = busy.getsockname()[1]
    watch, data = tmp_path / "watch", tmp_path / "data"
    (watch / "DSJ-W2").mkdir(parents=True)
    (watch / "DSJ-W2" / "a.mp4").write_bytes(b"\1" * 1000)
    cfg = config(tmp_path, "en", port)
    proc = start_daemon(data, watch, extra=("--config", cfg))
    try:
        wait_for(lambda: '"verified"' in evidock("ledger", "list", "--json", "--data-dir",
                                                 str(data), check=False).stdout, 60, 0.2,
                 "the file handed over")
        log = (tmp_path / "daemon.log").read_text()
        assert "web_unavailable" in log and str(port) in log
        ledger = SqliteLedger(data / "ledger.sqlite3", station="x", create=False)
        failed = [ledger.event_data(e) for e in ledger.events() if e.kind == "web_unavailable"]
        assert [port] == [d["port"] for d in failed]
    finally:
        proc.terminate()
        proc.wait(30)
        busy.close()
