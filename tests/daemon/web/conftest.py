"""A real browser for the kiosk tests: Debian's chromium, driven through Debian's
chromium-driver (the same source package, so their versions always match) by selenium.
Without them the test is skipped, except in CI, where that is a failure."""

from __future__ import annotations

import os
import shutil

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"


def _unavailable(reason: str):
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"browser tests cannot run: {reason} (tools/setup --test installs it)")
    pytest.skip(f"browser tests need: {reason}")


@pytest.fixture
def browser(tmp_path):
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        _unavailable("selenium (pip install -e '.[test]')")
    if not (shutil.which(CHROMIUM) and shutil.which(CHROMEDRIVER)):
        _unavailable("Debian's chromium and chromium-driver (apt-get install chromium "
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


@pytest.fixture(scope="session")
def review_template(tmp_path_factory):
    """The review room's station, made once (real ffmpeg clips, real ``evidock run``)."""
    if not (shutil.which("ffmpeg") and shutil.which("ffprobe")):
        _unavailable("ffmpeg and ffprobe (tools/setup installs them)")
    from tests.daemon.web.review_station import make_template

    return make_template(tmp_path_factory.mktemp("review"))


@pytest.fixture
def review_station(review_template, tmp_path):
    """(config, wiring) of a fresh copy of the review room's station."""
    from tests.daemon.web.review_station import fresh

    config, wiring = fresh(review_template, tmp_path)
    yield config, wiring
    wiring.close()
