"""The derivative commands as argument lists, checked without running ffmpeg."""

from __future__ import annotations

import json

from evidock.daemon.derivatives import commands, runner
from evidock.daemon.derivatives.commands import Source

HD = Source(duration_s=60.0, width=1920, height=1080, has_video=True, has_audio=True)


def option(args: list[str], name: str) -> str:
    return args[args.index(name) + 1]


def test_the_proxy_is_h264_aac_mp4_with_its_index_first_at_the_configured_size_and_rate():
    args = commands.proxy_args("in.mp4", "out.mp4", HD, width=640, height=360, video_kbps=700,
                               audio_kbps=64, preset="veryfast")
    assert ("ffmpeg", "in.mp4", "out.mp4") == (args[0], option(args, "-i"), args[args.index(
        "out.mp4")])
    assert ("libx264", "aac", "700k", "64k", "+faststart", "mp4", "veryfast") == (
        option(args, "-c:v"), option(args, "-c:a"), option(args, "-b:v"), option(args, "-b:a"),
        option(args, "-movflags"), option(args, "-f"), option(args, "-preset"))
    graph = option(args, "-filter_complex")
    assert "w=640" in graph and "h=360" in graph and "force_original_aspect_ratio=decrease" \
        in graph and "format=yuv420p" in graph
    assert ["-map", "0:a"] == args[args.index("0:a") - 1:args.index("0:a") + 1]
    assert "-nostdin" in args and "-y" in args
    assert "-maxrate" not in args  # VBV with frame threads is not deterministic


def test_a_clip_without_audio_gets_a_proxy_without_audio():
    args = commands.proxy_args("in.mp4", "out.mp4", Source(width=640, height=360,
                                                           has_video=True))
    assert "0:a" not in args and "-c:a" not in args


def test_a_portrait_or_rotated_clip_fits_a_portrait_box_never_larger_than_the_original():
    rotated = Source(width=1920, height=1080, rotation=90, has_video=True)
    assert rotated.portrait
    graph = option(commands.proxy_args("in", "out", rotated), "-filter_complex")
    assert "w=360" in graph and "h=640" in graph
    small = Source(width=320, height=240, has_video=True)
    graph = option(commands.proxy_args("in", "out", small), "-filter_complex")
    assert "w=320" in graph and "h=240" in graph


def test_the_poster_is_one_jpeg_frame_a_tenth_in_at_most_five_seconds():
    args = commands.poster_args("in.mp4", "p.jpg", HD, width=640)
    assert ("5.0", "1", "image2") == (option(args, "-ss"), option(args, "-vframes"),
                                      option(args, "-f"))
    assert args.index("-ss") < args.index("-i")  # a fast input seek
    assert 1.0 == commands.poster_time(Source(duration_s=10.0))
    assert "-ss" not in commands.poster_args("in", "p.jpg", Source(width=640, height=360))


def test_the_audio_proxy_is_aac_in_mp4_without_picture():
    args = commands.audio_proxy_args("a.wav", "a.m4a", audio_kbps=48)
    assert ("aac", "48k", "0:a", "+faststart") == (
        option(args, "-c:a"), option(args, "-b:a"), option(args, "-map"),
        option(args, "-movflags"))


def test_the_derivatives_of_each_media_kind():
    assert {"video": ["proxy", "poster", "sprite", "sprite_vtt", "fingerprint"],
            "audio": ["audio_proxy", "waveform"],
            "photo": ["thumbnail"]} == commands.KINDS_BY_MEDIA


def test_rotation_and_audio_are_read_from_ffprobe_json():
    doc = {"format": {"duration": "3.0"}, "streams": [
        {"codec_type": "video", "width": 1280, "height": 720,
         "side_data_list": [{"side_data_type": "Display Matrix", "rotation": -90}]},
        {"codec_type": "audio"}]}
    got = commands.parse_probe(json.dumps(doc).encode())
    assert (3.0, 1280, 720, 270, True, True) == (got.duration_s, got.width, got.height,
                                                 got.rotation, got.has_video, got.has_audio)
    old = commands.parse_probe(json.dumps({"streams": [
        {"codec_type": "video", "width": 10, "height": 20, "tags": {"rotate": "90"}}]}).encode())
    assert (90, False, None) == (old.rotation, old.has_audio, old.duration_s)


