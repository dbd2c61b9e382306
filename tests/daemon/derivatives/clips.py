"""Generated clips for the derivative tests and tools/bench-derivatives: one "camera" scene
generator (moving colour gradients under a Game-of-Life texture, both from a seed), so two
seeds are two unrelated recordings from the same camera, and the copies a reviewer meets:
re-encoded at half size and another bitrate, H.265, trimmed, with a burned-in timestamp."""

from __future__ import annotations

import random
import subprocess
from pathlib import Path


def ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-y", *args],
                   check=True)


def scene(out: Path, *, seed: int, seconds: float = 12, size: str = "640x360", fps: int = 25,
          gop: int | None = None, audio: bool = True, codec: str = "libx264",
          preset: str = "ultrafast", extra: tuple[str, ...] = ()) -> Path:
    """A camera recording: key frame every second (``gop`` frames), moov at the end."""
    w, h = (int(v) for v in size.split("x"))
    # ffmpeg's gradients draws its colours at random whatever its seed: name them, so one
    # seed is one scene in every run
    rng = random.Random(seed)
    colours = ":".join(f"c{i}=0x{rng.getrandbits(24):06x}" for i in range(6))
    args = ["-f", "lavfi", "-i",
            f"gradients=s={size}:seed={seed}:speed=0.03:n=6:{colours}:r={fps}:d={seconds}",
            "-f", "lavfi", "-i",
            # the texture changes twice a second, as a scene does, not with every frame
            f"life=s={w // 8}x{h // 8}:seed={seed}:ratio=0.3:rate=2:mold=40:"
            f"death_color=#000000:life_color=#ffffff,fps={fps},scale={size}:flags=neighbor,"
            f"trim=duration={seconds}"]
    if audio:
        args += ["-f", "lavfi", "-i", f"sine=frequency={300 + 37 * seed}:duration={seconds}"]
    args += ["-filter_complex", "[0][1]blend=all_mode=overlay:all_opacity=0.5,format=yuv420p[v]",
             "-map", "[v]"]
    if audio:
        args += ["-map", "2:a", "-c:a", "aac"]
    args += ["-c:v", codec, "-preset", preset, "-g", str(gop or fps), *extra, str(out)]
    ffmpeg(*args)
    return out


def half_size(src: Path, out: Path) -> Path:
    ffmpeg("-i", str(src), "-vf", "scale=iw/2:-2", "-c:v", "libx264", "-preset", "veryfast",
           "-b:v", "400k", "-c:a", "copy", str(out))
    return out


def hevc(src: Path, out: Path) -> Path:
    ffmpeg("-i", str(src), "-c:v", "libx265", "-preset", "ultrafast", "-b:v", "600k",
           "-x265-params", "log-level=error", "-tag:v", "hvc1", "-c:a", "copy", str(out))
    return out


def trimmed(src: Path, out: Path, start: float, seconds: float) -> Path:
    ffmpeg("-ss", str(start), "-i", str(src), "-t", str(seconds), "-c:v", "libx264",
           "-preset", "veryfast", "-c:a", "aac", str(out))
    return out


def timestamped(src: Path, out: Path) -> Path:
    ffmpeg("-i", str(src), "-vf", "drawtext=text='2026-12-02 %{pts\\:hms}  DSJ0001':x=20:y=20:"
           "fontsize=28:fontcolor=white:box=1:boxcolor=black@0.6", "-c:v", "libx264",
           "-preset", "veryfast", "-c:a", "copy", str(out))
    return out
