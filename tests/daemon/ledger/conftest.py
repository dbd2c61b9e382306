"""Fixtures shared by the ledger tests that run the real daemon and commands."""

from __future__ import annotations

import pytest


@pytest.fixture
def station(tmp_path, monkeypatch):
    """This station's configuration for every command: USB off, so that a camera another test
    docks on this machine is not taken by these daemons.  Modules that run the daemon use it
    for every test (``pytestmark = pytest.mark.usefixtures("station")``)."""
    config = tmp_path / "evidock.toml"
    config.write_text('[station]\nid = "st-anchor"\n[usb]\nenabled = false\n')
    monkeypatch.setenv("EVIDOCK_CONFIG", str(config))
    return config
