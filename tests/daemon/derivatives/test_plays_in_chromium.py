"""The review copies play in a real browser: Debian's chromium, driven by selenium, loads the
proxy of an H.264 recording, the proxy of an H.265 one, the recovered copy of a battery-cut
MP4 and the review copy of a battery-cut H.265 file's recovered copy into a ``<video>``
element, and each reaches ``playing`` with its clock running.  The files are served by a
small HTTP server of the test's own (the review room is not what is tested here)."""

from __future__ import annotations

import functools
import shutil
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import pytest

from evidock.daemon.config import DerivativesConfig
from evidock.daemon.derivatives.queue import Deriver

from ..world import World
from . import clips

pytestmark = [pytest.mark.ffmpeg, pytest.mark.browser, pytest.mark.slow]

# resolves once the picture has been playing for half a second, or says why it did not
PLAY = """
const [src, done] = [arguments[0], arguments[arguments.length - 1]];
const v = document.createElement("video");
v.muted = true;  // a muted video may start without a click
let playing = false;
v.addEventListener("playing", () => { playing = true; });
v.addEventListener("timeupdate", () => {
  if (playing && v.currentTime > 0.5)
    done({playing, time: v.currentTime, width: v.videoWidth, height: v.videoHeight,
          frames: v.getVideoPlaybackQuality().totalVideoFrames});
});
v.addEventListener("error", () => done({error: v.error.code, message: v.error.message}));
v.src = src;
document.body.appendChild(v);
v.play().catch((e) => done({error: "play", message: String(e)}));
"""


@pytest.fixture(autouse=True)
def needs_ffmpeg():
    if not (shutil.which("ffmpeg") and shutil.which("ffprobe")):
        pytest.skip("ffmpeg/ffprobe are not installed (tools/setup installs them)")


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def served(tmp_path):
    """(folder, base URL) of a loopback HTTP server for the files put in the folder."""
    root = tmp_path / "www"
    root.mkdir()
    (root / "index.html").write_text("<!doctype html><title>play</title><body></body>")
    server = ThreadingHTTPServer(("127.0.0.1", 0),
                                 functools.partial(_Quiet, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield root, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_proxies_of_h264_and_h265_and_a_recovered_battery_cut_copy_play_in_chromium(
        tmp_path, served, browser):  # noqa: F811
    world = World(tmp_path)
    h264 = clips.scene(tmp_path / "h264.mp4", seed=7, seconds=4, size="640x360")
    hevc = clips.hevc(clips.scene(tmp_path / "src.mp4", seed=8, seconds=4),
                      tmp_path / "hevc.mp4")
    full = clips.scene(tmp_path / "full.mp4", seed=9, seconds=6).read_bytes()
    # an H.265 camera's battery-cut file: its recovered copy stays H.265, its review copy not
    x265 = ("-x265-params", "log-level=error:bframes=0", "-tag:v", "hvc1")
    world.handed_over(data=clips.scene(tmp_path / "ref265.mp4", seed=10, seconds=3,
                                       codec="libx265", extra=x265).read_bytes(),
                      serial="DSJ-H265C")
    full265 = clips.scene(tmp_path / "full265.mp4", seed=11, seconds=6, codec="libx265",
                          extra=x265).read_bytes()
    ids = {"h264": world.handed_over(data=h264.read_bytes()).id,
           "hevc": world.handed_over(data=hevc.read_bytes(), serial="DSJ-H265").id,
           "cut": world.handed_over(data=full[:len(full) * 6 // 10]).id,
           "cut_hevc": world.handed_over(data=full265[:len(full265) * 6 // 10],
                                         serial="DSJ-H265C").id}
    Deriver(world.ledger, world.store, DerivativesConfig(), work_dir=tmp_path / "derive",
            kinds={"video": ["proxy"]}).run()
    root, base = served
    wanted = {"h264": "proxy", "hevc": "proxy", "cut": "recovered",
              "cut_hevc": "recovered_proxy"}
    for name, kind in wanted.items():
        row = next(r for r in world.ledger.derivatives(media_id=ids[name])
                   if r["kind"] == kind)
        assert "done" == row["state"], (name, row["error"])
        shutil.copyfile(world.store.local_path(row["object_key"]), root / f"{name}.mp4")

    browser.get(f"{base}/index.html")
    browser.set_script_timeout(30)
    played = {name: browser.execute_async_script(PLAY, f"{base}/{name}.mp4")
              for name in wanted}
    for name, result in played.items():
        assert result.get("playing") and result["time"] > 0.5, (name, result)
        # the picture too, not only the sound: chromium "plays" an H.265 original's audio
        # with a 0x0 picture it cannot decode
        assert (640, 360) == (result["width"], result["height"]), (name, result)
        assert result["frames"] > 5, (name, result)
