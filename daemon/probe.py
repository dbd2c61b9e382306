"""Probe stored recordings with ffprobe: duration, container, codecs, picture size.

A derivative, at lower priority than ingest: the daemon probes only while no device is being
read, from the stored copy (never the device, which is read once), and records the result as
a ``media_probed`` event and a ``media_probe`` row.  Durations give the annual report its
hours of footage; a file ffprobe cannot read is recorded with the error, never retried in a
loop, and never stops the daemon.
"""

from __future__ import annotations

import json
import subprocess
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass

import structlog

from evidock.daemon.ledger.base import Ledger
from evidock.daemon.store.base import WormStore, audited_names

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
    doc = json.loads(proc.stdout or b"{}")
    fmt = doc.get("format", {})
    video = next((s for s in doc.get("streams", []) if s.get("codec_type") == "video"), {})
    audio = next((s for s in doc.get("streams", []) if s.get("codec_type") == "audio"), {})
    duration = fmt.get("duration")
    return Probe(duration_s=float(duration) if duration not in (None, "N/A") else None,
                 container=fmt.get("format_name"), video_codec=video.get("codec_name"),
                 width=video.get("width"), height=video.get("height"),
                 audio_codec=audio.get("codec_name"))


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
        source = source_for(self.store, key, self.ledger.media(media_id).version_id)
        return (ffprobe(source, timeout=self.timeout) if source is not None
                else Probe(error=f"store {self.store.name} offers no way to probe {key}"))

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
                     video_codec=result.video_codec, audio_codec=result.audio_codec)

    def of(self, media_id: int) -> dict | None:
        return self.ledger.probe(media_id)
