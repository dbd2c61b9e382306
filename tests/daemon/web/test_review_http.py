"""The review room's routes called directly (Starlette's TestClient on the daemon's own app,
over a station made with real ffmpeg, a real ledger and store): no session, a wrong CSRF
token, the wrong person and a person without clearance are refused on the server; footage
bytes are served only under an approved request whose view is in the access log."""

from __future__ import annotations

import json
import os
import re
import stat
import time

import pytest

from evidock.daemon.web.auth import KEY_FILE, Limiter, session_key
from evidock.daemon.wiring import Wiring
from tests.daemon.web.review_station import Room, app_of, approve, password, rooms

pytestmark = pytest.mark.ffmpeg

HTML = {"accept": "text/html"}


@pytest.fixture
def room(review_station):
    config, wiring = review_station
    app, review = app_of(wiring)
    as_ = rooms(app, wiring)
    as_.review, as_.config, as_.app = review, config, app
    return as_


def kinds(wiring, kind: str) -> list[dict]:
    return [e for e in wiring.ledger.access_events() if e["kind"] == kind]


def test_without_a_session_pages_go_to_the_login_and_everything_else_is_401(room):
    anon = room()
    page = anon.get("/review/media/1", headers=HTML)
    assert 303 == page.status_code and page.headers["location"].startswith("/review/login")
    for path in ("/review/media/1/proxy.mp4", "/review/media/1/thumbnails.vtt",
                 "/review/media/1/sprite.jpg", "/review", "/review/access-log"):
        assert 401 == anon.get(path).status_code, path
    assert 401 == anon.post("/review/media/1/link", {"case": "C-3", "note": "x"}).status_code
    assert 401 == anon.post("/review/requests/1/decide", {"decision": "approve"}).status_code


def test_a_state_changing_request_without_the_sessions_csrf_token_is_refused(room):
    archivist = room("AR1")
    bad = archivist.post("/review/media/1/link", {"case": "C-3", "note": "x"}, csrf=False)
    assert 403 == bad.status_code
    forged = archivist.client.post("/review/media/1/link", data={
        "case": "C-3", "note": "x", "csrf": "forged"}, follow_redirects=False)
    assert 403 == forged.status_code
    assert [] == [lk for lk in room.wiring.ledger.case_links("C-3")]
    login = room().client.post("/review/login", data={"who": "AR1",
                                                       "password": password("AR1")})
    assert 403 == login.status_code  # the login form carries a token too


def test_a_wrong_password_is_401_and_after_five_failures_in_a_minute_429(room):
    guest = room()
    assert 401 == guest.login("AR1", "not the password").status_code
    assert 401 == guest.login("nobody", "not the password").status_code
    for _ in range(3):
        assert 401 == guest.login("AR1", "still not it").status_code
    limited = guest.login("AR1")  # even the right password waits: the address is over
    assert 429 == limited.status_code
    assert 1 <= int(limited.headers["Retry-After"]) <= 60


def test_the_login_limit_also_holds_per_person_across_addresses_and_forgets(room):
    clock = [0.0]
    limiter = Limiter(clock=lambda: clock[0])
    for n in range(5):
        assert None is limiter.wait(f"addr:10.0.0.{n}", "user:ar1")
        limiter.fail(f"addr:10.0.0.{n}", "user:ar1")
    assert 60 == limiter.wait("addr:10.0.0.99", "user:ar1")
    assert None is limiter.wait("addr:10.0.0.99", "user:ap1")  # another person may
    clock[0] = 45.0
    assert 15 == limiter.wait("addr:10.0.0.99", "user:ar1")
    clock[0] = 60.5
    assert None is limiter.wait("addr:10.0.0.99", "user:ar1")


def test_people_sharing_the_stations_address_log_in_as_often_as_they_need(room):
    for _ in range(4):
        for badge in ("AR1", "AP1", "AU1"):
            assert 303 == room().login(badge).status_code


def test_the_session_cookie_is_httponly_samesite_strict_and_secure_over_https(room):
    plain = room().login("AR1").headers["set-cookie"]
    assert "httponly" in plain.lower() and "samesite=strict" in plain.lower()
    assert "path=/review" in plain.lower() and "secure" not in plain.lower()
    tls = Room(room.app, base_url="https://testserver").login("AR1").headers["set-cookie"]
    assert "secure" in tls.lower()


def test_the_session_key_is_made_once_with_mode_0600(room):
    path = room.config.data_dir / KEY_FILE
    assert 0o600 == stat.S_IMODE(os.stat(path).st_mode)
    before = path.read_text()
    _, again = app_of(room.wiring)  # a daemon restart keeps people logged in
    assert before == path.read_text()


