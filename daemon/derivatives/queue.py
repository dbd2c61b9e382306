"""Work the ledger's derivative queue (ledger/derivatives.py), below ingest.

A recording gets its derivative rows once its original is verified (``enqueue``); ``run``
makes pending ones, at most ``concurrency`` ffmpeg processes at once, each from the stored
copy (a local file, or a short-lived S3 URL), never the device.  It starts nothing while
``busy()`` (a device is being read) and pauses a running ffmpeg meanwhile.  Each derivative
is put through the store like an original (hashed while read, verified against what the
store reports) with at least the original's retention, and recorded ``done`` with its
hashes.  A file ffmpeg refuses fails at once with the reason; any other failure is tried
again at a later run, up to ``max_attempts`` starts, then fails.  After a crash,
``recover`` puts interrupted items back (the derivative object is content addressed, so a
put repeated after a crash stores nothing twice).
"""

from __future__ import annotations

import hmac
import json
import mmap
import os
import shutil
import signal
import tempfile
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import structlog

from evidock.daemon.derivatives import commands, fingerprint, recover, runner
from evidock.daemon.errors import IntegrityError, InvalidTransition, RecoveryImpossible
from evidock.daemon.hashing import HashingReader
from evidock.daemon.ledger.base import Ledger
from evidock.daemon.probe import source_for
from evidock.daemon.store.base import WormStore, audited_names
from evidock.daemon.timeutil import parse

log = structlog.get_logger("evidock.derivatives")


def derivative_metadata(item: dict, station: str) -> dict[str, str]:
    """What a derivative's object carries (FORMATS.md, "Derivatives")."""
    from urllib.parse import quote

    return {"station": quote(station, safe=""), "derivative-kind": item["kind"],
            "derivative-id": str(item["id"]), "media-id": str(item["media_id"]),
            "derivative-of": item["source_blake3"],
            "derivative-of-sha256": item["source_sha256"],
            "content-type": commands.CONTENT_TYPE[item["kind"]]}


