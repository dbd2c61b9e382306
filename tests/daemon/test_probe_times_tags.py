"""The probe reads frame rate, rotation, creation time, device and GPS tags from real
ffmpeg-made files, and says when each recording was made: from the container's creation
time, else the profile's file-name pattern, else the mtime, corrected by the device's
measured clock offset; which source won is recorded, and sources more than a minute apart
are flagged."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from datetime import UTC, datetime, timedelta

import pytest

from evidock.daemon import recorded_time
from evidock.daemon.probe import Prober, lat_lon, parse_doc
from evidock.daemon.timeutil import parse, stamp
from evidock.drivers.base import MediaItem

from ..daemon_proc import evidock
from .world import World

pytestmark = pytest.mark.ffmpeg

START = datetime(2026, 3, 1, 1, 0, 5, tzinfo=UTC)  # 09:00:05 on a camera in China (+08:00)


@pytest.fixture(autouse=True)
def needs_ffmpeg():
    if not (shutil.which("ffmpeg") and shutil.which("ffprobe")):
        pytest.skip("ffmpeg/ffprobe are not installed (tools/setup installs them)")


def make(path, *metadata: str, seconds: float = 3, mtime: datetime | None = None,
         extra: tuple[str, ...] = ()):
    """A small H.264 + AAC clip at 30000/1001 fps with the given ``-metadata`` tags; its
    mtime is when it ended (``mtime``), as a camera leaves it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    args = ["ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-y",
            "-f", "lavfi", "-i", f"testsrc=s=320x240:r=30000/1001:d={seconds}",
            "-f", "lavfi", "-i", f"sine=duration={seconds}",
            "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", *extra]
    for tag in metadata:
        args += ["-metadata", tag]
    subprocess.run([*args, str(path)], check=True)
    if mtime is not None:
        os.utime(path, (mtime.timestamp(), mtime.timestamp()))
    return path


def test_tags_and_the_recording_time_of_clips_ingested_from_a_watch_folder(tmp_path):
    folder = tmp_path / "in" / "DSJ-GPS"
    end = START + timedelta(seconds=3)
    # name, container and mtime agree: the container wins; GPS as MP4 writes it (©xyz)
    make(folder / "20260301_090005.MP4", f"creation_time={stamp(START)}",
         "location=+31.2304+121.4737/", mtime=end)
    # a MOV with the QuickTime keys phones and some cameras write
    make(folder / "20260301_091000.MOV", "creation_time=2026-03-01T01:10:00Z",
         "com.apple.quicktime.make=Hikvision", "com.apple.quicktime.model=DSJ-X1",
         "com.apple.quicktime.location.ISO6709=-33.8688+151.2093+012.000/",
         mtime=datetime(2026, 3, 1, 1, 10, 3, tzinfo=UTC),
         extra=("-movflags", "use_metadata_tags"))
    # the camera wrote its local time into the container's UTC field: 8 hours off its name
    make(folder / "20260301_092000.MP4", "creation_time=2026-03-01T09:20:00Z",
         mtime=datetime(2026, 3, 1, 1, 20, 3, tzinfo=UTC))
    # no creation time: the name wins; no name either: the mtime, less the duration
    make(folder / "20260301_093000.MP4", mtime=datetime(2026, 3, 1, 1, 30, 3, tzinfo=UTC))
    make(folder / "clip.mp4", mtime=datetime(2026, 3, 1, 1, 40, 3, tzinfo=UTC))
    data = tmp_path / "d"
    evidock("run", "--data-dir", str(data), "--watch", str(tmp_path / "in"), "--settle", "0",
            "--until-idle", "--no-derivatives", env={"EVIDOCK_CONFIG": ""})
    rows = [json.loads(line) for line in evidock(
        "ledger", "list", "--json", "--data-dir", str(data)).stdout.splitlines()]
    probes = {}
    for row in rows:
        shown = json.loads(evidock("ledger", "show", str(row["id"]), "--json",
                                   "--data-dir", str(data)).stdout)
        probes[shown["source_path"].rsplit("/", 1)[-1]] = shown["probe"]

    mp4 = probes["20260301_090005.MP4"]
    assert (29.97, 0, "container", False) == (
        mp4["frame_rate"], mp4["rotation"], mp4["time_source"], mp4["time_disagree"])
    assert ("+31.2304+121.4737/", 31.2304, 121.4737) == (
        mp4["location"], mp4["latitude"], mp4["longitude"])
    assert stamp(START) == mp4["recorded_start"] == mp4["time_sources"]["container"] \
        == mp4["time_sources"]["name"]
    assert mp4["recorded_end"].startswith("2026-03-01T01:00:08")  # start + 3 s
    assert {"container", "name", "mtime"} == set(mp4["time_sources"])
    assert mp4["time_spread_s"] < 1

    mov = probes["20260301_091000.MOV"]
    assert ("Hikvision", "DSJ-X1", -33.8688, 151.2093) == (
        mov["device_make"], mov["device_model"], mov["latitude"], mov["longitude"])
    assert "2026-03-01T01:10:00.000000Z" == mov["recorded_start"]

    local = probes["20260301_092000.MP4"]
    assert ("container", True, 8 * 3600) == (
        local["time_source"], local["time_disagree"], pytest.approx(local["time_spread_s"],
                                                                    abs=1))
    named = probes["20260301_093000.MP4"]
    assert ("name", None, "2026-03-01T01:30:00.000000Z", False) == (
        named["time_source"], named["creation_time"], named["recorded_start"],
        named["time_disagree"])
    mtime = probes["clip.mp4"]
    assert ("mtime", ["mtime"]) == (mtime["time_source"], list(mtime["time_sources"]))
    started = parse(mtime["recorded_start"])  # the mtime less the duration
    assert abs((datetime(2026, 3, 1, 1, 40, tzinfo=UTC) - started).total_seconds()) < 0.1
    assert "OK" in evidock("ledger", "verify", "--data-dir", str(data),
                           env={"EVIDOCK_CONFIG": ""}).stdout


