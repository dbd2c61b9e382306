"""Shared test set-up.

Tests that need a real service or tool carry a marker (``s3``, ``dock``, ``ffmpeg``,
``slow``, ``postgres``, ``browser``).  Outside CI such a test may skip when its service is
missing; with ``CI=true`` a skip of a marked test is turned into a failure, so a missing
service can never pass silently.
"""

from __future__ import annotations

import os

import pytest

SERVICE_MARKERS = ("s3", "dock", "ffmpeg", "slow", "postgres", "browser")

#: the real S3 server with Object Lock (SeaweedFS on loopback) for tests marked ``s3``,
#: and loop-device docks with real udev events for tests marked ``dock``
#: and a throw-away PostgreSQL on loopback for tests marked ``postgres``
pytest_plugins = ["tests.s3_fixture", "tests.dock_fixture", "tests.tsa_fixture", "tests.pg_fixture",
                  "tests.browser_fixture"]


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.skipped and in_ci() and any(item.get_closest_marker(m) for m in SERVICE_MARKERS):
        report.outcome = "failed"
        reason = report.longrepr[-1] if isinstance(report.longrepr, tuple) else report.longrepr
        report.longrepr = f"skipped in CI, which must run every service test: {reason}"
