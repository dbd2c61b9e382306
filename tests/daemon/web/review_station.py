"""A station for the review room tests: three clips generated with real ffmpeg, handed over
by a real ``evidock run`` with their derivatives (proxy, poster, sprite sheet + WebVTT), the
people of the custody tests with passwords, two cases (C-1 normal, C-2 state secret) and
recordings 1 and 2 linked to C-1, 3 to C-2.  Made once per session and copied per test."""

from __future__ import annotations

import io
import os
import re
import shutil
import sys
import threading
from contextlib import contextmanager
from pathlib import Path

import structlog
from starlette.testclient import TestClient

from evidock.daemon.cli.main import main
from evidock.daemon.config import load
from evidock.daemon.web.app import Kiosk, make_app
from evidock.daemon.web.server import WebServer
from evidock.daemon.wiring import Wiring
from tests.daemon.derivatives import clips

CSV = ("case_id,type,officers,subject,start,end,status,closed_at,sensitivity\n"
       "C-1,seizure,110001,Shop A,2026-01-01T00:00Z,2026-01-01T02:00Z,open,,normal\n"
       "C-2,hearing,110009,,2026-01-02T00:00Z,2026-01-02T01:00Z,open,,secret\n"
       "C-3,inspection,110001,,2026-01-03T00:00Z,2026-01-03T01:00Z,open,,normal\n")
PEOPLE = [("A0", "Admin Liu", "admin"), ("O1", "Officer Zhang", "officer"),
          ("AR1", "Archivist Wang", "archivist"), ("AP1", "Head Chen", "approver"),
          ("AU1", "Auditor Sun", "auditor")]
PASSWORD = "correct horse battery"


def password(badge: str) -> str:
    return f"{PASSWORD} {badge}"


def write_config(folder: Path, language: str = "en", extra: str = "") -> Path:
    """The station's config; ``extra`` adds tables (an S3 ``[store]``)."""
    conf = folder / "evidock.toml"
    conf.write_text(f'[station]\nid = "st-review"\ndata_dir = "{folder / "data"}"\n'
                    f'language = "{language}"\n[alerts]\nlog = false\n'
                    '[metrics]\nenabled = false\n[derivatives]\nsprite_every_seconds = 1\n'
                    + extra,
                    encoding="utf-8")
    return conf


def call(*argv, stdin: str | None = None) -> int:
    old = sys.stdin
    if stdin is not None:
        sys.stdin = io.StringIO(stdin)
    try:
        return main(list(argv))
    finally:
        sys.stdin = old
        structlog.reset_defaults()


def make_template(folder: Path, extra: str = "") -> Path:
    watch = folder / "watch" / "DSJ-001"
    watch.mkdir(parents=True)
    for n in range(3):
        clips.scene(watch / f"REC{n}.MP4", seed=n + 1, seconds=6, size="320x180")
    conf = write_config(folder, extra=extra)
    old = os.environ.get("EVIDOCK_CONFIG")
    os.environ["EVIDOCK_CONFIG"] = str(conf)
    try:
        assert 0 == call("devices", "assign", "DSJ-001", "--officer", "110001", "--name",
                         "张伟")
        assert 0 == call("run", "--watch", str(folder / "watch"), "--settle", "0.05",
                         "--until-idle")
        for badge, name, role in PEOPLE:
            assert 0 == call("people", "add", badge, "--name", name, "--role", role,
                             *(["--by", "A0"] if badge != "A0" else []))
            assert 0 == call("people", "password", badge, "--by", "A0", "--stdin",
                             stdin=password(badge) + "\n")
        (folder / "cases.csv").write_text(CSV)
        assert 0 == call("cases", "import", str(folder / "cases.csv"), "--by", "A0")
        assert 0 == call("cases", "link", "C-1", "1", "2", "--note", "the seizure",
                         "--by", "AR1")
        assert 0 == call("cases", "link", "C-2", "3", "--note", "the hearing", "--by", "AP1")
    finally:
        os.environ.pop("EVIDOCK_CONFIG") if old is None else os.environ.update(
            EVIDOCK_CONFIG=old)
    shutil.move(folder / "data", folder / "template")
    return folder


def fresh(template: Path, into: Path, language: str = "en", extra: str = ""):
    """A copy of the template station in ``into``: its config and its wiring."""
    shutil.copytree(template / "template", into / "data")
    config = load(write_config(into, language, extra))
    return config, Wiring(config)


def app_of(wiring: Wiring, language: str = "en"):
    """The daemon's web app (kiosk and review room), built as the daemon builds it."""
    kiosk = Kiosk(lambda: None, station_name="st", language=language)
    review, secret = wiring.review_room(kiosk)
    return make_app(kiosk, review, session_secret=secret), review


class Room:
    """One browser's worth of the review room: a client with its own cookie jar."""

    def __init__(self, app, base_url: str = "http://testserver") -> None:
        self.client = TestClient(app, base_url=base_url)

    def csrf(self, path: str = "/review/login") -> str:
        return re.search(r'name="csrf" value="([^"]+)"', self.client.get(path).text).group(1)

    def login(self, badge: str, secret: str | None = None):
        return self.client.post("/review/login", data={
            "csrf": self.csrf(), "who": badge, "password": secret or password(badge)},
            follow_redirects=False)

    def post(self, path: str, data: dict, *, csrf: bool = True):
        return self.client.post(path, data={**data, **({"csrf": self.csrf()}
                                                       if csrf else {})},
                                follow_redirects=False)

    def get(self, path: str, **kw):
        return self.client.get(path, follow_redirects=False, **kw)


def rooms(app, wiring):
    """``as_(badge)``: a new browser's worth of the room, logged in as ``badge`` (None: not
    logged in); ``as_.wiring`` is the station behind it."""
    def as_(badge: str | None = None) -> Room:
        r = Room(app)
        if badge:
            assert 303 == r.login(badge).status_code
        return r

    as_.wiring = wiring
    return as_


@contextmanager
def serving(app):
    """The app on real uvicorn on a free loopback port, as the daemon serves it: its URL."""
    server = WebServer(app, bind="127.0.0.1", port=0, stopping=threading.Event())
    server.start()
    try:
        yield server.url
    finally:
        server.stop()


def approve(room, badge: str, media_id: int = 1, scope: str = "view") -> int:
    """``badge`` asks for access to recording ``media_id`` of C-1, Head Chen approves, in
    the web; the request's id."""
    asker = room(badge)
    assert 303 == asker.post(f"/review/media/{media_id}/request",
                             {"case": "C-1", "purpose": "review of the seizure",
                              "scope": scope}).status_code
    rid = max(r["id"] for r in room.wiring.ledger.access_requests())
    head = room("AP1")
    assert 303 == head.post(f"/review/requests/{rid}/decide",
                            {"decision": "approve", "reason": "ok"}).status_code
    return rid
