"""The review room in a real browser (Debian's chromium) on the daemon's web app served by
real uvicorn, over a station made with real ffmpeg: an archivist logs in, finds a recording,
asks for access, an approver approves it, the archivist plays the proxy (the video element
reaches "playing"), scrubs over the sprite previews and links it to a case with a note; the
view is in the access log.  A person without clearance sees a secret recording neither in
the search nor by its address."""

from __future__ import annotations

import subprocess

import pytest
from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

from tests.browser_fixture import screenshot
from tests.daemon.web.review_station import app_of, fresh, password, serving

pytestmark = [pytest.mark.browser, pytest.mark.ffmpeg, pytest.mark.slow]


@pytest.fixture
def served(review_station):
    _, wiring = review_station
    with serving(app_of(wiring)[0]) as url:
        yield url, wiring


def login(browser, url: str, badge: str) -> None:
    browser.get(url + "/review")
    assert "/review/login" in browser.current_url  # no session: the login first
    browser.find_element(By.ID, "who").send_keys(badge)
    browser.find_element(By.ID, "password").send_keys(password(badge))
    load(browser, browser.find_element(By.ID, "login"))
    WebDriverWait(browser, 10).until(lambda b: b.find_elements(By.ID, "me"))


def logout(browser) -> None:
    load(browser, browser.find_element(By.CSS_SELECTOR, "form.who button"))
    WebDriverWait(browser, 10).until(lambda b: b.find_elements(By.ID, "who"))


def load(browser, element) -> None:
    """Click ``element`` and wait for the page it leads to (the old one gone)."""
    page = browser.find_element(By.TAG_NAME, "html")
    element.click()
    WebDriverWait(browser, 10).until(lambda _: gone(page))


def gone(element) -> bool:
    """The element's document has been replaced.  Mid-navigation chromedriver may answer
    "node ... does not belong to the document" instead of a stale element: gone as well."""
    try:
        element.is_enabled()
    except StaleElementReferenceException:
        return True
    except WebDriverException as exc:
        if "does not belong to the document" in (exc.msg or ""):
            return True
        raise
    return False


def text(browser) -> str:
    return browser.find_element(By.TAG_NAME, "body").text


def test_an_archivist_finds_asks_watches_and_links_a_recording(served, browser):
    url, wiring = served
    login(browser, url, "AR1")
    browser.find_element(By.NAME, "officer").send_keys("110001")
    load(browser, browser.find_element(By.ID, "search"))
    rows = browser.find_elements(By.CSS_SELECTOR, "#results tbody tr")
    assert ["1", "2"] == [r.get_attribute("data-media") for r in rows]
    load(browser, rows[0].find_element(By.TAG_NAME, "a"))
    assert [] == browser.find_elements(By.TAG_NAME, "video")
    browser.find_element(By.NAME, "purpose").send_keys("review of the seizure")
    load(browser, browser.find_element(By.ID, "request-access"))
    assert "is waiting for an approver" in browser.find_element(By.ID, "pending").text
    [req] = wiring.ledger.access_requests()

    logout(browser)
    login(browser, url, "AP1")
    browser.get(url + "/review/requests")
    row = browser.find_element(By.CSS_SELECTOR, f'#pending tr[data-request="{req["id"]}"]')
    row.find_element(By.NAME, "reason").send_keys("for the case file")
    load(browser, row.find_element(By.CSS_SELECTOR, "button.approve"))
    assert "approved" == wiring.ledger.access_request(req["id"])["state"]

    logout(browser)
    login(browser, url, "AR1")
    browser.get(url + "/review/media/1")
    video = browser.find_element(By.ID, "player")
    started = browser.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "const v = document.getElementById('player'); v.muted = true;"
        "v.play().then(() => done('ok'), e => done(String(e)));")
    assert "ok" == started
    WebDriverWait(browser, 20).until(lambda b: b.execute_script(
        "const v = document.getElementById('player');"
        "return !v.paused && v.readyState >= 3 && v.dataset.played === '1';"),
        "the proxy never reached playing")
    assert video.get_attribute("currentSrc").endswith("/review/media/1/proxy.mp4")
    # scrubbing shows the sprite sheet's tile for that time (cues from the WebVTT track)
    WebDriverWait(browser, 10).until(lambda b: b.execute_script(
        "const t = document.getElementById('thumbs').track; return t.cues && t.cues.length"))
    browser.execute_script("const s = document.getElementById('scrub'); s.value = 500;"
                           "s.dispatchEvent(new Event('input'));")
    preview = browser.find_element(By.ID, "preview")
    assert preview.is_displayed()
    assert "sprite.jpg" in preview.value_of_css_property("background-image")
    assert 3.0 == pytest.approx(browser.execute_script(
        "return document.getElementById('player').currentTime"), abs=0.6)
    screenshot(browser, "review-player-en.png")

    browser.find_element(By.ID, "link-note").send_keys("the shop front, 10:02")
    Select(browser.find_element(By.ID, "link-case")).select_by_visible_text("C-3")
    load(browser, browser.find_element(By.ID, "link"))
    links = browser.find_element(By.ID, "links").text
    assert "C-3" in links and "the shop front, 10:02" in links

    logout(browser)
    login(browser, url, "AU1")
    browser.get(url + "/review/access-log")
    viewed = browser.find_elements(By.CSS_SELECTOR, '#log tr[data-kind="access_viewed"]')
    assert 1 <= len(viewed) and "AR1" in viewed[0].text and "AP1" in viewed[0].text
    events = [e for e in wiring.ledger.access_events() if e["kind"] == "access_viewed"]
    assert {("AR1", req["id"], "AP1")} == {(e["person"], e["request_id"], e["approved_by"])
                                          for e in events}


