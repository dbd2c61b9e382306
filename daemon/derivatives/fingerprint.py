"""Perceptual fingerprint of a video: a PDQ hash (Meta's ``pdqhash``) of about one frame per
second, and the matching that ``evidock ledger similar`` runs on them.

Why PDQ per sampled frame rather than ``vpdq`` (notes, issue 9): vpdq decodes every frame
itself (its own libav build, so it needs ffmpeg's development headers to install) and was
about 12x real time on a 1080p30 clip here; decoding only what the hash needs is up to ten
times cheaper.  ffmpeg decodes only the key frames (``-skip_frame nokey``) when they come
at least every :data:`KEY_GAP_S` seconds, as a body-worn camera writes them; a file with
sparser key frames (a re-encoded copy) is decoded and sampled every :data:`DENSE_S`
seconds.  Either way the frames are scaled to 128x128 by ffmpeg and hashed here; the hash's
own quality score drops flat frames (a lens cap, a black screen) that would match anything.

Why a quarter-second grid for a decoded file: a copy trimmed at any point has its frames at
another phase than the original's key frames, and half a second of footage is far apart
in PDQ bits (measured on the test scenes: 34-92 bits at half a second, 0-16 within a
quarter).  Sampling the copy four times a second puts one of its frames within a quarter
second after each of the original's, at whatever offset it was cut.  The grid keeps each
frame's own time (``select``, not the ``fps`` filter, which hands on the last frame of each
second under the whole second's timestamp: half a second off, the cause of a flaky match).

Matching is vpdq's idea: two recordings share footage where many of one's hashes have a
hash of the other within :data:`MATCH_DISTANCE` bits; the score is the share of the
shorter one's seconds that match (seconds, not hashes: the two may be sampled at other
rates), and the matching seconds are grouped into time ranges with a consistent offset
between the two.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

import ffmpeg
import numpy as np

# PDQ, 128x128 by ffmpeg's area scale; the name stays for the fingerprints already stored
# (the hash is the same; the document's "sampled" says how often)
ALGORITHM = "pdq-1s"
SIZE = 128
KEY_GAP_S = 1.5  # key frames at least this often: hash them alone
KEY_EVERY_S = 0.9  # denser key frames: about one a second is enough
DENSE_S = 0.25  # a decoded file: the first frame of each quarter second
MIN_QUALITY = 50  # PDQ's own advice: below 50 a hash says little
MATCH_DISTANCE = 60  # of 256 bits: copies measured at 12-50, other clips at 100-128
MIN_SCORE = 0.3
RANGE_GAP_S = 3.0
OFFSET_SLACK_S = 2.0


def frames_args(source_url: str, *, keyframes: bool, ffmpeg_cmd: str = "ffmpeg") -> list[str]:
    """Decode key frames only (or all, sampled every :data:`DENSE_S` seconds) into raw
    128x128 RGB on stdout; ``showinfo`` writes each frame's own time to stderr."""
    inp = (ffmpeg.input(source_url, skip_frame="nokey") if keyframes
           else ffmpeg.input(source_url))
    video = inp.video
    if not keyframes:
        # the first frame of each grid step, at its own time (module docstring: why not fps)
        video = video.filter("select", f"isnan(prev_selected_t)+gt(floor(t/{DENSE_S}),"
                                       f"floor(prev_selected_t/{DENSE_S}))")
    # the middle of the picture only: burned-in timestamps and device names sit in the top
    # and bottom strips and corners, and would make a stamped copy look like other footage
    video = (video.filter("crop", w="iw*0.8", h="ih*0.7")
             .filter("scale", w=SIZE, h=SIZE, flags="area")
             .filter("format", "rgb24").filter("showinfo"))
    return (ffmpeg.output(video, "pipe:", f="rawvideo", fps_mode="passthrough")
            .global_args("-hide_banner", "-nostdin", "-loglevel", "info")
            .compile(cmd=ffmpeg_cmd))


_PTS = re.compile(r"\bn:\s*\d+\s+pts:\s*-?\d+\s+pts_time:(-?[0-9.]+)")


def frame_times(stderr: str) -> list[float]:
    return [float(t) for t in _PTS.findall(stderr)]


