"""``evidock export``: a case's footage as a BagIt bag (RFC 8493) a court can check without us.

Layout (FORMATS.md, "Export bags")::

    bagit.txt  bag-info.txt  manifest-sha256.txt  manifest-sha512.txt
    tagmanifest-sha256.txt  tagmanifest-sha512.txt  blake3-manifest.txt  VERIFY.txt
    data/originals/<media id>-<sha256 16>.<ext>     the stored bytes, bit-exact
    data/proxies/<media id>-<kind>.<ext>           review copies, when made
    data/case.json                                 the case record and its links
    data/premis/<media id>.json                    the recording's history as PREMIS events
    data/ledger-proof/events/<seq>.json            chain entries, each the exact hash input
    data/ledger-proof/hashes.txt                   `sha256sum -c` input for those entries
    data/ledger-proof/head.json                    the chain head the proof ends at
    data/ledger-proof/head.tst, tsa.pem, tsa-ca.pem   RFC 3161 token over the head, if any

Every stored object is read once, streamed from the store (local or S3) into its place in
the bag while SHA-256, SHA-512 and BLAKE3 are computed in the same pass, and checked against
the ledger's SHA-256 and size before the bag is finished: no object is held in memory and
no temporary copy is made.  That is why the payload manifests are written from those
digests rather than by ``bagit.make_bag`` (which would read every file again); ``bagit``
then writes bag-info.txt and the tag manifests and checks the payload's size and count.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import bagit
import blake3

from evidock.daemon.custody.access import Custody
from evidock.daemon.custody.people import Person
from evidock.daemon.custody.premis import premis_events
from evidock.daemon.custody.tsa import Stamper
from evidock.daemon.errors import (
    EvidockError,
    ExportError,
    IntegrityError,
    TimestampUnavailable,
)
from evidock.daemon.ledger.chain import canonical

CHUNK = 1 << 20
PROOF = "data/ledger-proof"
_EXT = {"proxy": ".mp4", "poster": ".jpg", "audio_proxy": ".m4a", "thumbnail": ".jpg"}


@dataclass
class _Payload:
    """What the manifests say: relative path -> (size, sha256, sha512, blake3)."""

    files: dict[str, tuple[int, str, str, str]] = field(default_factory=dict)

    def add(self, rel: str, size: int, sha256: str, sha512: str, b3: str) -> None:
        self.files[rel] = (size, sha256, sha512, b3)


def _write_bytes(bag: Path, rel: str, data: bytes, payload: _Payload | None) -> None:
    path = bag / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "xb") as fh:
        fh.write(data)
    if payload is not None:
        payload.add(rel, len(data), hashlib.sha256(data).hexdigest(),
                    hashlib.sha512(data).hexdigest(), blake3.blake3(data).hexdigest())


def _stream(store, key: str, dest: Path) -> tuple[int, str, str, str]:
    """Copy one stored object into ``dest`` in chunks, hashing as it passes.  SHA-512 and
    BLAKE3 run on two threads while this one writes and does SHA-256 (all three release the
    GIL on large buffers), so three digests cost about one."""
    s256, s512, b3, size = hashlib.sha256(), hashlib.sha512(), blake3.blake3(), 0
    dest.parent.mkdir(parents=True, exist_ok=True)
    with store.open(key) as src, open(dest, "xb") as out, ThreadPoolExecutor(2) as pool:
        while chunk := src.read(CHUNK):
            pending = (pool.submit(s512.update, chunk), pool.submit(b3.update, chunk))
            s256.update(chunk)
            out.write(chunk)
            size += len(chunk)
            for job in pending:
                job.result()
        out.flush()
        os.fsync(out.fileno())
    return size, s256.hexdigest(), s512.hexdigest(), b3.hexdigest()


def _json(value) -> bytes:
    return (json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True) + "\n").encode()


def preimage(ev) -> bytes:
    """The exact bytes whose SHA-256 is the event's hash (chain.py)."""
    return canonical([ev.seq, ev.at, ev.station, ev.kind, ev.subject, ev.data,
                      ev.prev_hash]).encode("utf-8")


