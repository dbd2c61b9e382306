"""A daemon whose main loop stopped writing its status (hung, not dead: the page is still
served) shows no tile: its last green tile could be a lie by now."""

from __future__ import annotations

import time

from evidock.daemon.progress import DeviceProgress
from evidock.daemon.web.app import STALE_SECONDS, Kiosk


def status(age: float) -> dict:
    prog = DeviceProgress("DSJ-1", "012345", "port", scanned=True, officer_name="张伟")
    return {"updated": time.time() - age, "devices": [prog.snapshot()], "ports": []}


def test_a_fresh_status_shows_the_tile_and_a_stale_one_says_not_running():
    fresh = Kiosk(lambda: status(0), station_name="st", language="en").view()
    assert (True, ["safe"]) == (fresh["running"], [t["state"] for t in fresh["tiles"]])
    stale = Kiosk(lambda: status(STALE_SECONDS + 1), station_name="st", language="en").view()
    assert (False, []) == (stale["running"], stale["tiles"])
    assert (False, []) == (lambda v: (v["running"], v["tiles"]))(
        Kiosk(lambda: None, station_name="st", language="zh-CN").view())


def test_no_docked_camera_is_said_in_the_station_language():
    for language, words in (("zh-CN", "没有插入的执法记录仪。"), ("en", "No camera is docked.")):
        kiosk = Kiosk(lambda: {"updated": time.time(), "devices": [], "ports": []},
                      station_name="st", language=language)
        html = kiosk.templates.get_template("_tiles.html").render(
            {"words": kiosk.words, **kiosk.view()})
        assert words in html and "tile" not in html