def hash_frames(raw: bytes, times: list[float], *,
                min_gap: float = KEY_EVERY_S) -> list[tuple[float, str]]:
    """(seconds, 64 hex digits) of each frame good enough to hash, at most one every
    ``min_gap`` seconds."""
    import pdqhash

    size = SIZE * SIZE * 3
    count = min(len(raw) // size, len(times))
    frames = np.frombuffer(raw[:count * size], np.uint8).reshape(count, SIZE, SIZE, 3)
    out: list[tuple[float, str]] = []
    last = None
    for t, frame in zip(times, frames, strict=False):
        if last is not None and t - last < min_gap:
            continue
        bits, quality = pdqhash.compute(np.ascontiguousarray(frame))
        if quality < MIN_QUALITY:
            continue
        out.append((round(t, 3), np.packbits(bits.astype(np.uint8)).tobytes().hex()))
        last = t
    return out


def sparse(times: list[float], duration_s: float | None) -> bool:
    """Key frames too far apart to stand for every second of the recording."""
    if not times:
        return True
    edges = [0.0, *sorted(times), duration_s or times[-1]]
    return max(b - a for a, b in zip(edges, edges[1:], strict=False)) > KEY_GAP_S


def document(frames: list[tuple[float, str]], duration_s: float | None, *,
             source_blake3: str, mode: str) -> bytes:
    """The fingerprint object (FORMATS.md, "Fingerprints")."""
    return json.dumps({"algorithm": ALGORITHM, "of_blake3": source_blake3,
                       "duration_s": duration_s, "sampled": mode,
                       "frames": [[t, h] for t, h in frames]},
                      separators=(",", ":"), sort_keys=True).encode()


# -- matching ------------------------------------------------------------------------------


def _matrix(frames: list) -> tuple[np.ndarray, np.ndarray]:
    times = np.array([float(t) for t, _ in frames], dtype=np.float64)
    hashes = np.frombuffer(b"".join(bytes.fromhex(h) for _, h in frames),
                           dtype=np.uint64).reshape(len(frames), 4) if frames else \
        np.zeros((0, 4), np.uint64)
    return times, hashes


@dataclass(frozen=True)
class Match:
    score: float  # share of the shorter recording's hashed seconds found in the other
    matched: int  # hashes of the query with a near hash in the other
    ranges: list[dict]  # {start, end, other_start, other_end} in seconds
    best_distance: int

    def as_dict(self) -> dict:
        return {"score": round(self.score, 3), "matched": self.matched,
                "best_distance": self.best_distance, "ranges": self.ranges}


def match(query: list, other: list, *, distance: int = MATCH_DISTANCE) -> Match | None:
    """How much footage ``query`` and ``other`` (lists of [seconds, hex]) share, or None."""
    if not query or not other:
        return None
    qt, qh = _matrix(query)
    ot, oh = _matrix(other)
    best = np.empty(len(qh), np.int64)
    where = np.empty(len(qh), np.int64)
    for start in range(0, len(qh), 256):  # bounded memory for hour-long recordings
        d = np.bitwise_count(qh[start:start + 256, None, :] ^ oh[None, :, :]).sum(axis=2)
        where[start:start + 256] = d.argmin(axis=1)
        best[start:start + 256] = d.min(axis=1)
    hit = best <= distance
    matched = int(hit.sum())
    shorter = min(len(_seconds(qt)), len(_seconds(ot)))
    seconds = len(_seconds(qt[hit]))
    score = min(1.0, seconds / shorter)
    if seconds < min(3, shorter) or score < MIN_SCORE:
        return None
    pairs = [(float(qt[i]), float(ot[where[i]])) for i in np.flatnonzero(hit)]
    return Match(score, matched, _ranges(pairs), int(best.min()))


def _seconds(times: np.ndarray) -> set[int]:
    """The whole seconds that have a hash: a recording sampled four times a second and one
    sampled once count alike."""
    return {int(t) for t in np.floor(times)}


def _ranges(pairs: list[tuple[float, float]]) -> list[dict]:
    """Matching seconds grouped into ranges: consecutive in the query, and at about the
    same offset into the other recording."""
    ranges: list[dict] = []
    for t, o in sorted(pairs):
        cur = ranges[-1] if ranges else None
        if cur and t - cur["end"] <= RANGE_GAP_S and \
                abs((o - t) - (cur["other_start"] - cur["start"])) <= OFFSET_SLACK_S:
            cur["end"], cur["other_end"] = t, max(cur["other_end"], o)
            cur["n"] += 1
        else:
            ranges.append({"start": t, "end": t, "other_start": o, "other_end": o, "n": 1})
    keep = [r for r in ranges if r["n"] >= 2] or ranges
    return [{k: round(v, 3) for k, v in r.items() if k != "n"} for r in keep]


def similar(ledger, media_id: int, *, limit: int = 20, candidates: int = 200) -> list[dict]:
    """Recordings sharing footage with ``media_id``: the band index names candidates
    (:meth:`Ledger.fingerprint_candidates`), then each is matched hash by hash."""
    from evidock.daemon.ledger.fingerprints import band_keys

    mine = ledger.fingerprint(media_id)["frames"]
    keys = [key for _, h in mine for key in band_keys(h)]
    found = ledger.fingerprint_candidates(keys, exclude=media_id, limit=candidates)
    # one shared band is chance for a long recording; a shared recording shares many
    found = [(m, n) for m, n in found if n >= 2]
    docs = ledger.fingerprints_of([m for m, _ in found])
    results = []
    for other_id, shared in found:
        result = match(mine, docs[other_id]["frames"])
        if result is not None:
            results.append({"media_id": other_id, "shared_bands": shared, **result.as_dict()})
    results.sort(key=lambda r: (-r["score"], -r["matched"], r["media_id"]))
    return results[:limit]
