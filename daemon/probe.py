"""Probe stored recordings with ffprobe: duration, container, codecs, picture size, frame
rate, rotation, creation time, the device and GPS tags where the file has them, and when it
was recorded (start and end, from the best of the device's times: ``recorded_time.py``).

A derivative, at lower priority than ingest: the daemon probes only while no device is being
read, from the stored copy (never the device, which is read once), and records the result as
a ``media_probed`` event and a ``media_probe`` row.  Durations give the annual report its
hours of footage; a file ffprobe cannot read is recorded with the error, never retried in a
loop, and never stops the daemon.
"""

from __future__ import annotations

import json
import re
import subprocess
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime

import structlog

from evidock.daemon import recorded_time
from evidock.daemon.derivatives.commands import parse_probe
from evidock.daemon.ledger.base import Ledger
from evidock.daemon.ledger.records import MediaRecord
from evidock.daemon.store.base import WormStore, audited_names
from evidock.daemon.timeutil import parse

log = structlog.get_logger("evidock.probe")

KINDS = ("video", "audio")


@dataclass(frozen=True)
class Probe:
    duration_s: float | None = None
    container: str | None = None
    video_codec: str | None = None
    width: int | None = None
    height: int | None = None
    audio_codec: str | None = None
    error: str | None = None
    frame_rate: float | None = None
    rotation: int | None = None  # degrees a player turns the picture
    creation_time: str | None = None  # the container's tag, as written
    device_make: str | None = None
    device_model: str | None = None
    location: str | None = None  # ISO 6709, as written ("+31.2304+121.4737/")
    latitude: float | None = None
    longitude: float | None = None
    # when it was recorded (recorded_time.RecordedTime.as_probe)
    recorded_start: str | None = None
    recorded_end: str | None = None
    time_source: str | None = None
    time_sources: dict | None = None
    time_correction_s: float | None = None
    time_spread_s: float | None = None
    time_disagree: bool | None = None


# the first tag present wins: QuickTime's own keys (phones, some cameras), then the plain
# ones ffmpeg maps MP4/MOV user data to
_MAKE = ("com.apple.quicktime.make", "make")
_MODEL = ("com.apple.quicktime.model", "model")
_LOCATION = ("com.apple.quicktime.location.ISO6709", "location", "location-eng")
_ISO6709 = re.compile(r"^([+-]\d+(?:\.\d+)?)([+-]\d+(?:\.\d+)?)")


def _tag(tags: dict, keys: tuple[str, ...]) -> str | None:
    lowered = {k.lower(): v for k, v in tags.items()}
    return next((str(lowered[k.lower()]).strip() for k in keys
                 if str(lowered.get(k.lower(), "")).strip()), None)


def lat_lon(iso6709: str | None) -> tuple[float | None, float | None]:
    """Degrees from an ISO 6709 point in decimal degrees; None for what is not one."""
    m = _ISO6709.match(iso6709 or "")
    if not m:
        return None, None
    lat, lon = float(m[1]), float(m[2])
    return (lat, lon) if abs(lat) <= 90 and abs(lon) <= 180 else (None, None)


def _rate(text: str | None) -> float | None:
    num, _, den = (text or "").partition("/")
    try:
        value = float(num) / float(den or 1)
    except (ValueError, ZeroDivisionError):
        return None
    return round(value, 3) if value > 0 else None


def parse_doc(raw: bytes) -> Probe:
    """A :class:`Probe` from ffprobe's JSON (``-show_format -show_streams``)."""
    doc = json.loads(raw or b"{}")
    fmt = doc.get("format", {})
    video = next((s for s in doc.get("streams", []) if s.get("codec_type") == "video"), {})
    audio = next((s for s in doc.get("streams", []) if s.get("codec_type") == "audio"), {})
    duration = fmt.get("duration")
    # a stream's tags stand in for the container's where it has none (MOV writes both)
    tags = {**video.get("tags", {}), **audio.get("tags", {}), **fmt.get("tags", {})}
    location = _tag(tags, _LOCATION)
    lat, lon = lat_lon(location)
    return Probe(duration_s=float(duration) if duration not in (None, "N/A") else None,
                 container=fmt.get("format_name"), video_codec=video.get("codec_name"),
                 width=video.get("width"), height=video.get("height"),
                 audio_codec=audio.get("codec_name"),
                 frame_rate=_rate(video.get("avg_frame_rate")) or _rate(
                     video.get("r_frame_rate")) if video else None,
                 rotation=parse_probe(raw).rotation if video else None,
                 creation_time=_tag(tags, ("creation_time",)),
                 device_make=_tag(tags, _MAKE), device_model=_tag(tags, _MODEL),
                 location=location, latitude=lat, longitude=lon)