@dataclass
class ExportResult:
    bag: Path
    case_id: str
    request_id: int
    media_ids: list[int]
    files: int
    bytes: int
    head: tuple[int, str]
    stamped: bool
    stamp_error: str | None


class Exporter:
    def __init__(self, ledger, store, custody: Custody, stamper: Stamper) -> None:
        self.ledger = ledger
        self.store = store
        self.custody = custody
        self.stamper = stamper

    def export(self, person: Person, request_id: int, to: Path, *,
               media_ids: list[int] | None = None) -> ExportResult:
        req, ids = self.custody.authorize(person, request_id, action="export",
                                          media_ids=media_ids)
        case_id = req["case_id"]
        if not ids:
            raise ExportError(f"case {case_id} has no recording to export under request "
                              f"{request_id}", hint="link its footage first")
        to = Path(to)
        if to.exists() and (not to.is_dir() or any(to.iterdir())):
            raise ExportError(f"{to} exists and is not an empty folder: a bag is never written "
                              "over anything", hint="give a new folder with --to")
        to.mkdir(parents=True, exist_ok=True)
        payload = _Payload()
        records = [self.ledger.media(i) for i in ids]
        exported = []
        try:
            for m in records:
                exported.append(self._original(to, m, payload))
                exported.extend(self._proxies(to, m, payload))
        except (EvidockError, OSError) as exc:
            raise ExportError(f"case {case_id}: export to {to} stopped: {exc}",
                              hint="the partial folder is not a bag; remove it and export "
                                   "again once the store answers") from exc
        self.custody.record_use(person, req, action="export", media_ids=ids, detail={
            "bag": to.name, "files": [{"path": rel, "sha256": payload.files[rel][1],
                                       "media_id": mid} for rel, mid in exported]})
        exported_seq = self.ledger.head()[0]
        stamp_error, stamp = None, None
        try:
            stamp = self.stamper.stamp(why=f"export of case {case_id}")
        except TimestampUnavailable as exc:
            stamp_error = exc.message
        if stamp is not None and stamp["seq"] < exported_seq:
            stamp = None
        self._records(to, case_id, req, records, payload)
        head = self._proof(to, ids, case_id, payload, stamp)
        self._finish(to, case_id, req, person, payload)
        total = sum(v[0] for v in payload.files.values())
        return ExportResult(to, case_id, request_id, ids, len(payload.files), total, head,
                            (to / PROOF / "head.tst").exists(), stamp_error)

    # -- payload -----------------------------------------------------------------------------

    def _original(self, bag: Path, m, payload: _Payload) -> tuple[str, int]:
        if m.state != "verified" or not m.object_key:
            raise ExportError(f"recording {m.id} is {m.state}: only handed-over recordings "
                              "are exported")
        # the device's name stays in case.json; the bag's name keeps only a plain extension
        ext = "".join(c for c in PurePosixPath(m.source_path).suffix.lower()[:10]
                      if c.isascii() and (c.isalnum() or c == "."))
        rel = f"data/originals/{m.id}-{m.sha256[:16]}{ext}"
        size, s256, s512, b3 = _stream(self.store, m.object_key, bag / rel)
        if size != m.size or not hmac.compare_digest(s256, m.sha256):
            raise IntegrityError(f"recording {m.id} ({m.object_key}): the store gave {size} "
                                 f"bytes with SHA-256 {s256}, the ledger says {m.size} bytes "
                                 f"and {m.sha256}", hint="run `evidock check fixity`")
        payload.add(rel, size, s256, s512, b3)
        return rel, m.id

    def _proxies(self, bag: Path, m, payload: _Payload) -> list[tuple[str, int]]:
        out = []
        for d in self.ledger.derivatives(media_id=m.id, state="done"):
            rel = f"data/proxies/{m.id}-{d['kind']}{_EXT.get(d['kind'], '')}"
            size, s256, s512, b3 = _stream(self.store, d["object_key"], bag / rel)
            if size != d["size"] or not hmac.compare_digest(s256, d["sha256"]):
                raise IntegrityError(f"derivative {d['id']} of recording {m.id}: the store's "
                                     "bytes differ from the ledger's")
            payload.add(rel, size, s256, s512, b3)
            out.append((rel, m.id))
        return out

    def _records(self, bag: Path, case_id: str, req: dict, records, payload: _Payload) -> None:
        case = self.ledger.case(case_id)
        links = [lk for lk in self.ledger.case_links(case_id)
                 if lk["media_id"] in {m.id for m in records}]
        _write_bytes(bag, "data/case.json", _json({
            "case": case, "links": links, "request": req,
            "recordings": [m.as_dict() for m in records]}), payload)
        for m in records:
            events = list(self.ledger.events(subject=f"media:{m.id}"))
            events += [e for e in self.ledger.events(subject=f"case:{case_id}")
                       if m.id in json.loads(e.data).get("media_ids", [])
                       or json.loads(e.data).get("media_id") == m.id]
            _write_bytes(bag, f"data/premis/{m.id}.json",
                         _json(premis_events(m, sorted(events, key=lambda e: e.seq))), payload)

    def _proof(self, bag: Path, ids: list[int], case_id: str, payload: _Payload,
               head: dict | None):
        """The chain from the first entry about these recordings or the case to the head:
        the time-stamped one when the authority answered, else the ledger's newest."""
        subjects = {f"media:{i}" for i in ids} | {f"case:{case_id}"}
        first = None
        for ev in self.ledger.events():
            if ev.subject in subjects:
                first = ev.seq
                break
        seq, head_hash = (head["seq"], head["head_hash"]) if head else self.ledger.head()
        lines = []
        for ev in self.ledger.events(after=(first or seq) - 1):
            if ev.seq > seq:
                break
            name = f"events/{ev.seq:012d}.json"
            _write_bytes(bag, f"{PROOF}/{name}", preimage(ev), payload)
            lines.append(f"{ev.hash}  {name}\n")
        _write_bytes(bag, f"{PROOF}/hashes.txt", "".join(lines).encode(), payload)
        _write_bytes(bag, f"{PROOF}/head.json", _json({
            "station": self.ledger.station, "seq": seq, "hash": head_hash,
            "first_seq": first or seq, "covers": sorted(subjects),
            "time_stamp": None if head is None else {
                "tsa": head["tsa"], "gen_time": head["gen_time"], "token": "head.tst"}}),
            payload)
        if head is not None:
            _write_bytes(bag, f"{PROOF}/head.tst", base64.b64decode(head["token"]), payload)
            for name, path in (("tsa.pem", self.stamper.config.tsa_certificate),
                               ("tsa-ca.pem", self.stamper.config.tsa_ca)):
                if path is not None:
                    _write_bytes(bag, f"{PROOF}/{name}", Path(path).read_bytes(), payload)
        return seq, head_hash

    # -- manifests and tag files -------------------------------------------------------------

    def _finish(self, bag: Path, case_id: str, req: dict, person: Person,
                payload: _Payload) -> None:
        files = sorted(payload.files.items())
        # the names are ours (ids, digests, kinds): nothing in them needs BagIt's %-encoding
        for i, alg in ((1, "sha256"), (2, "sha512")):
            (bag / f"manifest-{alg}.txt").write_text("".join(
                f"{v[i]}  {rel}\n" for rel, v in files), encoding="utf-8")
        (bag / "bagit.txt").write_text("BagIt-Version: 0.97\nTag-File-Character-Encoding: "
                                       "UTF-8\n", encoding="utf-8")
        (bag / "VERIFY.txt").write_text(VERIFY_TEXT, encoding="utf-8")
        b = bagit.Bag(str(bag))
        b.info.update({
            "Source-Organization": self.ledger.station,
            "External-Identifier": f"case {case_id}, access request {req['id']}",
            "External-Description": f"evidock export of case {case_id}: originals bit-exact, "
                                    "review copies, case record, PREMIS events, ledger proof",
            "Bagging-Date": self.ledger.now()[:10],
            "Contact-Name": f"{person.name} ({person.person_id})",
            "Approved-By": req["decided_by"],
            "Payload-Oxum": f"{sum(v[0] for _, v in files)}.{len(files)}",
            "Bag-Software-Agent": "evidock (bagit-python)",
        })
        b.save(manifests=False)
        # BLAKE3 is not one of hashlib's, so bagit cannot write it: a tag file of our own,
        # over every payload and tag file (bagit's tag manifests cover this one in turn)
        lines = [f"{v[3]}  {rel}\n" for rel, v in files]
        for name in sorted(p.name for p in bag.iterdir() if p.is_file()):
            if not name.startswith("tagmanifest-"):
                lines.append(f"{blake3.blake3((bag / name).read_bytes()).hexdigest()}  {name}\n")
        (bag / "blake3-manifest.txt").write_text("".join(lines), encoding="utf-8")
        b = bagit.Bag(str(bag))
        b.save(manifests=False)  # the tag manifests again, now covering blake3-manifest.txt
        b.validate(fast=True)


