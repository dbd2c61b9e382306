"""``evidock export verify BAG``: everything VERIFY.txt in the bag asks a person to do, and
with the station's ledger at hand, the proof against it.

Checks, each problem named (the first of each kind is enough to fail):

1. ``bagit`` validates the bag in full: every payload file against both manifests, the tag
   manifests, Payload-Oxum, files missing and files not in any manifest.
2. ``blake3-manifest.txt``: every file it names has that BLAKE3.
3. The ledger proof: each entry recomputes to its hash, entries follow one another without a
   gap and each chains to the one before, the last one is the head in head.json.
4. The payload against the proof: each original's SHA-256 is the one its ``media_stored``
   entry recorded, and the ``case_exported`` entry lists every original and review copy with
   the SHA-256 the manifest gives.
5. The time stamp, if present: an RFC 3161 token over the head hash, signed by tsa.pem.
6. With a ledger: the head entry (and every entry of the proof) is the ledger's.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass, field
from pathlib import Path

import bagit
import blake3

from evidock.daemon.custody.bag import PROOF
from evidock.daemon.custody.tsa import check_token
from evidock.daemon.ledger.chain import GENESIS


@dataclass
class BagReport:
    bag: Path
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    head: tuple[int, str] | None = None
    stamped_at: str | None = None
    files: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems


def _b3(path: Path) -> str:
    h = blake3.blake3()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def verify_bag(path: Path, *, ledger=None, tsa_certificate: bytes | None = None) -> BagReport:
    path = Path(path)
    report = BagReport(path)
    if not (path / "bagit.txt").is_file():
        report.problems.append(f"{path} is not a bag (no bagit.txt)")
        return report
    try:
        bag = bagit.Bag(str(path))
        bag.validate()
        report.files = len(bag.payload_entries())
    except bagit.BagValidationError as exc:
        details = [str(d) for d in exc.details] or [str(exc.message)]
        report.problems.extend(f"bagit: {d}" for d in details)
    except bagit.BagError as exc:
        report.problems.append(f"bagit: {exc}")
    _check_complete(path, report)
    _check_blake3(path, report)
    events = _check_chain(path, report)
    if events is not None:
        _check_payload(path, events, report)
        _check_stamp(path, report, tsa_certificate)
        if ledger is not None:
            _check_ledger(events, ledger, report)
    return report


def _check_complete(path: Path, report: BagReport) -> None:
    """Files added to or removed from data/ by name (bagit stops at the byte count)."""
    try:
        listed = set(_manifest(path))
    except OSError as exc:
        report.problems.append(f"manifest-sha256.txt: {exc}")
        return
    found = {p.relative_to(path).as_posix() for p in (path / "data").rglob("*") if p.is_file()}
    report.problems.extend(f"{rel}: in the bag but in no manifest (added)"
                           for rel in sorted(found - listed))
    report.problems.extend(f"{rel}: in the manifest but not in the bag (deleted)"
                           for rel in sorted(listed - found))


def _check_blake3(path: Path, report: BagReport) -> None:
    manifest = path / "blake3-manifest.txt"
    if not manifest.is_file():
        report.problems.append("blake3-manifest.txt is missing")
        return
    for line in manifest.read_text(encoding="utf-8").splitlines():
        digest, _, rel = line.partition("  ")
        target = path / rel
        if not target.is_file():
            report.problems.append(f"blake3-manifest.txt: {rel} is missing")
        elif not hmac.compare_digest(_b3(target), digest):
            report.problems.append(f"blake3-manifest.txt: {rel} has another BLAKE3")


def _check_chain(path: Path, report: BagReport) -> list[tuple[dict, str]] | None:
    """The proof's entries as ``([seq, at, station, kind, subject, data, prev], hash)``."""
    proof = path / PROOF
    try:
        head = json.loads((proof / "head.json").read_text(encoding="utf-8"))
        listed = (proof / "hashes.txt").read_text(encoding="utf-8").splitlines()
    except (OSError, ValueError) as exc:
        report.problems.append(f"ledger proof: cannot read it: {exc}")
        return None
    report.head = (head["seq"], head["hash"])
    events, prev, want = [], None, None
    for line in listed:
        digest, _, name = line.partition("  ")
        try:
            raw = (proof / name).read_bytes()
            entry = json.loads(raw)
        except (OSError, ValueError) as exc:
            report.problems.append(f"ledger proof: {name}: cannot read it: {exc}")
            return None
        actual = hashlib.sha256(raw).hexdigest()
        seq = entry[0]
        if not hmac.compare_digest(actual, digest):
            report.problems.append(f"ledger proof: entry {seq} ({name}) does not match its hash "
                                   "(the entry was altered)")
            return None
        if want is not None and seq != want:
            report.problems.append(f"ledger proof: entry {seq} follows entry {want - 1}: "
                                   "entries are missing")
            return None
        if prev is not None and entry[6] != prev:
            report.problems.append(f"ledger proof: entry {seq} does not chain to entry "
                                   f"{seq - 1} (the proof was rewritten)")
            return None
        if prev is None and seq == 1 and entry[6] != GENESIS:
            report.problems.append("ledger proof: entry 1 does not start the chain")
            return None
        events.append((entry, actual))
        prev, want = actual, seq + 1
    if not events:
        report.problems.append("ledger proof: no entries")
        return None
    last_seq, last_hash = events[-1][0][0], events[-1][1]
    if (last_seq, last_hash) != report.head:
        report.problems.append(f"ledger proof: the last entry is {last_seq} ({last_hash[:16]}) "
                               f"but head.json names {head['seq']} ({head['hash'][:16]})")
        return None
    return events


