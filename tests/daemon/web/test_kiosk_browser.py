"""The kiosk page in a real browser (Debian's chromium) on the real daemon with real docks:
a camera's tile goes from reading to safe; one pulled mid-copy says "dock it again"; an
unknown disk is named as such; when the daemon stops the page says "station not running:
do not undock" and shows no tile.  Screenshots of both languages go to
``$EVIDOCK_SCREENSHOTS`` when it is set (the README's come from here)."""

from __future__ import annotations

import pytest
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from tests.browser_fixture import screenshot
from tests.dock_station import StationDaemon, camera, mkimg, sn, stick_port

pytestmark = [pytest.mark.dock, pytest.mark.browser, pytest.mark.slow]

PORT2 = "pci-0000:00:14.0-usb-0:4:1.0-scsi-0:0:0:0"


def tile(browser, serial: str, slot: str | None = None) -> dict | None:
    """The tile of ``serial`` (or, for a disk that is not a camera, of ``slot``) as the page
    shows it now."""
    for el in browser.find_elements(By.CSS_SELECTOR, "section.tile"):
        if el.get_attribute("data-serial") == serial and (
                slot is None or slot in el.find_element(By.CLASS_NAME, "slot").text):
            return {"state": el.get_attribute("data-state"), "text": el.text}
    return None


def wait_tile(browser, serial: str, state: str, timeout: float = 60,
              slot: str | None = None) -> dict:
    wait = WebDriverWait(browser, timeout, poll_frequency=0.1,
                         ignored_exceptions=[StaleElementReferenceException])
    return wait.until(lambda b: (t := tile(b, serial, slot)) and t["state"] == state and t,
                      f"{serial} {state}; page: {browser.find_element(By.TAG_NAME, 'body').text}")


def down_shown(browser) -> bool:
    down = browser.find_element(By.ID, "down")
    return down.is_displayed() and not browser.find_element(By.ID, "tiles").is_displayed()


def test_reading_then_safe_then_pulled_then_station_down(dock_sim, browser, tmp_path):
    k1, k2 = sn(tmp_path, "K1"), sn(tmp_path, "K2")
    good = mkimg(dock_sim, camera(tmp_path / "cam1", serial=k1, files=3, size=6 << 20), k1)
    pulled = mkimg(dock_sim, camera(tmp_path / "cam2", files=3, size=16 << 20, serial=k2,
                                    officer="054321", name="欧阳娜娜"), k2, PORT2)
    daemon = StationDaemon(tmp_path, slow="read:0.12", linger=120).start()
    try:
        browser.get(daemon.url())
        assert None is tile(browser, k1)
        assert "城关派出所 采集站 1" == browser.find_element(By.TAG_NAME, "h1").text

        dock_sim.dock(good)
        reading = wait_tile(browser, k1, "reading")
        assert "正在读取：请勿拔出" in reading["text"] and "张伟" in reading["text"]
        assert "警号 012345" in reading["text"] and "接口 3" in reading["text"]
        safe = wait_tile(browser, k1, "safe")
        assert "可以安全拔出" in safe["text"] and "3 / 3" in safe["text"]
        color = browser.find_element(By.CSS_SELECTOR, "section.state-safe .state")
        assert "rgba(10, 125, 44, 1)" == color.value_of_css_property("color")  # green

        dock_sim.dock(pulled)
        wait_tile(browser, k2, "reading")
        dock_sim.yank(pulled)
        failed = wait_tile(browser, k2, "failed")
        assert "失败：请重新插入" in failed["text"]
        assert "录像尚未全部读取就被拔出。" in failed["text"]
        assert "欧阳娜娜" in failed["text"]
        assert "DCIM" not in browser.page_source and ".MP4" not in browser.page_source

        (tmp_path / "stick").mkdir()
        (tmp_path / "stick" / "notes.txt").write_text("not a camera")
        port, slot = stick_port(tmp_path)
        dock_sim.dock(dock_sim.mkimg(tmp_path / "stick", "STICK-1", "exfat", None, "--vendor",
                                     "SANDISK", "--model", "Cruzer", "--port", port))
        unknown = wait_tile(browser, "", "unknown", slot=slot)
        assert "未知设备：不读取" in unknown["text"] and "SANDISK Cruzer" in unknown["text"]
        screenshot(browser, "kiosk-zh-CN.png")
    finally:
        daemon.stop()
    WebDriverWait(browser, 15, poll_frequency=0.1).until(down_shown, "the down warning")
    assert "采集站未运行：请勿拔出" in browser.find_element(By.ID, "down").text


def test_the_english_screen(dock_sim, browser, tmp_path):
    k1, k2 = sn(tmp_path, "K1"), sn(tmp_path, "K2")
    img = mkimg(dock_sim, camera(tmp_path / "cam1", serial=k1, files=2, size=4 << 20,
                                 name="李娜"), k1)
    pulled = mkimg(dock_sim, camera(tmp_path / "cam2", files=3, size=16 << 20, serial=k2,
                                    officer="054321", name="王芳"), k2, PORT2)
    daemon = StationDaemon(tmp_path, language="en", slow="read:0.12", linger=120).start()
    try:
        browser.get(daemon.url())
        dock_sim.dock(img)
        safe = wait_tile(browser, k1, "safe")
        assert "Safe to undock" in safe["text"] and "李娜" in safe["text"]
        assert "Badge 012345" in safe["text"] and "Slot 3" in safe["text"]
        dock_sim.dock(pulled)
        reading = wait_tile(browser, k2, "reading")
        assert "Reading: do not undock" in reading["text"] and "王芳" in reading["text"]
        screenshot(browser, "kiosk-en.png")
    finally:
        daemon.stop()
    WebDriverWait(browser, 15, poll_frequency=0.1).until(down_shown, "the down warning")
    assert "Station not running: do not undock" in browser.find_element(By.ID, "down").text