def test_the_measured_clock_offset_corrects_every_source_alike(tmp_path):
    """A device clock two minutes ahead: its times, all from that clock, are two minutes
    late in the ledger, and still agree with each other."""
    world = World(tmp_path)
    path = make(tmp_path / "dev" / "20260301_090205.MP4",
                f"creation_time={stamp(START + timedelta(minutes=2))}",
                mtime=START + timedelta(minutes=2, seconds=3))
    device = world.device("DSJ-FAST")
    st = path.stat()
    named = START + timedelta(minutes=2)
    media, _ = world.ledger.register_media(
        device_serial="DSJ-FAST", source_path=path.name, size=st.st_size,
        mtime_ns=st.st_mtime_ns, kind="video", recorded_at=named, handover_hours=24,
        clock_offset_s=120.0)
    world.hand_over(media, MediaItem(device, str(path.parent), path.name, st.st_size,
                                     st.st_mtime_ns, named, "video", clock_offset_s=120.0))
    prober = Prober(world.ledger, world.store)
    assert 1 == prober.run()
    got = prober.of(media.id)
    assert (stamp(START), "container", 120.0, False) == (
        got["recorded_start"], got["time_source"], got["time_correction_s"],
        got["time_disagree"])
    assert stamp(START + timedelta(minutes=2)) == got["time_sources"]["name"]  # as written
    assert world.ledger.verify().ok


def test_a_file_ffprobe_cannot_read_still_gets_its_time_from_name_and_mtime(tmp_path):
    world = World(tmp_path)
    media = world.handed_over(data=b"not a video" * 100, recorded_at=START)
    prober = Prober(world.ledger, world.store)
    prober.run()
    got = prober.of(media.id)
    assert got["error"] and "name" == got["time_source"]
    assert stamp(START) == got["recorded_start"] and None is got["recorded_end"]


def test_which_source_wins_and_when_they_disagree():
    t = START
    both = recorded_time.best(container=t, named=t + timedelta(seconds=59), mtime=None,
                              duration_s=10, clock_offset_s=None)
    assert ("container", False, 59.0) == (both.source, both.disagree, both.spread_s)
    apart = recorded_time.best(container=None, named=t, mtime=t + timedelta(minutes=5),
                               duration_s=60, clock_offset_s=-30)
    assert ("name", True, 240.0) == (apart.source, apart.disagree, apart.spread_s)
    assert stamp(t + timedelta(seconds=30)) == apart.start  # a clock 30 s slow
    assert stamp(t + timedelta(seconds=90)) == apart.end
    nothing = recorded_time.best(container=None, named=None, mtime=None, duration_s=None,
                                 clock_offset_s=None)
    assert (None, None, False) == (nothing.source, nothing.start, nothing.disagree)
    # an unset camera clock writes 1904 or 1970: no creation time at all
    assert None is recorded_time.creation_time("1970-01-01T00:00:00.000000Z")
    assert None is recorded_time.creation_time("not a time")


def test_gps_and_rotation_from_ffprobe_json():
    assert (31.2304, 121.4737) == lat_lon("+31.2304+121.4737/")
    assert (-33.8688, 151.2093) == lat_lon("-33.8688+151.2093+012.000/")
    assert (None, None) == lat_lon("somewhere")
    assert (None, None) == lat_lon("+95.0+200.0/")
    doc = {"format": {"duration": "2.0", "tags": {"creation_time": "2026-03-01T01:00:05Z"}},
           "streams": [{"codec_type": "video", "codec_name": "hevc", "avg_frame_rate": "0/0",
                        "r_frame_rate": "25/1",
                        "side_data_list": [{"side_data_type": "Display Matrix",
                                            "rotation": -90}]}]}
    got = parse_doc(json.dumps(doc).encode())
    assert (25.0, 270, "2026-03-01T01:00:05Z", None) == (
        got.frame_rate, got.rotation, got.creation_time, got.audio_codec)