def _manifest(path: Path) -> dict[str, str]:
    out = {}
    for line in (path / "manifest-sha256.txt").read_text(encoding="utf-8").splitlines():
        digest, _, rel = line.partition("  ")
        out[rel] = digest
    return out


def _check_payload(path: Path, events, report: BagReport) -> None:
    try:
        manifest = _manifest(path)
    except OSError as exc:
        report.problems.append(f"manifest-sha256.txt: {exc}")
        return
    stored, exported = {}, None
    for entry, _ in events:
        kind, data = entry[3], json.loads(entry[5])
        if kind == "media_stored":
            stored[data["media_id"]] = data["sha256"]
        elif kind == "media_recovered_from_store":
            stored[data["media_id"]] = data["sha256"]
        elif kind == "case_exported":
            exported = data
    if exported is None:
        report.problems.append("ledger proof: no case_exported entry (not this bag's proof)")
        return
    listed = {f["path"]: f for f in exported.get("files", [])}
    for rel, digest in sorted(manifest.items()):
        if not rel.startswith(("data/originals/", "data/proxies/")):
            continue
        entry = listed.pop(rel, None)
        if entry is None:
            report.problems.append(f"{rel}: not among the files the case_exported entry lists")
            continue
        if not hmac.compare_digest(entry["sha256"], digest):
            report.problems.append(f"{rel}: its SHA-256 is not the one the case_exported "
                                   "entry recorded")
        if rel.startswith("data/originals/"):
            want = stored.get(entry["media_id"])
            if want is None:
                report.problems.append(f"{rel}: the proof holds no media_stored entry of "
                                       f"recording {entry['media_id']}")
            elif not hmac.compare_digest(want, digest):
                report.problems.append(f"{rel}: its SHA-256 is not the one the ledger recorded "
                                       f"at ingest for recording {entry['media_id']}")
    for rel in sorted(listed):
        report.problems.append(f"{rel}: exported (case_exported entry) but not in the bag")


def _check_stamp(path: Path, report: BagReport, pinned: bytes | None) -> None:
    token = path / PROOF / "head.tst"
    if not token.is_file():
        report.notes.append("no RFC 3161 time stamp in this bag (the authority could not be "
                            "reached at export, or none is configured); the station's ledger "
                            "holds a later one")
        return
    cert_file = path / PROOF / "tsa.pem"
    cert = pinned or (cert_file.read_bytes() if cert_file.is_file() else b"")
    try:
        at = check_token(token.read_bytes(), report.head[1], cert)
    except (ValueError, AttributeError) as exc:
        report.problems.append(f"time stamp: head.tst is not a valid token over the head "
                               f"{report.head[1][:16]}: {exc}")
        return
    report.stamped_at = at.isoformat()
    if pinned is None and not cert_file.is_file():
        report.notes.append("time stamp checked against the certificate inside the token only")


def _check_ledger(events, ledger, report: BagReport) -> None:
    want = {e[0][0]: e[1] for e in events}
    seen = 0
    for ev in ledger.events(after=min(want) - 1):
        if ev.seq > max(want):
            break
        seen += 1
        if not hmac.compare_digest(ev.hash, want[ev.seq]):
            report.problems.append(f"ledger: entry {ev.seq} of the proof is not the station's "
                                   "entry (the proof or the ledger was rewritten)")
            return
    if seen != len(want):
        report.problems.append(f"ledger: the station's ledger lacks entries of the proof "
                               f"({seen} of {len(want)} found)")
