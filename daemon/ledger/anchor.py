"""Anchors: the ledger's chain head, and the events leading to it, kept in the write-once store.

The hash chain proves that no event was changed *inside* the ledger, but not that the ledger is
whole: cutting its tail, restoring an older copy, losing the write-ahead log, or rewriting
history and recomputing every hash all leave a chain that verifies.  So the daemon writes, from
time to time (``checks.anchor_every_minutes``, at stop, after a device's files are handed
over), one **anchor segment** into the store: a write-once record, never overwritten, that the
ledger's own host cannot take back (S3: COMPLIANCE lock as long as the recordings')::

    ledger/<station>/<last seq, 12 digits>-<head hash>.jsonl

One line per event since the previous anchor (the row as stored, canonical JSON; at most
``SEGMENT_EVENTS`` of them: more make several segments, written in one go), then one
head line: ``{"format": "evidock.anchor/1", "station", "first_seq", "seq", "hash", "at",
"count", "previous", "previous_sha256"}``, where ``previous`` is the key of the segment before
and ``previous_sha256`` the SHA-256 of its bytes, so the segments form a chain of their own
and together hold every event ever anchored (``evidock ledger rebuild`` reads them back).

:func:`compare` holds the ledger against the anchored history and names what it finds.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from itertools import islice

import structlog

from evidock.daemon.errors import AnchorMismatch, ObjectMissing, StoreUnavailable
from evidock.daemon.ledger.chain import GENESIS, canonical, event_hash
from evidock.daemon.ledger.records import Event
from evidock.daemon.store.base import RECORD_PREFIX
from evidock.daemon.timeutil import stamp, utcnow

log = structlog.get_logger("evidock.anchor")

FORMAT = "evidock.anchor/1"
_SAFE = re.compile(r"^[A-Za-z0-9._-]+$")
_KEY = re.compile(r"^(?:.*/)?(\d{12})-([0-9a-f]{64})\.jsonl$")
_FIELDS = ("seq", "at", "station", "kind", "subject", "data", "prev_hash", "hash")
#: events in one segment at most: a run that handed over 100,000 files made 400,000 events,
#: and one segment of them all took over a gigabyte to write and again to read back as the
#: newest anchor at the next start
SEGMENT_EVENTS = 10_000


def station_prefix(station: str) -> str:
    """``ledger/<station>/``; a station id with other characters than ``[A-Za-z0-9._-]`` is
    written ``x-<hex of its UTF-8 bytes>``."""
    part = station if _SAFE.match(station) and not station.startswith("x-") else \
        "x-" + station.encode().hex()
    return f"{RECORD_PREFIX}{part}/"


def anchor_key(station: str, seq: int, head_hash: str) -> str:
    return f"{station_prefix(station)}{seq:012d}-{head_hash}.jsonl"


@dataclass
class Segment:
    """One anchor record as read back from the store."""

    key: str
    sha256: str  # of the record's bytes, which the next segment names
    head: dict
    events: list[Event] = field(default_factory=list)

    @property
    def seq(self) -> int:
        return self.head["seq"]

    @property
    def hash(self) -> str:
        return self.head["hash"]


def render(events: list[Event], head: dict) -> bytes:
    lines = [canonical({f: getattr(e, f) for f in _FIELDS}) for e in events]
    return ("\n".join([*lines, canonical(head)]) + "\n").encode("utf-8")


def parse(key: str, data: bytes) -> Segment:
    """A segment, checked on its own: format, key, each event's hash and its chain inside the
    segment, the head matching the last event.  ``ValueError`` says what is wrong."""
    try:
        rows = [json.loads(line) for line in data.decode("utf-8").splitlines() if line]
    except (UnicodeDecodeError, ValueError) as exc:
        raise ValueError(f"anchor {key}: not JSON lines: {exc}") from exc
    if not rows or rows[-1].get("format") != FORMAT:
        raise ValueError(f"anchor {key}: its last line is not an {FORMAT} head")
    try:
        return _checked(key, data, rows)
    except (KeyError, TypeError, AttributeError) as exc:
        raise ValueError(f"anchor {key}: a line lacks a field or has the wrong type: "
                         f"{exc!r}") from exc


def _checked(key: str, data: bytes, rows: list) -> Segment:
    head, events = rows[-1], [Event(**{f: r[f] for f in _FIELDS}) for r in rows[:-1]]
    match = _KEY.match(key)
    if not match or (int(match.group(1)), match.group(2)) != (head["seq"], head["hash"]):
        raise ValueError(f"anchor {key}: its name does not match its head "
                         f"(seq {head['seq']}, hash {head['hash']})")
    if not events or events[-1].seq != head["seq"] or events[-1].hash != head["hash"]:
        raise ValueError(f"anchor {key}: its last event is not the head it names")
    if events[0].seq != head["first_seq"] or len(events) != head["count"]:
        raise ValueError(f"anchor {key}: holds events {events[0].seq}..{events[-1].seq}, its "
                         f"head says {head['first_seq']}..{head['seq']} ({head['count']})")
    for before, ev in zip([None, *events], events, strict=False):
        if before is not None and (ev.seq != before.seq + 1 or ev.prev_hash != before.hash):
            raise ValueError(f"anchor {key}: event {ev.seq} does not follow event {before.seq}")
        if event_hash(ev.seq, ev.at, ev.station, ev.kind, ev.subject, ev.data,
                      ev.prev_hash) != ev.hash:
            raise ValueError(f"anchor {key}: event {ev.seq} does not match its hash")
    return Segment(key, hashlib.sha256(data).hexdigest(), head, events)


def read_segments(store, station: str) -> list[Segment]:
    """Every anchor segment of ``station``, oldest first (``ValueError`` if one is damaged)."""
    return [parse(k, store.read_record(k)) for k in store.list_records(station_prefix(station))
            if _KEY.match(k)]


def chain_problems(segments: list[Segment]) -> list[str]:
    """Each segment must take up where the one before ended and name it (key and SHA-256)."""
    problems, before = [], None
    for seg in segments:
        want_prev = (None, None) if before is None else (before.key, before.sha256)
        want_seq, want_hash = (1, GENESIS) if before is None else (before.seq + 1, before.hash)
        if (seg.head.get("previous"), seg.head.get("previous_sha256")) != want_prev:
            problems.append(f"anchor {seg.key} does not name the anchor before it "
                            f"({want_prev[0] or 'none'}) as its previous one")
        elif seg.events[0].seq != want_seq or seg.events[0].prev_hash != want_hash:
            problems.append(f"anchor {seg.key} starts at event {seg.events[0].seq}, not where "
                            f"the anchor before it ended (event {want_seq})")
        if problems:
            break
        before = seg
    return problems


class Anchorer:
    """Writes the next anchor segment; one at a time, safe to call from any thread."""

    def __init__(self, ledger, store, *, station: str, retention_days: int,
                 clock=utcnow, segment_events: int = SEGMENT_EVENTS) -> None:
        self.ledger, self.store, self.station = ledger, store, station
        self.segment_events = segment_events
        self.retention = timedelta(days=retention_days)
        self.clock = clock
        self._last: Segment | None = None
        self._lock = threading.Lock()

    def newest(self) -> Segment | None:
        keys = [k for k in self.store.list_records(station_prefix(self.station)) if _KEY.match(k)]
        return parse(keys[-1], self.store.read_record(keys[-1])) if keys else None

    def write(self) -> str | None:
        """Anchor the events since the newest anchor; returns the newest key written (None:
        nothing new).  Many events make several segments, each naming the one before.

        Refuses (``AnchorMismatch``) when the ledger no longer holds the anchored head: a new
        anchor must never paper over a ledger that lost or rewrote anchored history."""
        with self._lock:
            try:  # the store, not memory, says which anchor is newest: a command may write one
                last = self.newest()
            except StoreUnavailable:
                if self._last is None:
                    raise
                last = self._last  # S3 away: this process's last anchor; the spool takes it
            self.ledger.sync()  # never anchor a lazy write a power cut could take back
            if last is not None:
                have = next(self.ledger.events(after=last.seq - 1), None)
                if have is None or (have.seq, have.hash) != (last.seq, last.hash):
                    raise AnchorMismatch(
                        f"the ledger no longer holds the anchored head: anchor {last.key} "
                        f"records event {last.seq} with hash {last.hash}, the ledger has "
                        + (f"hash {have.hash} there" if have and have.seq == last.seq
                           else "no such event"),
                        hint="run 'evidock ledger verify'; no new anchor is written until the "
                        "ledger is restored or rebuilt ('evidock ledger rebuild')")
            upto = self.ledger.head()[0]  # what came later waits for the next anchor
            key = None
            while True:
                after = last.seq if last else 0
                events = [e for e in islice(self.ledger.events(after=after),
                                            self.segment_events) if e.seq <= upto]
                if not events:
                    return key
                last = self._segment(events, last)
                key = last.key

    def _segment(self, events: list[Event], last: Segment | None) -> Segment:
        head = {"format": FORMAT, "station": self.station, "first_seq": events[0].seq,
                "seq": events[-1].seq, "hash": events[-1].hash, "at": stamp(self.clock()),
                "count": len(events), "previous": last.key if last else None,
                "previous_sha256": last.sha256 if last else None}
        data = render(events, head)
        key = anchor_key(self.station, head["seq"], head["hash"])
        self.store.put_record(key, data, retain_until=self.clock() + self.retention)
        self._last = Segment(key, hashlib.sha256(data).hexdigest(), head, events[-1:])
        log.info("ledger_anchored", key=key, seq=head["seq"], events=len(events))
        return self._last


@dataclass
class Comparison:
    """What :func:`compare` found, for the command's output."""

    anchors: int = 0
    anchored_seq: int = 0
    newest: str | None = None
    newest_at: str | None = None
    ledger_seq: int = 0
    problems: list[str] = field(default_factory=list)