def with_times(probe: Probe, media: MediaRecord) -> Probe:
    """``probe`` with the recording's start and end from the best source it and the
    ledger's record of the file have (recorded_time.py)."""
    named = (None if "time_from_mtime" in media.flags.split(",")
             else parse(media.recorded_at))
    found = recorded_time.best(
        container=recorded_time.creation_time(probe.creation_time), named=named,
        mtime=datetime.fromtimestamp(media.mtime_ns / 1e9, UTC),
        duration_s=probe.duration_s, clock_offset_s=media.clock_offset_s)
    return replace(probe, **found.as_probe())


def ffprobe(source: str, *, timeout: float = 60.0) -> Probe:
    """Run ffprobe on a local path or URL.  ffmpeg-python's ``probe`` has no timeout, and a
    hostile file must not hang a worker, so the same command runs here with one."""
    cmd = ["ffprobe", "-v", "error", "-show_format", "-show_streams", "-of", "json", source]
    try:
        proc = subprocess.run(cmd, capture_output=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return Probe(error=f"ffprobe took longer than {timeout:.0f} s")
    except FileNotFoundError:
        return Probe(error="ffprobe is not installed (Debian package ffmpeg)")
    if proc.returncode != 0:
        message = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        return Probe(error=(message[-1] if message else f"ffprobe exited {proc.returncode}")[:300])
    return parse_doc(proc.stdout)


def source_for(store: WormStore, key: str, version_id: str | None = None) -> str | None:
    """Where ffprobe can read the stored copy: a local file, or a short-lived S3 URL to the
    version the ledger recorded (never "the latest", which anyone could write over)."""
    local = getattr(store, "local_path", None)
    found = local(key) if local is not None else None
    if not found:
        remote = getattr(store, "probe_url", None)
        found = remote(key, version_id=version_id) if remote is not None else None
    return str(found) if found else None


class Prober:
    def __init__(self, ledger: Ledger, store: WormStore, *, timeout: float = 60.0) -> None:
        self.ledger = ledger
        self.store = store
        self.timeout = timeout

    def pending(self, limit: int = 50) -> list[tuple[int, str]]:
        names = sorted(audited_names(self.store))
        return self.ledger.unprobed(names, limit)

    def run(self, limit: int = 50, *, keep_going=lambda: True, parallel: int = 1,
            batch: int = 1) -> int:
        """Probe up to ``limit`` recordings while ``keep_going()`` (asked before each batch);
        returns how many.  ``parallel`` ffprobes run at once and each ``batch`` of results
        is recorded in one ledger transaction: a one-shot run of thousands of files is not
        one ffprobe and one synced commit after the other.  The defaults (one at a time)
        suit the background job, which must stop as soon as a device is being read."""
        pending = self.pending(limit)
        done = 0
        with ThreadPoolExecutor(max(parallel, 1), thread_name_prefix="probe") as pool:
            for start in range(0, len(pending), max(batch, 1)):
                if not keep_going():
                    break
                chunk = pending[start:start + max(batch, 1)]
                results = list(pool.map(lambda job: self._probe(*job), chunk))
                self.ledger.record_probes([(media_id, asdict(result)) for (media_id, _), result
                                           in zip(chunk, results, strict=True)])
                for (media_id, _), result in zip(chunk, results, strict=True):
                    self._log(media_id, result)
                done += len(chunk)
        return done

    def _probe(self, media_id: int, key: str) -> Probe:
        media = self.ledger.media(media_id)
        source = source_for(self.store, key, media.version_id)
        found = (ffprobe(source, timeout=self.timeout) if source is not None
                 else Probe(error=f"store {self.store.name} offers no way to probe {key}"))
        # the name and the mtime still say when it was recorded when ffprobe could not read it
        return with_times(found, media)

    def probe_one(self, media_id: int, key: str) -> Probe:
        result = self._probe(media_id, key)
        self.ledger.record_probe(media_id, asdict(result))
        self._log(media_id, result)
        return result

    @staticmethod
    def _log(media_id: int, result: Probe) -> None:
        if result.error:
            log.warning("probe_failed", media_id=media_id, error=result.error)
        else:
            log.info("media_probed", media_id=media_id, duration_s=result.duration_s,
                     video_codec=result.video_codec, audio_codec=result.audio_codec,
                     time_source=result.time_source)
        if result.time_disagree:
            log.warning("recorded_time_disagreed", media_id=media_id,
                        sources=result.time_sources, spread_s=result.time_spread_s)

    def of(self, media_id: int) -> dict | None:
        return self.ledger.probe(media_id)
