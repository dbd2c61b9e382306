"""The review room's station for the web tests (the browser is tests/browser_fixture.py)."""

from __future__ import annotations

import shutil

import pytest

from tests.browser_fixture import unavailable


@pytest.fixture(scope="session")
def review_template(tmp_path_factory):
    """The review room's station, made once (real ffmpeg clips, real ``evidock run``)."""
    if not (shutil.which("ffmpeg") and shutil.which("ffprobe")):
        unavailable("ffmpeg and ffprobe (tools/setup installs them)")
    from tests.daemon.web.review_station import make_template

    return make_template(tmp_path_factory.mktemp("review"))


@pytest.fixture
def review_station(review_template, tmp_path):
    """(config, wiring) of a fresh copy of the review room's station."""
    from tests.daemon.web.review_station import fresh

    config, wiring = fresh(review_template, tmp_path)
    yield config, wiring
    wiring.close()