@pytest.mark.parametrize(("badge", "method", "path", "data"), [
    ("AU1", "post", "/review/media/1/link", {"case": "C-3", "note": "x"}),
    ("O1", "post", "/review/media/1/link", {"case": "C-3", "note": "x"}),
    ("AR1", "post", "/review/requests/1/decide", {"decision": "approve"}),
    ("AU1", "post", "/review/media/1/request", {"case": "C-1", "purpose": "p"}),
    ("A0", "get", "/review/media/1", None),
    ("A0", "get", "/review/media/1/proxy.mp4", None),
    ("O1", "get", "/review/access-log", None),
    ("AR1", "get", "/review/access-log", None),  # as `evidock access log`: auditors
    ("AU1", "post", "/review/exports", {"request": "1"}),
])
def test_the_wrong_person_is_refused_on_the_server_and_the_refusal_is_logged(
        room, badge, method, path, data):
    person = room(badge)
    got = person.get(path) if method == "get" else person.post(path, data)
    assert 403 == got.status_code, got.text
    refusal = kinds(room.wiring, "access_refused")[-1]
    assert badge == refusal["person"]


def test_a_sensitive_recording_is_neither_listed_nor_found_nor_served_without_clearance(
        room):
    archivist = room("AR1")  # archivists are cleared for normal and privacy, not secrets
    page = archivist.get("/review").text
    assert 'data-media="1"' in page and 'data-media="2"' in page
    assert 'data-media="3"' not in page and "1 outside your clearance not shown" in page
    secret = room.wiring.ledger.media(3)
    by_hash = archivist.get(f"/review?hash={secret.blake3[:12]}").text
    assert 'data-media="3"' not in by_hash and "outside your clearance" in by_hash
    assert 404 == archivist.get("/review/media/3").status_code
    assert 404 == archivist.get("/review/media/3/proxy.mp4").status_code
    assert 'data-media="3"' not in archivist.get("/review?case=C-2").text
    refused = kinds(room.wiring, "access_refused")
    assert {"list", "show"} <= {e["action"] for e in refused if e["person"] == "AR1"}
    head = room("AP1")  # the agency head is cleared for every label
    assert 'data-media="3"' in head.get("/review").text
    assert 200 == head.get("/review/media/3").status_code


def test_the_search_filters_by_officer_device_case_state_time_and_hash(room):
    archivist = room("AR1")

    def ids(query: str) -> list[str]:
        return re.findall(r'data-media="(\d+)"', archivist.get("/review?" + query).text)

    assert ["1", "2"] == ids("officer=110001")
    assert [] == ids("officer=999999")
    assert ["1", "2"] == ids("device=DSJ-001&state=verified")
    assert [] == ids("state=failed")
    assert ["1", "2"] == ids("case=C-1")
    assert [] == ids("case=C-3")
    assert [] == ids("since=2099-01-01T00:00Z")
    assert ["1", "2"] == ids("until=2099-01-01T00:00Z")
    b3 = room.wiring.ledger.media(2).blake3
    assert ["2"] == ids(f"hash={b3[:10]}")


def test_footage_is_served_only_under_an_approved_request_and_each_view_is_logged(room):
    archivist = room("AR1")
    page = archivist.get("/review/media/1").text
    assert 'id="request-access"' in page and "<video" not in page
    assert 403 == archivist.get("/review/media/1/proxy.mp4").status_code
    rid = approve(room, "AR1")
    assert 403 == archivist.get("/review/media/1/proxy.mp4").status_code  # no view logged yet
    page = archivist.get("/review/media/1").text
    assert "<video" in page and "/review/media/1/proxy.mp4" in page
    [viewed] = kinds(room.wiring, "access_viewed")
    assert ("AR1", rid, [1], "AP1") == (viewed["person"], viewed["request_id"],
                                         viewed["media_ids"], viewed["approved_by"])
    proxy = next(d for d in room.wiring.ledger.derivatives(media_id=1) if d["kind"] == "proxy")
    whole = room.wiring.store.open(proxy["object_key"]).read()
    part = archivist.get("/review/media/1/proxy.mp4", headers={"Range": "bytes=100-199"})
    assert 206 == part.status_code and whole[100:200] == part.content
    assert f"bytes 100-199/{len(whole)}" == part.headers["content-range"]
    assert "video/mp4" == part.headers["content-type"]
    vtt = archivist.get("/review/media/1/thumbnails.vtt")
    assert vtt.text.startswith("WEBVTT") and "sprite.jpg#xywh=" in vtt.text
    assert archivist.get("/review/media/1/sprite.jpg").content[:2] == b"\xff\xd8"
    # recording 2 is in the same case but outside the request's scope
    assert 403 == archivist.get("/review/media/2/proxy.mp4").status_code
    assert "<video" not in archivist.get("/review/media/2").text
    # another person with the same session cookie name gets nothing of it
    assert 403 == room("O1").get("/review/media/1/proxy.mp4").status_code