def test_ffmpeg_runs_niced_in_the_idle_io_class_when_those_programs_exist():
    def which(name):
        return f"/usr/bin/{name}"

    assert ["nice", "-n", "19", "ionice", "-c3", "ffmpeg", "-i", "x"] == runner.niced(
        ["ffmpeg", "-i", "x"], nice=19, ionice_idle=True, which=which)
    assert ["ffmpeg"] == runner.niced(["ffmpeg"], which=lambda name: None)
    assert ["ffmpeg"] == runner.niced(["ffmpeg"], nice=0, ionice_idle=False, which=which)


def test_what_ffmpeg_says_is_explained_in_words_a_reviewer_understands():
    assert "battery" in runner.explain("[mov @ 0x1] moov atom not found\nx: Invalid data")
    assert "empty (0 bytes)" in runner.explain("", size=0)
    assert "damaged or not a recording" in runner.explain("x: Invalid data found when "
                                                          "processing input")
    # a demuxer giving up on random bytes names the input and EINVAL
    assert "damaged or not a recording" in runner.explain(
        "[mov,mp4,m4a @ 0x1] error reading header\nthe stored copy: Invalid argument")
    assert "not supported" in runner.explain("Decoder (codec hevc) not found for stream")
    assert "ffmpeg: last line" in runner.explain("first\nlast line")


def test_the_sprite_has_one_tile_every_n_seconds_in_rows_of_ten():
    grid = commands.sprite_grid(HD, every_s=5, tile_width=160)
    assert (12, 10, 2, 160, 90) == (grid.tiles, grid.columns, grid.rows, grid.tile_width,
                                    grid.tile_height)
    graph = option(commands.sprite_args("in.mp4", "s.jpg", grid), "-filter_complex")
    assert "gte(t-prev_selected_t\\,5" in graph and "tile=layout=10x2:nb_frames=12" in graph
    portrait = commands.sprite_grid(Source(duration_s=9, width=1920, height=1080,
                                           rotation=90, has_video=True), every_s=3)
    assert (3, 3, 1, 160, 284) == (portrait.tiles, portrait.columns, portrait.rows,
                                   portrait.tile_width, portrait.tile_height)


def test_a_very_long_recording_gets_longer_sprite_intervals_not_a_giant_image():
    grid = commands.sprite_grid(Source(duration_s=10 * 3600, width=1920, height=1080,
                                       has_video=True), every_s=5, max_tiles=600)
    assert (60.0, 600, 60) == (grid.interval_s, grid.tiles, grid.rows)


def test_the_webvtt_index_names_each_tile_rectangle_and_ends_at_the_recording_end():
    grid = commands.sprite_grid(Source(duration_s=12.5, width=1280, height=720,
                                       has_video=True), every_s=5, tile_width=160)
    vtt = commands.sprite_vtt(grid)
    assert vtt.startswith("WEBVTT\n\n")
    assert ["00:00:00.000 --> 00:00:05.000", "sprite.jpg#xywh=0,0,160,90",
            "00:00:05.000 --> 00:00:10.000", "sprite.jpg#xywh=160,0,160,90",
            "00:00:10.000 --> 00:00:12.500", "sprite.jpg#xywh=320,0,160,90"] == [
        line for line in vtt.splitlines()[2:] if line]


def test_the_waveform_is_one_png_of_the_audio():
    args = commands.waveform_args("a.wav", "w.png", width=800, height=100)
    graph = option(args, "-filter_complex")
    assert "[0:a]showwavespic" in graph and "s=800x100" in graph
    assert ("image2", "1") == (option(args, "-f"), option(args, "-vframes"))
