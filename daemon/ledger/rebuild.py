"""``evidock ledger rebuild --into PATH``: a lost ledger rebuilt from the write-once store.

1. Read every anchor segment of the station (daemon/ledger/anchor.py), oldest first, and check
   that each chains to the one before; together they hold every event ever anchored.
2. Look at every content object in the store: an object no anchored event accounts for (a
   recording handed over after the last anchor) is taken back from its own metadata
   (store/objmeta.py) as a ``media_recovered_from_store`` event, chained after the anchored
   head, followed by one ``ledger_rebuilt`` event that says what was done.
3. Write a new ledger whose events are exactly these and whose tables are their projection
   (``SqliteLedger.rebuild``; an existing file is never written over), then verify it: its
   chain, every table, and its agreement with the store's anchors.

Nothing the anchors recorded is changed or left out, so the rebuilt ledger holds the same
events under the same hashes up to the newest anchor; what came after it and is not in the
store (a device docked but not yet handed over, an alert) is lost, and the devices' next dock
finds their files again.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from evidock.daemon.errors import LedgerError
from evidock.daemon.ledger import anchor
from evidock.daemon.ledger.chain import GENESIS, canonical, event_hash
from evidock.daemon.ledger.records import Event
from evidock.daemon.ledger.sqlite import SqliteLedger
from evidock.daemon.store.objmeta import parse_media_metadata
from evidock.daemon.timeutil import stamp, utcnow

KIND = "media_recovered_from_store"


@dataclass
class Rebuilt:
    path: str
    station: str
    anchors: int = 0
    newest: str | None = None
    anchored_seq: int = 0
    events: int = 0
    media: int = 0
    recovered: list[dict] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict:
        return {**asdict(self), "ok": self.ok}

    def summary(self) -> list[str]:
        lines = [f"rebuilt ledger {self.path} for station {self.station}: {self.events} events, "
                 f"{self.media} recordings",
                 f"  from {self.anchors} anchor(s) in the store, the newest {self.newest} "
                 f"(events 1..{self.anchored_seq})" if self.anchors else
                 "  the store holds no anchor of this station: every recording comes from its "
                 "object's metadata"]
        lines.append(f"  {len(self.recovered)} recording(s) handed over after the last anchor, "
                     "recovered from their objects' metadata:")
        lines += [f"    media {r['media_id']}: {r['device_serial']} {r['source_path']} "
                  f"({r['size']} bytes, {r['object_key']})" for r in self.recovered]
        lines += [f"  not recovered (its metadata cannot say what it is): {u}"
                  for u in self.unreadable]
        lines += ["  verified: chain, tables and the store's anchors agree" if self.ok else
                  "  VERIFY FAILED:", *(f"    {p}" for p in self.problems)]
        if self.ok:
            lines.append("  stop the daemon, keep the old ledger file for investigation, and put "
                         "this one at ledger.path before starting it again")
        return lines


def _accounted(events: list[Event]) -> tuple[set[str], dict[tuple, int]]:
    """The object keys the anchored events name, and each media row's identity -> id."""
    keys, ids = set(), {}
    for ev in events:
        if ev.kind in ("media_seen", "media_stored", "media_relocated", KIND):
            d = json.loads(ev.data)
            if ev.kind in ("media_seen", KIND):
                ids[(d["device_serial"], d["source_path_raw"], d["size"], d["mtime_ns"])] = \
                    d["media_id"]
            if d.get("object_key"):
                keys.add(d["object_key"])
    return keys, ids


def recover(store, events: list[Event], *, station: str, source: str | None,
            at: str) -> tuple[list[dict], list[str]]:
    """The ``media_recovered_from_store`` data of every object of ``station`` that ``events``
    do not account for, and the objects that cannot be recovered (why)."""
    keys, ids = _accounted(events)
    taken, out, unreadable = set(ids.values()), [], []
    for info in sorted(store.list_objects(), key=lambda i: i.key):
        if info.key in keys:
            continue
        try:
            d = parse_media_metadata(info)
        except ValueError as exc:
            unreadable.append(f"{info.key}: {exc}")
            continue
        if d.pop("station") != station:
            continue  # another station's recording in a shared bucket
        identity = (d["device_serial"], d["source_path_raw"], d["size"], d["mtime_ns"])
        media_id = ids.get(identity)
        if media_id is None:
            media_id = d["media_id"] if d["media_id"] and d["media_id"] not in taken else \
                max(taken, default=0) + 1
        taken.add(media_id)
        out.append({**d, "media_id": media_id, "store": store.name, "object_key": info.key,
                    "retain_until": stamp(info.retain_until), "ingested_at": at,
                    "recovered_from": source})
    return sorted(out, key=lambda r: r["media_id"]), unreadable


def _chain(events: list[Event], station: str, at: str,
           tail: list[tuple[str, str, dict]]) -> list[Event]:
    seq, prev = (events[-1].seq, events[-1].hash) if events else (0, GENESIS)
    out = []
    for kind, subject, data in tail:
        seq, body = seq + 1, canonical(data)
        digest = event_hash(seq, at, station, kind, subject, body, prev)
        out.append(Event(seq, at, station, kind, subject, body, prev, digest))
        prev = digest
    return out


def rebuild(store, into: str | Path, *, station: str, clock=utcnow) -> Rebuilt:
    into = Path(into)
    if into.exists() or Path(f"{into}-wal").exists():
        raise LedgerError(f"{into} already exists: a rebuild never writes over a ledger",
                          hint="give --into a new path; keep the old file for investigation")
    try:
        segments = anchor.read_segments(store, station)
    except ValueError as exc:
        raise LedgerError(f"cannot rebuild: {exc}", hint="the store's ledger/ records were "
                          "changed; find out how before trusting them") from exc
    broken = anchor.chain_problems(segments)
    if broken:
        raise LedgerError(f"cannot rebuild: {broken[0]}; nothing was written",
                          hint="the store's ledger/ records were changed; find out how")
    events = [ev for seg in segments for ev in seg.events]
    newest = segments[-1] if segments else None
    at = stamp(clock())
    recovered, unreadable = recover(store, events, station=station,
                                    source=newest.key if newest else None, at=at)
    done = {"from_anchor": newest.key if newest else None, "anchored_seq": len(events),
            "anchors": len(segments), "recovered": [r["media_id"] for r in recovered],
            "unreadable": unreadable}
    tail = [(KIND, f"media:{r['media_id']}", r) for r in recovered]
    tail.append(("ledger_rebuilt", f"station:{station}", done))
    ledger = SqliteLedger.rebuild(into, station=station,
                                  events=[*events, *_chain(events, station, at, tail)])
    try:
        report, _ = anchor.verify_with_anchors(ledger, store, station)
    finally:
        ledger.close()
    return Rebuilt(str(into), station, len(segments), newest.key if newest else None,
                   len(events), report.events, report.media, recovered, unreadable,
                   report.problems)