def test_a_person_without_clearance_sees_no_secret_recording(served, browser):
    url, wiring = served
    login(browser, url, "O1")
    ids = [r.get_attribute("data-media")
           for r in browser.find_elements(By.CSS_SELECTOR, "#results tbody tr")]
    assert ["1", "2"] == ids
    assert "1 outside your clearance not shown" in browser.find_element(By.ID, "count").text
    secret = wiring.ledger.media(3)
    browser.find_element(By.NAME, "hash").send_keys(secret.sha256[:16])
    load(browser, browser.find_element(By.ID, "search"))
    assert [] == browser.find_elements(By.CSS_SELECTOR, "#results tbody tr")
    browser.get(url + "/review/media/3")
    assert "Not found" in text(browser) and secret.source_path not in text(browser)
    assert [] == browser.find_elements(By.TAG_NAME, "video")
    browser.get(url + "/review/media/3/proxy.mp4")
    assert [] == browser.find_elements(By.TAG_NAME, "video")
    refused = [e for e in wiring.ledger.access_events()
               if e["kind"] == "access_refused" and e["person"] == "O1"]
    assert 3 in {e["media_id"] for e in refused}


@pytest.fixture
def served_zh(review_template, tmp_path):
    """The review room of a station whose language is zh-CN (the example config's)."""
    _, wiring = fresh(review_template, tmp_path, language="zh-CN")
    try:
        with serving(app_of(wiring, language="zh-CN")[0]) as url:
            yield url, wiring
    finally:
        wiring.close()


def fonts_of(browser, selector: str) -> set[str]:
    """The fonts chromium really drew ``selector``'s text with (DevTools), so a name shown as
    empty boxes for want of a Chinese font fails."""
    browser.execute_cdp_cmd("DOM.enable", {})
    browser.execute_cdp_cmd("CSS.enable", {})
    root = browser.execute_cdp_cmd("DOM.getDocument", {})["root"]["nodeId"]
    node = browser.execute_cdp_cmd("DOM.querySelector", {"nodeId": root,
                                                         "selector": selector})["nodeId"]
    used = browser.execute_cdp_cmd("CSS.getPlatformFontsForNode", {"nodeId": node})
    return {f["familyName"] for f in used["fonts"] if f["glyphCount"]}


def chinese_fonts() -> set[str]:
    """The families of the fonts installed here that cover Chinese (fontconfig)."""
    out = subprocess.run(["fc-list", ":lang=zh", "family"], capture_output=True, text=True,
                         check=True).stdout
    return {name for line in out.splitlines() for name in line.split(",")}


def test_the_room_in_chinese_shows_chinese_names_with_chinese_glyphs(served_zh, browser):
    url, wiring = served_zh
    browser.get(url + "/review")
    assert "zh-CN" == browser.find_element(By.TAG_NAME, "html").get_attribute("lang")
    assert "登录" in text(browser)
    browser.find_element(By.ID, "who").send_keys("AR1")
    browser.find_element(By.ID, "password").send_keys(password("AR1"))
    load(browser, browser.find_element(By.ID, "login"))
    assert "检索" == browser.find_element(By.ID, "search").text
    browser.find_element(By.NAME, "officer").send_keys("110001")
    load(browser, browser.find_element(By.ID, "search"))
    rows = browser.find_elements(By.CSS_SELECTOR, "#results tbody tr")
    assert ["1", "2"] == [r.get_attribute("data-media") for r in rows]
    assert "张伟" in rows[0].text
    fonts = fonts_of(browser, "#results tbody tr .name")
    assert fonts and fonts <= chinese_fonts(), f"the name was drawn with {fonts}"
    load(browser, rows[0].find_element(By.TAG_NAME, "a"))
    assert "申请调阅" in browser.find_element(By.ID, "request-access").text
    screenshot(browser, "review-zh-CN.png")