def _lost(events: Iterable[Event]) -> str:
    ids = sorted({json.loads(e.data).get("media_id") for e in events if e.kind == "media_seen"})
    if not ids:
        return ""
    shown = ", ".join(str(i) for i in ids[:10]) + (" ..." if len(ids) > 10 else "")
    return f"; among them {len(ids)} recording(s) (media {shown})"


def compare(ledger_events: Iterable[Event], segments: list[Segment], *,
            ledger_consistent: bool) -> Comparison:
    """Hold the ledger's events against every anchored event, in order, and name the first
    difference.  ``ledger_consistent``: whether the ledger's own tables replay from its events
    (it tells a cut tail, whose rows still show the lost events, from an older whole copy)."""
    result = Comparison(anchors=len(segments))
    result.problems += chain_problems(segments)
    if not segments:
        for ev in ledger_events:
            result.ledger_seq = ev.seq
        return result
    newest = segments[-1]
    result.anchored_seq, result.newest, result.newest_at = newest.seq, newest.key, newest.head["at"]
    anchored = (ev for seg in segments for ev in seg.events)
    where = f"the newest anchor {newest.key} (written {newest.head['at']})"
    pending: Event | None = next(anchored, None)
    count = 0
    for ev in ledger_events:
        count, result.ledger_seq = count + 1, ev.seq
        if pending is not None and pending.seq < ev.seq:  # anchored, absent from the ledger
            result.problems.append(
                f"event {pending.seq} ({pending.kind} {pending.subject}, {pending.at}) is in "
                f"the store's anchors but not in the ledger: events were deleted")
            return result
        if pending is None or pending.seq > ev.seq:
            continue  # after the newest anchor, or a duplicate the chain check names
        if pending.hash != ev.hash:
            how = ("history was rewritten and the chain recomputed" if pending.at == ev.at else
                   "an older copy of the ledger was restored and written on, or history was "
                   "rewritten and the chain recomputed")
            result.problems.append(
                f"event {ev.seq} ({ev.kind} {ev.subject}, {ev.at}, hash {ev.hash[:16]}) differs "
                f"from the anchored event {pending.seq} ({pending.kind} {pending.subject}, "
                f"{pending.at}, hash {pending.hash[:16]}): {how}; the anchored events are in "
                f"the store (see 'evidock ledger rebuild')")
            return result
        pending = next(anchored, None)
    if pending is None:
        return result
    missing = [pending, *anchored]
    if count == 0:
        result.problems.append(
            f"the ledger has no events, but {where} records {newest.seq} events: the ledger "
            f"was deleted, emptied or replaced, or lost its write-ahead log after a crash"
            f"{_lost(missing)}; rebuild it from the store with "
            "'evidock ledger rebuild --into PATH'")
        return result
    cause = ("its tail was truncated (its tables still show what the missing events did)"
             if not ledger_consistent else
             "the whole database is an older copy (a backup restored, or its write-ahead log "
             "lost after a crash)")
    result.problems.append(
        f"the ledger ends at event {result.ledger_seq}, but {where} records events up to "
        f"{newest.seq}: events {missing[0].seq}..{newest.seq} are missing from the ledger"
        f"{_lost(missing)}: {cause}; the missing events are in the store's anchors "
        "('evidock ledger rebuild')")
    return result


def check_ledger(ledger, store, station: str, *, ledger_consistent: bool) -> Comparison:
    """Read the station's anchors from ``store`` and compare the ledger with them; a damaged
    anchor is itself a problem."""
    try:
        segments = read_segments(store, station)
    except (ValueError, ObjectMissing) as exc:
        return Comparison(problems=[f"the store's anchors cannot be read: {exc}"])
    return compare(ledger.events() if ledger is not None else (), segments,
                   ledger_consistent=ledger_consistent)


def chain_report(ledger):
    """The ledger's own check: its chain and every table replayed (``ledger/verify.py``)."""
    from evidock.daemon.ledger.verify import verify

    return verify(ledger)


def verify_with_anchors(ledger, store, station: str):
    """``(report, comparison)``: the ledger's own check, then the comparison with the store's
    anchors (``store`` None: not compared), whose problems are added to the report."""
    report = chain_report(ledger)
    if store is None:
        return report, None
    result = check_ledger(ledger, store, station, ledger_consistent=report.ok)
    report.problems.extend(result.problems)
    return report, result
