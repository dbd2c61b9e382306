"""The review room on a station whose store is S3: the proxy is streamed from the bucket,
one span per request, so a player seeks without the daemon fetching the whole object."""

from __future__ import annotations

import os

import pytest

from tests.daemon.web.review_station import app_of, approve, fresh, make_template, rooms
from tests.faults.station import s3_env, s3_store
from tests.s3_fixture import module_server

pytestmark = [pytest.mark.ffmpeg, pytest.mark.s3]


# a server of the module's own: one test takes it away
server, up = module_server("review-s3")


@pytest.fixture(scope="module")
def s3_review(tmp_path_factory, server):
    """The review room's station, handed over to a bucket with Object Lock; the env keys."""
    bucket = server.make_lock_bucket("review-s3")
    env, old = s3_env(server), dict(os.environ)
    os.environ.update(env)
    try:
        extra = s3_store(server.endpoint, bucket)
        yield make_template(tmp_path_factory.mktemp("review-s3"), extra), extra
    finally:
        os.environ.clear()
        os.environ.update(old)


@pytest.fixture
def room(s3_review, tmp_path, up, monkeypatch):
    template, extra = s3_review
    for name, value in s3_env(up).items():
        monkeypatch.setenv(name, value)
    _, wiring = fresh(template, tmp_path, extra=extra)
    yield rooms(app_of(wiring)[0], wiring)
    wiring.close()


def test_a_proxy_in_s3_plays_whole_and_seeks_by_spans(room):
    archivist = room("AR1")
    approve(room, "AR1")
    assert "<video" in archivist.get("/review/media/1").text  # the view is logged
    store = room.wiring.store
    proxy = next(d for d in room.wiring.ledger.derivatives(media_id=1) if d["kind"] == "proxy")
    assert None is store.local_path(proxy["object_key"]), "the proxy is still in the spool"
    whole = store.open(proxy["object_key"]).read()
    size = len(whole)

    full = archivist.get("/review/media/1/proxy.mp4")
    assert (200, whole, "bytes") == (full.status_code, full.content,
                                     full.headers["accept-ranges"])
    assert "video/mp4" == full.headers["content-type"]
    for asked, start, end in (("bytes=100-199", 100, 200), (f"bytes={size - 10}-", size - 10,
                              size), ("bytes=-64", size - 64, size),
                              (f"bytes=0-{size * 2}", 0, size)):
        part = archivist.get("/review/media/1/proxy.mp4", headers={"Range": asked})
        assert 206 == part.status_code, asked
        assert whole[start:end] == part.content, asked
        assert f"bytes {start}-{end - 1}/{size}" == part.headers["content-range"], asked
    beyond = archivist.get("/review/media/1/proxy.mp4", headers={"Range": f"bytes={size}-"})
    assert (416, f"bytes */{size}") == (beyond.status_code, beyond.headers["content-range"])
    several = archivist.get("/review/media/1/proxy.mp4", headers={"Range": "bytes=0-1,5-9"})
    assert (200, whole) == (several.status_code, several.content)  # answered whole (RFC 9110)
    assert archivist.get("/review/media/1/sprite.jpg").content[:2] == b"\xff\xd8"
    assert archivist.get("/review/media/1/thumbnails.vtt").text.startswith("WEBVTT")


def test_a_span_of_s3_footage_still_needs_the_approved_view(room):
    officer = room("O1")
    assert 403 == officer.get("/review/media/1/proxy.mp4",
                              headers={"Range": "bytes=0-99"}).status_code


def test_with_s3_away_the_footage_answers_503_and_comes_back_with_it(room, up):
    archivist = room("AR1")
    approve(room, "AR1")
    assert "<video" in archivist.get("/review/media/1").text
    up.stop()
    away = archivist.get("/review/media/1/proxy.mp4", headers={"Range": "bytes=0-99"})
    assert (503, "30") == (away.status_code, away.headers.get("retry-after"))
    up.start()
    back = archivist.get("/review/media/1/proxy.mp4", headers={"Range": "bytes=0-99"})
    assert (206, 100) == (back.status_code, len(back.content))
