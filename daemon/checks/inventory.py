"""The store-to-ledger audit (R4): everything the store holds is accounted for by the ledger.

The retention and fixity audits go from the ledger to the store; this one goes the other way.
Every content object (``media/b3/...``) of this station must be the object of a ledger row;
an object no recording points to is named with the metadata it carries (device, path, size,
recording time), since it is evidence the ledger has lost (a rolled-back or rebuilt ledger, a
lost write-ahead log).  The station's anchor segments must chain, each to the one before.
Objects another station put into a shared bucket are left to that station's audit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import unquote

from evidock.daemon.alerts.book import Finding
from evidock.daemon.ledger import anchor
from evidock.daemon.store.base import ObjectInfo, WormStore


@dataclass
class Inventory:
    objects: int = 0
    accounted: int = 0
    other_stations: int = 0
    unaccounted: list[ObjectInfo] = field(default_factory=list)
    anchors: int = 0
    anchor_problems: list[str] = field(default_factory=list)


def describe(info: ObjectInfo) -> str:
    """An object in words, from its own metadata."""
    meta = info.metadata
    if not meta.get("device-serial"):
        return f"{info.key} ({info.size} bytes, sha256 {info.sha256 or 'unknown'}, no evidock " \
               "metadata)"
    path = bytes.fromhex(meta.get("source-path-hex", "")).decode("utf-8", "backslashreplace")
    return (f"{info.key} ({info.size} bytes, sha256 {info.sha256}): device "
            f"{unquote(meta['device-serial'])}, file {path}, recorded {meta.get('recorded-at')}, "
            f"officer {unquote(meta.get('officer', '')) or 'unknown'}, media id "
            f"{meta.get('media-id', '?')} at station {unquote(meta.get('station', '?'))}")


class InventoryCheck:
    name = "inventory"

    def __init__(self, ledger, store: WormStore, *, station: str) -> None:
        self.ledger, self.store, self.station = ledger, store, station
        self.last: Inventory | None = None

    def audit(self) -> Inventory:
        keys = {m.object_key for m in self.ledger.list_media() if m.object_key}
        keys |= self.ledger.derivative_keys()  # review proxies, posters ...
        inv = Inventory()
        for info in self.store.list_objects():
            inv.objects += 1
            if info.key in keys:
                inv.accounted += 1
            elif unquote(info.metadata.get("station", self.station)) != self.station:
                inv.other_stations += 1
            else:
                inv.unaccounted.append(info)
        try:
            segments = anchor.read_segments(self.store, self.station)
            inv.anchors = len(segments)
            inv.anchor_problems = anchor.chain_problems(segments)
        except ValueError as exc:
            inv.anchor_problems = [str(exc)]
        self.last = inv
        return inv

    def run(self, now: datetime) -> list[Finding]:
        inv = self.audit()
        out = [Finding(
            f"inventory:object:{info.key}", "R4", "critical", f"object:{info.key}",
            f"the store holds an object no ledger row accounts for: {describe(info)}. The "
            "ledger has lost this recording: run 'evidock ledger verify', and rebuild the ledger "
            "from the store ('evidock ledger rebuild') if it was cut or rolled back.")
            for info in inv.unaccounted]
        out += [Finding(
            "inventory:anchors", "R4", "critical", f"station:{self.station}",
            f"the ledger's anchors in the store do not chain: {problem}. Someone wrote into the "
            "store's ledger/ records; find out who before trusting them.")
            for problem in inv.anchor_problems[:1]]
        return out