class Deriver:
    def __init__(self, ledger: Ledger, store: WormStore, cfg, *, work_dir: Path,
                 busy: Callable[[], bool] = lambda: False,
                 kinds: dict[str, list[str]] | None = None) -> None:
        self.ledger = ledger
        self.store = store
        self.cfg = cfg
        self.work_dir = Path(work_dir)
        self.busy = busy
        self._stop = threading.Event()
        self.kinds = kinds if kinds is not None else commands.KINDS_BY_MEDIA
        self._lock = threading.Lock()  # one run() at a time (scheduler and --until-idle)
        self._frames: dict[int, tuple[list, float | None]] = {}  # fingerprints being stored
        self._details: dict[int, dict] = {}  # what a recovery says, until it is stored

    def stopping(self) -> bool:
        return self._stop.is_set()

    def stop(self) -> None:
        """End any ffmpeg in flight (its item goes back to pending) and start no more."""
        self._stop.set()

    # -- start-up ----------------------------------------------------------------------------

    def recover(self) -> tuple[list[int], list[int]]:
        """At start: interrupted derivatives back to pending (or failed, attempts used up),
        and what a killed run left in the work directory removed (temporary output only,
        never evidence)."""
        for pid in self._orphans():  # an ffmpeg of a daemon killed with -9 (own session)
            try:
                os.kill(pid, signal.SIGKILL)
                log.warning("derivative_orphan_stopped", pid=pid)
            except ProcessLookupError:
                pass
        if self.work_dir.exists():
            shutil.rmtree(self.work_dir, ignore_errors=True)
        back, failed = self.ledger.recover_derivatives(self.cfg.max_attempts)
        if back or failed:
            log.warning("derivatives_interrupted", pending_again=back, failed=failed)
        return back, failed

    def _orphans(self) -> list[int]:
        """Processes writing into the work directory: only ffmpeg runs of this station's
        derivatives have it on their command line."""
        mark = os.fsencode(str(self.work_dir.resolve())) + b"/"
        found = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit() or int(entry.name) == os.getpid():
                continue
            try:
                if mark in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                continue
        return found

    # -- the queue ---------------------------------------------------------------------------

    def enqueue(self, limit: int = 1000) -> int:
        """Queue the derivatives of every verified recording that lacks them."""
        queued = 0
        stores = sorted(audited_names(self.store))
        for media_id in self.ledger.underived(stores, self.kinds, limit):
            kind = self.ledger.media(media_id).kind
            queued += len(self.ledger.queue_derivatives(media_id, self.kinds.get(kind, [])))
        return queued

    def run(self, *, keep_going: Callable[[], bool] = lambda: True,
            limit: int | None = None) -> int:
        """Queue, then make pending derivatives while ``keep_going()``; returns how many
        were tried.  Each item is tried at most once per run."""
        if not self._lock.acquire(blocking=False):
            return 0
        try:
            return self._run(keep_going, limit)
        finally:
            self._lock.release()

    def _run(self, keep_going, limit) -> int:
        self.enqueue()
        tried: set[int] = set()
        go = lambda: keep_going() and not self.stopping()  # noqa: E731
        with ThreadPoolExecutor(self.cfg.concurrency, thread_name_prefix="derive") as pool:
            while go() and (limit is None or len(tried) < limit):
                batch = [i for i in self.ledger.next_derivatives(len(tried) + 50)
                         if i["id"] not in tried][:self.cfg.concurrency]
                if limit is not None:
                    batch = batch[:limit - len(tried)]
                if not batch:
                    break
                tried.update(i["id"] for i in batch)
                list(pool.map(lambda i: self.make_one(i, go), batch))
        return len(tried)

    def make_one(self, item: dict, go: Callable[[], bool] = lambda: True) -> str | None:
        """Make one derivative; its failure is recorded, never raised.  Returns its state
        (None: not started, someone else has it or it is no longer pending)."""
        if not go():
            return None
        bound = log.bind(derivative_id=item["id"], media_id=item["media_id"], kind=item["kind"])
        try:
            attempt = self.ledger.start_derivative(item["id"])
        except InvalidTransition:
            return None
        bound.info("derivative_started", attempt=attempt)
        tmp = None
        try:
            self.work_dir.mkdir(parents=True, exist_ok=True)
            tmp = Path(tempfile.mkdtemp(prefix=f"d{item['id']}-", dir=self.work_dir.resolve()))
            out = self._make(item, tmp / f"out{commands.SUFFIX[item['kind']]}", bound)
            self._store(item, out, bound)
            if item["kind"] == "recovered" and "proxy" in self.kinds.get("video", ()):
                # the recovered copy keeps the camera's codec (H.265 does not play in a
                # browser): the review copy of a cut file is made from it, as for any video
                if self.ledger.queue_derivatives(item["media_id"], ["recovered_proxy"]):
                    bound.info("derivative_recovery_proxy_queued")
            return "done"
        except runner.Cancelled:
            # the daemon is stopping: back to pending now (the attempt still counts)
            return self.ledger.fail_derivative(item["id"], "stopped with the daemon",
                                               give_up=False)
        except Exception as exc:  # noqa: BLE001 - top of a job: record it, go on
            reason = self._reason(exc, item)
            give_up = getattr(exc, "permanent", False) or attempt >= self.cfg.max_attempts
            state = self.ledger.fail_derivative(item["id"], reason, give_up=give_up)
            bound.warning("derivative_failed", error=reason, state=state, attempt=attempt,
                          stderr=getattr(exc, "stderr", "") or None)
            if "moov atom not found" in (getattr(exc, "stderr", "") or "").lower():
                # a battery-cut MP4: its media data may still make a playable copy
                if self.ledger.queue_derivatives(item["media_id"], ["recovered"]):
                    bound.info("derivative_recovery_queued")
            return state
        finally:
            self._frames.pop(item["id"], None)
            self._details.pop(item["id"], None)
            if tmp is not None:
                shutil.rmtree(tmp, ignore_errors=True)

    # -- one derivative ----------------------------------------------------------------------

    def _ffmpeg(self, args: list[str], source_url: str,
                stderr_lines: int | None = 20) -> tuple[bytes, str]:
        """Run one command; ffmpeg's messages name the stored copy, never its path or
        (S3) its signed URL, which must not reach the ledger or the log."""
        try:
            out, stderr = runner.run(runner.niced(args, nice=self.cfg.nice,
                                                  ionice_idle=self.cfg.ionice_idle),
                                     timeout=self.cfg.timeout_seconds, paused=self.busy,
                                     cancelled=self.stopping, stderr_lines=stderr_lines)
        except runner.FfmpegError as exc:
            exc.stderr = exc.stderr.replace(source_url, "the stored copy")
            raise
        return out, stderr.replace(source_url, "the stored copy")

    def _make(self, item: dict, out: Path, bound) -> Path:
        if item["kind"] == "recovered_proxy":  # made of the recovered copy, not the cut file
            recovered = next((d for d in self.ledger.derivatives(media_id=item["media_id"])
                              if d["kind"] == "recovered" and d["state"] == "done"), None)
            if recovered is None:
                raise runner.FfmpegRefused("no recovered copy", stderr="")
            source_url = source_for(self.store, recovered["object_key"], None)
        else:
            source_url = source_for(self.store, item["media_key"],
                                    self.ledger.media(item["media_id"]).version_id)
        if source_url is None:
            raise runner.FfmpegError(f"store {self.store.name} offers no way to read "
                                     f"{item['media_key']}")
        if item["media_size"] == 0:
            raise runner.FfmpegRefused("empty", stderr="")
        if item["kind"] == "recovered":  # ffprobe cannot read a file without its index
            return self._recover(item, out, source_url, bound)
        stdout, _ = self._ffmpeg(commands.probe_args(source_url), source_url)
        source = commands.parse_probe(stdout)
        # a recovered copy's proxy is made as any proxy, of the recovered copy chosen above
        cfg, kind = self.cfg, "proxy" if item["kind"] == "recovered_proxy" else item["kind"]
        if kind in ("proxy", "poster", "sprite", "sprite_vtt", "fingerprint") \
                and not source.has_video:
            raise runner.FfmpegRefused("no video", stderr="no video stream")
        if kind in ("sprite", "sprite_vtt"):
            grid = commands.sprite_grid(source, every_s=cfg.sprite_every_seconds,
                                        tile_width=cfg.sprite_tile_width)
        if kind == "sprite_vtt":  # text from the same grid as the sprite: no ffmpeg run
            out.write_text(commands.sprite_vtt(grid), encoding="utf-8")
            return out
        if kind == "fingerprint":
            return self._fingerprint(item, out, source_url, source)
        if kind == "sprite":
            args = commands.sprite_args(source_url, str(out), grid)
        elif kind == "waveform":
            if not source.has_audio:
                raise runner.FfmpegRefused("no audio", stderr="no audio stream")
            args = commands.waveform_args(source_url, str(out), width=cfg.waveform_width,
                                          height=cfg.waveform_height)
        elif kind == "proxy":
            args = commands.proxy_args(source_url, str(out), source, width=cfg.proxy_width,
                                       height=cfg.proxy_height,
                                       video_kbps=cfg.proxy_video_kbps,
                                       audio_kbps=cfg.proxy_audio_kbps,
                                       preset=cfg.proxy_preset)
        elif kind == "poster":
            args = commands.poster_args(source_url, str(out), source, width=cfg.poster_width)
        elif kind == "thumbnail":
            args = commands.thumbnail_args(source_url, str(out), source,
                                           width=cfg.poster_width)
        elif kind == "audio_proxy":
            if not source.has_audio:
                raise runner.FfmpegRefused("no audio", stderr="no audio stream")
            args = commands.audio_proxy_args(source_url, str(out),
                                             audio_kbps=cfg.proxy_audio_kbps)
        else:
            raise runner.FfmpegRefused(f"unknown derivative kind {kind}", stderr="")
        _, stderr = self._ffmpeg(args, source_url)
        if stderr:
            bound.info("ffmpeg_stderr", stderr=stderr)
        if not out.is_file() or out.stat().st_size == 0:
            raise runner.FfmpegRefused("no output", stderr="ffmpeg wrote no output")
        return out

    def _fingerprint(self, item: dict, out: Path, source_url: str, source) -> Path:
        """Key frames only where they come often enough, else four frames a second of a
        full decode (fingerprint.py says why)."""
        mode, gap = "keyframes", fingerprint.KEY_EVERY_S
        raw, stderr = self._ffmpeg(fingerprint.frames_args(source_url, keyframes=True),
                                   source_url, stderr_lines=None)
        times = fingerprint.frame_times(stderr)
        if fingerprint.sparse(times, source.duration_s):
            mode, gap = "4fps", 0.0
            raw, stderr = self._ffmpeg(fingerprint.frames_args(source_url, keyframes=False),
                                       source_url, stderr_lines=None)
            times = fingerprint.frame_times(stderr)
        frames = fingerprint.hash_frames(raw, times, min_gap=gap)
        out.write_bytes(fingerprint.document(frames, source.duration_s,
                                             source_blake3=item["source_blake3"], mode=mode))
        self._frames[item["id"]] = (frames, source.duration_s)
        return out

    def _reference(self, media_id: int, derivative_id: int):
        """The newest healthy video of the same device: handed over, its proxy made."""
        media = self.ledger.media(media_id)
        for other in reversed(self.ledger.list_media(device=media.device_serial,
                                                     state="verified")[-200:]):
            if other.id != media_id and other.kind == "video" and any(
                    d["kind"] == "proxy" and d["state"] == "done"
                    for d in self.ledger.derivatives(media_id=other.id)):
                return other
        raise RecoveryImpossible(
            f"no healthy recording from device {media.device_serial} is handed over yet to "
            "take the camera's codec settings from; once one is (and its proxy is made), "
            f"run `evidock derivatives retry {derivative_id}`")

    def _recover(self, item: dict, out: Path, source_url: str, bound) -> Path:
        """recover.py: the cut file's media data behind a reference's parameter sets."""
        reference = self._reference(item["media_id"], item["id"])
        ref_url = source_for(self.store, reference.object_key, reference.version_id)
        probe = json.loads(self._ffmpeg(commands.probe_args(ref_url), ref_url)[0])
        video = next((s for s in probe.get("streams", []) if s.get("codec_type") == "video"),
                     {})
        codec = video.get("codec_name")
        if codec not in recover.CODECS:
            raise RecoveryImpossible(f"the device's healthy recording is {codec or 'not video'}"
                                     ": only H.264 and H.265 recordings can be recovered")
        fps = video.get("r_frame_rate") or "30/1"
        head, _ = self._ffmpeg(recover.parameter_sets_args(ref_url, codec=codec), ref_url)
        sets = recover.split_parameter_sets(head, codec)
        sound = recover.audio_config(probe)
        if isinstance(sound, recover.AudioConfig):
            sound = recover.audio_config_of(
                probe, self._ffmpeg(recover.priming_args(ref_url), ref_url)[0])
        stream, chunks = out.with_suffix(f".{codec}"), out.with_suffix(".audio.mkv")
        blocks = 0
        with self._original(item, out.parent) as data, open(stream, "wb") as es:
            start, end = recover.media_data(data)
            walk = recover.annexb(data, start, end, sets, es, codec)
            if isinstance(sound, recover.AudioConfig):
                with open(chunks, "wb") as mkv:
                    blocks = recover.audio_chunks_mkv(data, walk.gaps, sound, mkv)
        if not walk.slices:
            raise RecoveryImpossible(f"no {codec.upper()} picture was found in the media "
                                     "data: the recording cannot be recovered")
        self._ffmpeg(recover.mux_args(str(stream), str(out), fps=fps, codec=codec,
                                      audio_path=str(chunks) if blocks else None,
                                      skip_samples=sound.priming if blocks else 0),
                     str(stream))
        made = json.loads(self._ffmpeg(commands.probe_args(str(out)), str(out))[0])
        seconds = {s.get("codec_type"): round(float(s.get("duration") or 0), 3)
                   for s in made.get("streams", [])}
        if sound is None:
            audio = "none: the device's healthy recording has no sound either"
        elif isinstance(sound, str):
            audio = f"not recovered: {sound}"
        elif "audio" not in seconds:
            audio = "not recovered: no sound was found between the pictures"
        else:
            audio = (f"recovered: {seconds['audio']} s of sound beside "
                     f"{seconds.get('video', 0)} s of picture")
        self._details[item["id"]] = {
            "seconds_recovered": round(float(made.get("format", {}).get("duration") or 0), 3),
            "seconds_of_picture": seconds.get("video"),
            "seconds_of_sound": seconds.get("audio"), "frames": walk.slices,
            "key_frames": walk.key_slices, "reference_media_id": reference.id,
            "reference_blake3": reference.blake3, "frame_rate": fps,
            "skipped_bytes": walk.skipped_bytes, "video_codec": codec,
            "audio_chunks": blocks, "audio": audio,
            "frame_order": ("reordered (B-frames): frame times inside each group of pictures "
                            "are approximate" if int(video.get("has_b_frames") or 0)
                            else "as shown")}
        bound.info("recording_recovered", **self._details[item["id"]])
        return out

    @contextmanager
    def _original(self, item: dict, tmp: Path):
        """The stored original, mapped into memory (a local copy first if the store is not
        a local file system)."""
        local = getattr(self.store, "local_path", None)
        path = local(item["media_key"]) if local else None
        if not path:
            path = tmp / "original"
            with self.store.open(item["media_key"]) as src, open(path, "wb") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
        with open(path, "rb") as raw, mmap.mmap(raw.fileno(), 0, access=mmap.ACCESS_READ) as m:
            yield m

    def _store(self, item: dict, out: Path, bound) -> None:
        """Put ``out`` as a write-once object, verify it, record it ``done``."""
        size = out.stat().st_size
        retain = parse(item["media_retain_until"])
        with open(out, "rb") as raw, HashingReader(raw, size, name=str(out.name)) as stream:
            stored = self.store.put(stream, retain_until=retain,
                                    metadata=derivative_metadata(item, self.ledger.station))
        digests = stream.digests()
        if not stored.digests.matches(digests):
            raise IntegrityError(f"derivative {item['id']}: the store reports other digests "
                                 "than the read computed")
        info = self.store.stat(stored.key)
        if info.size != size or not hmac.compare_digest(info.sha256 or "", digests.sha256):
            raise IntegrityError(f"derivative {item['id']}: the stored object {stored.key} "
                                 "does not match what was written")
        where = {"store": stored.details.get("store", self.store.name),
                 "object_key": stored.key, "retain_until": info.retain_until}
        if item["kind"] == "fingerprint":
            frames, duration = self._frames.pop(item["id"])
            self.ledger.finish_fingerprint(item["id"], digests, **where,
                                           algorithm=fingerprint.ALGORITHM,
                                           duration_s=duration, frames=frames)
        else:
            self.ledger.finish_derivative(item["id"], digests, **where,
                                          detail=self._details.pop(item["id"], None))
        bound.info("derivative_stored", object_key=stored.key, size=size,
                   blake3=digests.blake3, existed=stored.existed)

    @staticmethod
    def _reason(exc: Exception, item: dict) -> str:
        if isinstance(exc, RecoveryImpossible):
            return str(exc)
        if isinstance(exc, runner.FfmpegRefused):
            return runner.explain(exc.stderr, size=item["media_size"])
        return f"{type(exc).__name__}: {exc}"
