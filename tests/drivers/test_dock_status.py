"""``evidock status`` at the station (issue 15, item 18), on the real daemon with real docks:
officer name, slot and station name shown; the state follows the device from reading to safe
to gone; a camera pulled mid-copy says "dock it again"; docked devices of a stopped daemon
say "do not undock"; at 80 columns no cell is cut inside a word."""

from __future__ import annotations

import re

import pytest
from rich.console import Console, Group

from evidock.daemon.cli.station import _status_view
from tests.daemon_proc import wait_for
from tests.dock_station import StationDaemon, camera, mkimg, sn, stick_port

pytestmark = [pytest.mark.dock, pytest.mark.slow]


def render(doc: dict, columns: int = 80) -> str:
    console = Console(width=columns, record=True, file=open("/dev/null", "w"))  # noqa: SIM115
    console.print(Group(*_status_view(doc)))
    return console.export_text()


def uncut(text: str, *words: str) -> None:
    """Every word is whole on one line of ``text`` (a cell cut mid-word splits it)."""
    lines = text.splitlines()
    for word in words:
        assert any(word in line for line in lines), f"{word!r} is cut or missing in:\n{text}"


def test_a_docked_camera_goes_from_reading_to_safe_and_leaves_the_list(dock_sim, tmp_path):
    k1 = sn(tmp_path)
    img = mkimg(dock_sim, camera(tmp_path / "cam", serial=k1), k1)
    daemon = StationDaemon(tmp_path, linger=8).start()
    try:
        dock_sim.dock(img)
        reading = daemon.wait_state("reading", k1)
        assert ("张伟", "012345", "城关派出所", "3") == (
            reading["officer_name"], reading["officer_id"], reading["unit"], reading["slot"])
        moving = wait_for(lambda: (t := daemon.tile(k1)) and t["state"] == "reading"
                          and t["rate_bps"] and t, 30, 0.1, "a rate while reading")
        assert moving["eta_s"] is not None
        text = render(daemon.status())
        uncut(text, "城关派出所", "采集站", "张伟", "(012345)", "reading:", "undock", k1)

        daemon.wait_state("safe", k1)
        doc = daemon.status()
        text = render(doc)
        assert "station 城关派出所 采集站 1 (st-kiosk): running" in text
        assert re.search(r"│ 3\s+│ 张伟 \(012345\)", text), text
        uncut(text, "safe", "3/3", "files,", "DSJ-K9")
        assert all(len(line) <= 80 for line in text.splitlines())

        dock_sim.undock(img)
        assert "done" == daemon.wait_state("done", k1)["state"]
        wait_for(lambda: daemon.tile(k1) is None, 30, 0.2, "the undocked camera to leave")
        assert k1 not in render(daemon.status())
    finally:
        daemon.stop()


def test_a_camera_pulled_mid_copy_says_dock_it_again(dock_sim, tmp_path):
    k1 = sn(tmp_path)
    img = mkimg(dock_sim, camera(tmp_path / "cam", serial=k1, files=3, size=12 << 20), k1)
    daemon = StationDaemon(tmp_path, linger=60, slow="read:0.2").start()
    try:
        dock_sim.dock(img)
        wait_for(lambda: (t := daemon.tile(k1)) and t["bytes_done"] > 0, 60, 0.1, "a read")
        dock_sim.yank(img)
        failed = daemon.wait_state("failed", k1)
        assert "undocked_early" == failed["reason"]
        doc = daemon.status()
        uncut(render(doc), "FAILED:", "dock", "again:", "undocked", "recording")
        assert ("FAILED: dock it again: it was undocked before every recording was read"
                in render(doc, columns=200))
    finally:
        daemon.stop()


def test_a_stopped_daemon_warns_every_docked_camera_not_to_undock(dock_sim, tmp_path):
    k1 = sn(tmp_path)
    img = mkimg(dock_sim, camera(tmp_path / "cam", serial=k1, files=2, size=1 << 20), k1)
    daemon = StationDaemon(tmp_path).start()
    try:
        dock_sim.dock(img)
        daemon.wait_state("safe", k1)
    finally:
        daemon.stop()
    doc = daemon.status()
    mine = [t for t in doc["tiles"] if t["serial"] == k1]
    assert (False, ["stopped"]) == (doc["running"], [t["state"] for t in mine])
    assert ("张伟", "3") == (mine[0]["officer_name"], mine[0]["slot"])
    text = render(doc, columns=200)
    assert "NOT RUNNING" in text and "station not running: do not undock" in text
    assert "leave every docked camera in its dock" in text
    uncut(render(doc), "running:", "undock", "张伟", "(012345)")


def test_a_disk_that_is_not_a_camera_is_shown_as_unknown_until_it_leaves(dock_sim, tmp_path):
    src = tmp_path / "stick"
    (src / "photos").mkdir(parents=True)
    (src / "photos" / "holiday.jpg").write_bytes(b"\xff\xd8" + b"\0" * 5000)
    port, slot = stick_port(tmp_path)
    img = dock_sim.mkimg(src, "STICK-1", "exfat", None, "--vendor", "SANDISK", "--model",
                         "Cruzer", "--port", port)
    daemon = StationDaemon(tmp_path, linger=2).start()

    def unknown():
        return [t for t in daemon.status()["tiles"] if t["slot"] == slot]
    try:
        dock_sim.dock(img)
        tiles = wait_for(unknown, 30, 0.2, "the stick's tile")
        assert [("port", "unknown", "not_a_camera", "SANDISK Cruzer")] == [
            (t["kind"], t["state"], t["reason"], t["model"]) for t in tiles]
        uncut(render(daemon.status()), "unknown", "device:", "camera", "SANDISK", "Cruzer")
        dock_sim.undock(img)
        wait_for(lambda: not unknown(), 30, 0.2, "the stick's tile to leave")
    finally:
        daemon.stop()
    assert not any(p.is_file() for p in (tmp_path / "data" / "store").rglob("*")
                   if "media" in p.parts)  # nothing of it was read
