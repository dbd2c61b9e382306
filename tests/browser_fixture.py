"""A real browser for the web tests: Debian's chromium, driven through Debian's
chromium-driver (the same source package, so their versions always match) by selenium.
Without them a test is skipped, except in CI, where that is a failure.  A pytest plugin
(tests/conftest.py), so the kiosk, review room and derivative tests share one ``browser``."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"


def unavailable(reason: str):
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"browser tests cannot run: {reason} (tools/setup --test installs it)")
    pytest.skip(f"browser tests need: {reason}")


@pytest.fixture
def browser(tmp_path):
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        unavailable("selenium (pip install -e '.[test]')")
    if not (shutil.which(CHROMIUM) and shutil.which(CHROMEDRIVER)):
        unavailable("Debian's chromium and chromium-driver (apt-get install chromium "
                     "chromium-driver)")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                "--window-size=1280,720", "--hide-scrollbars", "--force-device-scale-factor=1",
                f"--user-data-dir={tmp_path / 'chromium'}"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def screenshot(browser, name: str) -> None:
    """To ``$EVIDOCK_SCREENSHOTS`` when set (the README's come from here)."""
    folder = os.environ.get("EVIDOCK_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        browser.save_screenshot(str(Path(folder) / name))