def test_an_expired_approval_stops_the_bytes_at_once(room):
    archivist = room("AR1")
    assert 303 == archivist.post("/review/media/1/request",
                                 {"case": "C-1", "purpose": "p"}).status_code
    custody = room.wiring.custody
    rid = room.wiring.ledger.access_requests()[-1]["id"]
    custody.decide(custody.people.resolve("AP1"), rid, approve=True, reason="brief",
                   days=1.5 / 86400)
    assert "<video" in archivist.get("/review/media/1").text
    assert 200 == archivist.get("/review/media/1/proxy.mp4").status_code
    time.sleep(2)
    assert 403 == archivist.get("/review/media/1/proxy.mp4").status_code
    assert "<video" not in archivist.get("/review/media/1").text


def test_an_archivist_links_a_recording_to_a_case_with_a_note(room):
    archivist = room("AR1")
    got = archivist.post("/review/media/2/link", {"case": "C-3", "note": "the shop front",
                                                  "kind": "candidate"})
    assert 303 == got.status_code
    [link] = room.wiring.ledger.case_links("C-3")
    assert (2, "candidate", "the shop front", "AR1") == (
        link["media_id"], link["kind"], link["note"], link["linked_by"])
    assert "the shop front" in archivist.get("/review/media/2").text
    # a case of a label the archivist is not cleared for is not offered, nor takes a link
    assert "<option>C-3</option>" in archivist.get("/review/media/2").text
    assert "<option>C-2</option>" not in archivist.get("/review/media/2").text
    assert 403 == archivist.post("/review/media/2/link", {"case": "C-2",
                                                          "note": "x"}).status_code


def test_an_export_runs_in_the_background_and_shows_where_its_bag_is(room):
    rid = approve(room, "AR1", scope="export")
    archivist = room("AR1")
    assert 303 == archivist.post("/review/exports", {"request": str(rid)}).status_code
    deadline = time.monotonic() + 60
    while 'data-state="running"' in (page := archivist.get("/review/exports").text):
        assert time.monotonic() < deadline, page
        time.sleep(0.2)
    assert 'data-state="done"' in page, page
    bag = room.config.data_dir / "exports"
    [folder] = list(bag.iterdir())
    assert str(folder) in page and (folder / "bagit.txt").exists()
    [exported] = kinds(room.wiring, "case_exported")
    assert ("AR1", rid, [1]) == (exported["person"], exported["request_id"],
                                 exported["media_ids"])
    # the daemon restarted: the list of jobs is new, the finished bag is still listed
    again = Wiring(room.config)
    try:
        after = Room(app_of(again)[0])
        assert 303 == after.login("AR1").status_code
        page = after.get("/review/exports").text
        assert 'data-state="done"' in page and str(folder) in page
        head = Room(app_of(again)[0])
        assert 303 == head.login("AP1").status_code
        assert "No export started here yet." in head.get("/review/exports").text  # not theirs
    finally:
        again.close()


def test_an_approver_decides_in_the_web_but_never_their_own_request(room):
    head = room("AP1")
    assert 303 == head.post("/review/media/1/request", {"case": "C-1",
                                                         "purpose": "p"}).status_code
    rid = room.wiring.ledger.access_requests()[-1]["id"]
    assert f'data-request="{rid}"' not in head.get("/review/requests").text
    assert 403 == head.post(f"/review/requests/{rid}/decide",
                            {"decision": "approve"}).status_code
    assert "pending" == room.wiring.ledger.access_request(rid)["state"]


def test_the_access_log_page_shows_the_view(room):
    approve(room, "AR1")
    room("AR1").get("/review/media/1")
    for reader in ("AU1", "A0", "AP1"):
        log_page = room(reader).get("/review/access-log").text
        assert 'data-kind="access_viewed"' in log_page and "AR1" in log_page