VERIFY_TEXT = """\
How to check this bag without evidock
=====================================

Every command below uses standard tools only (bash, coreutils, OpenSSL) and runs from the
bag's top folder (each block on its own, as `bash -e`).  Each must end without an error
(and print what it says it prints) for the bag to be as it was exported.

1. The files are the ones exported (BagIt manifests, RFC 8493), and none was added:

     sha256sum --quiet -c manifest-sha256.txt
     sha512sum --quiet -c manifest-sha512.txt
     sha256sum --quiet -c tagmanifest-sha256.txt
     if command -v b3sum >/dev/null; then b3sum --quiet -c blake3-manifest.txt; fi
     diff <(find data -type f | sort) <(cut -c67- manifest-sha256.txt | sort)

2. The ledger entries are intact: each file in data/ledger-proof/events/ is the exact input
   of that entry's hash (SHA-256 of the canonical JSON [seq, at, station, kind, subject,
   data, prev_hash]), listed in hashes.txt:

     cd data/ledger-proof
     sha256sum --quiet -c hashes.txt

3. They form one unbroken chain: each entry ends with the hash of the entry before it, and
   the last one is the head named in head.json:

     cd data/ledger-proof; prev=; for f in events/*.json; do
       p=$(tail -c 67 "$f" | cut -c2-65); h=$(sha256sum "$f" | cut -c1-64)
       if [ -n "$prev" ] && [ "$p" != "$prev" ]; then echo "BROKEN before $f"; exit 1; fi
       prev=$h
     done
     head=$(sed -n 's/^  "hash": "\\([0-9a-f]*\\)".*/\\1/p' head.json)
     if [ "$prev" = "$head" ]; then echo "chain OK up to the head $head"; else exit 1; fi

4. The originals are the recordings the ledger recorded at ingest: the media_stored entry of
   each recording names its sha256, which must be the one manifest-sha256.txt gives for
   data/originals/<recording id>-*; the case_exported entry lists every file of this bag
   with its sha256:

     grep -l '"media_stored"' data/ledger-proof/events/*.json | xargs grep -o 'sha256[^,]*'
     grep ' data/originals/' manifest-sha256.txt

5. The head existed when the time-stamping authority says (RFC 3161), if head.tst is here:

     cd data/ledger-proof; if [ -f head.tst ]; then
       head=$(sed -n 's/^  "hash": "\\([0-9a-f]*\\)".*/\\1/p' head.json)
       openssl ts -verify -digest "$head" -in head.tst -token_in -CAfile tsa-ca.pem
       openssl ts -reply -in head.tst -token_in -text | grep 'Time stamp'
     fi

   No head.tst: the authority could not be reached at the export; the station's ledger
   holds a later token over a later head, to which this chain leads.

6. To check that the station's ledger was not rewritten after the export, ask the station
   for its entry number "seq" of head.json: its hash must be the one in head.json.  History
   cannot change without changing every hash after it, and later heads are time-stamped too.

`evidock export verify BAG` does all of the above and names what differs.
"""
