"""The ffmpeg and ffprobe command lines of each derivative, built with ffmpeg-python.

Only argument lists are built here (nothing is run), so every command is unit-tested
without ffmpeg.  Each derivative kind names its file suffix and content type; which kinds a
recording gets follows its media kind (:data:`KINDS_BY_MEDIA`).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

import ffmpeg

#: media kind -> the derivatives a recording of that kind gets, in the order they are made
KINDS_BY_MEDIA: dict[str, list[str]] = {
    "video": ["proxy", "poster", "sprite", "sprite_vtt", "fingerprint"],
    "audio": ["audio_proxy", "waveform"], "photo": ["thumbnail"]}
SUFFIX = {"proxy": ".mp4", "poster": ".jpg", "audio_proxy": ".m4a", "thumbnail": ".jpg",
          "sprite": ".jpg", "sprite_vtt": ".vtt", "waveform": ".png",
          "fingerprint": ".json", "recovered": ".mp4", "recovered_proxy": ".mp4"}
CONTENT_TYPE = {"proxy": "video/mp4", "poster": "image/jpeg", "audio_proxy": "audio/mp4",
                "thumbnail": "image/jpeg", "sprite": "image/jpeg", "sprite_vtt": "text/vtt",
                "waveform": "image/png", "fingerprint": "application/json",
                "recovered": "video/mp4", "recovered_proxy": "video/mp4"}
#: the name a player fetches the sprite sheet by, beside its WebVTT index (FORMATS.md)
SPRITE_NAME = "sprite.jpg"
_QUIET = ("-hide_banner", "-nostdin", "-loglevel", "error")


@dataclass(frozen=True)
class Source:
    """What ffprobe says of the stored original, as far as derivatives need it."""

    duration_s: float | None = None
    width: int | None = None
    height: int | None = None
    rotation: int = 0  # degrees the player turns the picture (a multiple of 90)
    has_video: bool = False
    has_audio: bool = False

    @property
    def portrait(self) -> bool:
        """Taller than wide once the rotation is applied."""
        if not self.width or not self.height:
            return False
        w, h = (self.height, self.width) if self.rotation % 180 else (self.width, self.height)
        return h > w


def probe_args(source: str, *, ffprobe: str = "ffprobe") -> list[str]:
    return [ffprobe, "-v", "error", "-show_format", "-show_streams", "-of", "json", source]


def parse_probe(stdout: bytes) -> Source:
    """A :class:`Source` from ffprobe's JSON (rotation from the display matrix or the older
    ``rotate`` tag)."""
    doc = json.loads(stdout or b"{}")
    streams = doc.get("streams", [])
    video = next((s for s in streams if s.get("codec_type") == "video"
                  and not s.get("disposition", {}).get("attached_pic")), None)
    audio = next((s for s in streams if s.get("codec_type") == "audio"), None)
    rotation = 0
    if video is not None:
        for side in video.get("side_data_list", []):
            if "rotation" in side:
                rotation = int(float(side["rotation"]))
        if not rotation and video.get("tags", {}).get("rotate"):
            rotation = int(float(video["tags"]["rotate"]))
    duration = doc.get("format", {}).get("duration")
    return Source(duration_s=float(duration) if duration not in (None, "N/A") else None,
                  width=(video or {}).get("width"), height=(video or {}).get("height"),
                  rotation=rotation % 360, has_video=video is not None,
                  has_audio=audio is not None)


def _box(source: Source, width: int, height: int) -> tuple[int, int]:
    """The frame the proxy fits in: landscape ``width x height``, or turned for a portrait
    video, never larger than the original."""
    w, h = (height, width) if source.portrait else (width, height)
    if source.width and source.height:
        sw, sh = ((source.height, source.width) if source.rotation % 180
                  else (source.width, source.height))
        w, h = min(w, sw), min(h, sh)
    return w, h


def proxy_args(source_url: str, out: str, source: Source, *, width: int = 640,
               height: int = 360, video_kbps: int = 700, audio_kbps: int = 64,
               preset: str = "veryfast", ffmpeg_cmd: str = "ffmpeg") -> list[str]:
    """H.264 (yuv420p, High profile) + AAC in MP4 with the index first (``+faststart``),
    fitting ``width x height`` with the aspect kept, rotation applied (ffmpeg turns the
    picture by the display matrix and writes none), audio kept when there is any."""
    inp = ffmpeg.input(source_url)
    w, h = _box(source, width, height)
    video = (inp.video
             .filter("scale", w=w, h=h, force_original_aspect_ratio="decrease",
                     force_divisible_by=2)
             .filter("format", "yuv420p"))
    streams = [video] + ([inp.audio] if source.has_audio else [])
    # average bitrate without a VBV cap (maxrate/bufsize): x264's VBV with frame threads is
    # not deterministic, and the same proxy bytes from the same original mean a transcode
    # repeated after a crash lands on the same content-addressed object, never a second one
    options = {"c:v": "libx264", "preset": preset, "profile:v": "high",
               "b:v": f"{video_kbps}k", "movflags": "+faststart", "f": "mp4",
               "map_metadata": "-1"}
    if source.has_audio:
        options.update({"c:a": "aac", "b:a": f"{audio_kbps}k", "ac": 2})
    return (ffmpeg.output(*streams, out, **options).global_args(*_QUIET)
            .overwrite_output().compile(cmd=ffmpeg_cmd))


def poster_time(source: Source) -> float:
    """Where the poster frame is taken: a tenth into the recording, at most 5 s (the first
    frames of a body-worn camera are often dark or blurred), 0 when the length is unknown."""
    if not source.duration_s:
        return 0.0
    return round(min(source.duration_s * 0.1, 5.0), 3)


def poster_args(source_url: str, out: str, source: Source, *, width: int = 640,
                ffmpeg_cmd: str = "ffmpeg") -> list[str]:
    """One JPEG frame at :func:`poster_time`, ``width`` wide (height by aspect), rotated."""
    at = poster_time(source)
    inp = ffmpeg.input(source_url, ss=at) if at else ffmpeg.input(source_url)
    w = min(width, (source.height if source.rotation % 180 else source.width) or width)
    frame = inp.video.filter("scale", w=w - w % 2, h=-2)
    return (ffmpeg.output(frame, out, vframes=1, **{"q:v": 3}, f="image2",
                          map_metadata="-1")
            .global_args(*_QUIET).overwrite_output().compile(cmd=ffmpeg_cmd))


def thumbnail_args(source_url: str, out: str, source: Source, *, width: int = 640,
                   ffmpeg_cmd: str = "ffmpeg") -> list[str]:
    """A still's JPEG thumbnail, ``width`` wide at most (EXIF rotation is not applied)."""
    return poster_args(source_url, out, Source(width=source.width, height=source.height),
                       width=width, ffmpeg_cmd=ffmpeg_cmd)