def test_a_password_is_kept_as_a_scrypt_hash_outside_the_chain(room):
    ledger = room.wiring.ledger
    assert ledger.credential("AR1").startswith("scrypt$16384$8$1$")
    events = [json.loads(e.data) for e in ledger.events(kinds=["person_password_set"])]
    assert 5 == len(events) and all(set(e) == {"person_id", "by", "set_at"} for e in events)
    assert ledger.verify().ok


def test_a_retired_person_is_logged_out_at_their_next_click(room):
    archivist = room("AR1")
    assert 200 == archivist.get("/review").status_code
    custody = room.wiring.custody
    custody.people.register(person_id="AR1", name="Archivist Wang", role="archivist",
                            unit=None, os_user=None, clearance=[], by="A0", active=False)
    assert 401 == archivist.get("/review").status_code
    assert 401 == room().login("AR1").status_code


def test_the_room_speaks_the_station_language(review_station):
    _, wiring = review_station
    app, _ = app_of(wiring, language="zh-CN")
    chinese = Room(app)
    page = chinese.client.get("/review/login").text
    assert '<html lang="zh-CN">' in page and "调阅室" in page and "警号或工号" in page
    assert 303 == chinese.login("AR1").status_code
    found = chinese.client.get("/review").text
    assert "2 条录像" in found and "另有 1 条超出您的密级权限，未显示" in found


def test_a_session_key_is_written_whole_and_a_broken_one_is_never_used(tmp_path):
    key = session_key(tmp_path)
    assert 64 == len(key) and [KEY_FILE] == [p.name for p in tmp_path.iterdir()]
    assert 0o600 == stat.S_IMODE(os.stat(tmp_path / KEY_FILE).st_mode)
    (tmp_path / KEY_FILE).write_text("")  # as a crash in the middle of writing would
    with pytest.raises(ValueError, match="not a session key"):
        session_key(tmp_path)


def test_results_come_in_pages_and_a_recording_shows_its_facts_history_and_links(
        room, monkeypatch):
    from evidock.daemon.web import review

    monkeypatch.setattr(review, "PAGE_SIZE", 1)
    archivist = room("AR1")
    first = archivist.get("/review?device=DSJ-001").text
    assert re.findall(r'data-media="(\d+)"', first) == ["1"] and "Page 1 of 2" in first
    assert "/review?device=DSJ-001&amp;page=2" in first
    second = archivist.get("/review?device=DSJ-001&page=2").text
    assert re.findall(r'data-media="(\d+)"', second) == ["2"] and 'rel="prev"' in second
    page = archivist.get("/review/media/1").text
    m = room.wiring.ledger.media(1)
    assert m.blake3 in page and m.sha256 in page and "REC0.MP4" in page
    assert "media_verified" in page and "derivative_stored" in page  # its ledger history
    assert "the seizure" in page and "C-1" in page  # its case link and note


def test_a_battery_cut_recording_plays_its_recovered_review_copy(room, tmp_path):
    """The camera died mid-recording: the original has no index and no proxy; the room
    plays the review copy of what was recovered, and says so."""
    from tests.daemon.derivatives import clips
    from tests.daemon.web.review_station import call

    folder = tmp_path / "cut" / "DSJ-001"
    folder.mkdir(parents=True)
    full = clips.scene(tmp_path / "full.mp4", seed=4, seconds=6, size="320x180").read_bytes()
    (folder / "REC9.MP4").write_bytes(full[:len(full) * 6 // 10])
    conf = str(tmp_path / "evidock.toml")  # the fresh station's (review_station.fresh)
    assert 0 == call("--config", conf, "run", "--watch", str(tmp_path / "cut"),
                     "--settle", "0.05", "--until-idle")
    media = max(room.wiring.ledger.list_media(), key=lambda m: m.id)
    done = {d["kind"]: d["state"] for d in room.wiring.ledger.derivatives(media_id=media.id)}
    assert ("failed", "done", "done") == (done["proxy"], done["recovered"],
                                          done["recovered_proxy"]), done
    assert 0 == call("--config", conf, "cases", "link", "C-1", str(media.id), "--note",
                     "the cut one", "--by", "AR1")
    approve(room, "AR1", media_id=media.id)
    archivist = room("AR1")
    page = archivist.get(f"/review/media/{media.id}").text
    assert "<video" in page and 'id="recovered"' in page
    got = archivist.get(f"/review/media/{media.id}/proxy.mp4")
    review = next(d for d in room.wiring.ledger.derivatives(media_id=media.id)
                  if d["kind"] == "recovered_proxy")
    assert (200, room.wiring.store.open(review["object_key"]).read()) == (got.status_code,
                                                                          got.content)