def audio_proxy_args(source_url: str, out: str, *, audio_kbps: int = 64,
                     ffmpeg_cmd: str = "ffmpeg") -> list[str]:
    """AAC in MP4 (``.m4a``, ``+faststart``), the first audio stream, no picture."""
    inp = ffmpeg.input(source_url)
    return (ffmpeg.output(inp.audio, out, **{"c:a": "aac", "b:a": f"{audio_kbps}k"},
                          movflags="+faststart", f="mp4", map_metadata="-1")
            .global_args(*_QUIET).overwrite_output().compile(cmd=ffmpeg_cmd))


@dataclass(frozen=True)
class SpriteGrid:
    """Where each scrubbing tile sits: tile ``k`` shows the recording at ``k * interval``
    seconds and covers ``[k * interval, (k + 1) * interval)``."""

    interval_s: float
    tiles: int
    columns: int
    tile_width: int
    tile_height: int
    duration_s: float

    @property
    def rows(self) -> int:
        return max(1, math.ceil(self.tiles / self.columns))


def sprite_grid(source: Source, *, every_s: float = 5.0, tile_width: int = 160,
                columns: int = 10, max_tiles: int = 600) -> SpriteGrid:
    """One tile every ``every_s`` seconds; a recording so long that it would need more than
    ``max_tiles`` gets a longer interval instead (a JPEG is at most 65,535 pixels high)."""
    duration = source.duration_s or 0.0
    interval = max(every_s, duration / max_tiles) if duration else every_s
    tiles = max(1, math.ceil(duration / interval)) if duration else 1
    w, h = ((source.height, source.width) if source.rotation % 180
            else (source.width, source.height))
    width = tile_width - tile_width % 2
    height = round(width * h / w / 2) * 2 if w and h else round(width * 9 / 16 / 2) * 2
    return SpriteGrid(round(interval, 3), tiles, min(columns, tiles), width, max(height, 2),
                      round(duration, 3))


def sprite_args(source_url: str, out: str, grid: SpriteGrid, *,
                ffmpeg_cmd: str = "ffmpeg") -> list[str]:
    """One JPEG of ``grid.columns x grid.rows`` tiles: the first frame, then the first one
    ``interval`` after the last taken (rotation applied, as ffmpeg does by default).  Not
    the ``fps`` filter: it gives no frame at all for a clip shorter than half an interval."""
    every = f"isnan(prev_selected_t)+gte(t-prev_selected_t,{grid.interval_s})"
    frames = (ffmpeg.input(source_url).video
              .filter("select", every)
              .filter("scale", w=grid.tile_width, h=grid.tile_height)
              .filter("tile", layout=f"{grid.columns}x{grid.rows}", nb_frames=grid.tiles))
    return (ffmpeg.output(frames, out, vframes=1, **{"q:v": 4}, f="image2",
                          map_metadata="-1")
            .global_args(*_QUIET).overwrite_output().compile(cmd=ffmpeg_cmd))


def _vtt_time(seconds: float) -> str:
    ms = round(seconds * 1000)
    return f"{ms // 3_600_000:02d}:{ms // 60_000 % 60:02d}:{ms // 1000 % 60:02d}.{ms % 1000:03d}"


def sprite_vtt(grid: SpriteGrid, *, image: str = SPRITE_NAME) -> str:
    """The WebVTT index of the sprite sheet: one cue per tile naming its rectangle
    (``image#xywh=x,y,w,h``, the media-fragment form scrubbing previews use)."""
    lines = ["WEBVTT", ""]
    end_of_all = grid.duration_s or grid.tiles * grid.interval_s
    for k in range(grid.tiles):
        start = k * grid.interval_s
        end = min((k + 1) * grid.interval_s, end_of_all)
        x, y = (k % grid.columns) * grid.tile_width, (k // grid.columns) * grid.tile_height
        lines += [f"{_vtt_time(start)} --> {_vtt_time(max(end, start + 0.001))}",
                  f"{image}#xywh={x},{y},{grid.tile_width},{grid.tile_height}", ""]
    return "\n".join(lines)


def waveform_args(source_url: str, out: str, *, width: int = 1200, height: int = 200,
                  ffmpeg_cmd: str = "ffmpeg") -> list[str]:
    """A PNG of the first audio stream's waveform, all channels mixed (``showwavespic``)."""
    picture = ffmpeg.input(source_url).audio.filter("showwavespic", s=f"{width}x{height}",
                                                    colors="0x3070c0")
    return (ffmpeg.output(picture, out, vframes=1, f="image2", map_metadata="-1")
            .global_args(*_QUIET).overwrite_output().compile(cmd=ffmpeg_cmd))
