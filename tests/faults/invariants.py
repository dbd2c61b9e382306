"""The one assertion every fault case ends with: 0 recordings lost, 0 duplicated, 0 altered,
and a ledger that verifies.

What is checked, from outside, as an auditor would:

- every source file (the bytes still on the device or in the watch folder) has exactly one
  ledger row, with its size and SHA-256, and that row is ``verified`` (or, for the files a case
  names, still ``failed`` with a retry planned: waiting, not given up);
- the store holds each verified recording's bytes exactly once, under its content key
  (``media/b3/../<blake3>``), and they hash to the source's SHA-256; nothing else is there;
- nothing is left in the store's temporary areas (``.incoming`` of the local store and the
  spool, open multipart uploads on S3);
- ``evidock ledger verify`` exits 0.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import blake3

from evidock.daemon.store.keys import key_for_blake3

from .station import Station


@dataclass(frozen=True)
class Source:
    serial: bytes
    relpath: bytes
    size: int
    sha256: str
    blake3: str

    @property
    def display(self) -> str:
        return self.relpath.decode("utf-8", "backslashreplace")


def hash_file(path: bytes | str | Path) -> tuple[int, str, str]:
    sha, b3, size = hashlib.sha256(), blake3.blake3(), 0
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            sha.update(chunk)
            b3.update(chunk)
            size += len(chunk)
    return size, sha.hexdigest(), b3.hexdigest()


def sources(*folders: Path | bytes) -> list[Source]:
    """Every file under ``<folder>/<serial>/``, names as raw bytes (hidden names skipped,
    as the watch driver skips them)."""
    found = []
    for folder in folders:
        top = os.fsencode(folder)
        for serial in sorted(os.listdir(top)):
            if serial.startswith(b"."):
                continue
            base = os.path.join(top, serial)
            for dirpath, dirnames, filenames in os.walk(base):
                dirnames[:] = sorted(d for d in dirnames if not d.startswith(b"."))
                for name in sorted(filenames):
                    if name.startswith(b"."):
                        continue
                    path = os.path.join(dirpath, name)
                    size, sha, b3 = hash_file(path)
                    found.append(Source(serial, os.path.relpath(path, base), size, sha, b3))
    return found


class S3View:
    """The bucket of an S3 station, seen with the test server's own client."""

    def __init__(self, client, bucket: str) -> None:
        self.client, self.bucket = client, bucket
        self.name = f"s3:{bucket}"

    def versions(self, key: str) -> list:
        return [o for o in self.client.list_objects(self.bucket, prefix=key, include_version=True)
                if o.object_name == key]

    def media_keys(self) -> list[str]:
        return [o.object_name for o in self.client.list_objects(
            self.bucket, prefix="media/", recursive=True, include_version=True)]

    def sha256_of(self, key: str) -> str:
        resp = self.client.get_object(self.bucket, key)
        try:
            sha = hashlib.sha256()
            for chunk in resp.stream(1 << 20):
                sha.update(chunk)
            return sha.hexdigest()
        finally:
            resp.close()
            resp.release_conn()

    def open_uploads(self) -> list[str]:
        uploads = self.client._list_multipart_uploads(self.bucket, prefix="staging/").uploads
        return [u.object_name for u in uploads]


def local_objects(root: Path) -> dict[str, Path]:
    """Content key -> data file, for a local store or spool rooted at ``root``."""
    media = root / "media"
    if not media.exists():
        return {}
    return {p.relative_to(root).as_posix(): p for p in media.rglob("*")
            if p.is_file() and p.suffix != ".json"}


def leftovers(root: Path) -> list[str]:
    incoming = root / ".incoming"
    return sorted(p.name for p in incoming.iterdir()) if incoming.exists() else []


def waiting_with_retry(station: Station, row: dict) -> bool:
    """``failed`` with a retry planned (the last failure event names a retry time)."""
    if row["state"] != "failed":
        return False
    failures = [e for e in station.show(row["id"])["events"] if e["kind"] == "attempt_failed"]
    return bool(failures) and failures[-1]["data"].get("retry_at") is not None


def assert_nothing_lost(station: Station, *folders: Path | bytes, s3: S3View | None = None,
                        waiting: frozenset[bytes] = frozenset(),
                        sharing: tuple[Station, ...] = ()) -> list[dict]:
    """The fault matrix's invariant (module docstring); returns the ledger rows.

    ``waiting`` names source paths (raw bytes, relative to their serial folder) that may
    still be waiting for a retry instead of being verified; ``sharing`` names stations whose
    recordings the same store holds too."""
    srcs = sources(*(folders or (station.watch,)))
    assert srcs, "the case made no source files"
    assert len({s.sha256 for s in srcs}) == len(srcs), "sources must differ (random bytes)"
    rows = station.rows()
    context = f"\nrows: {rows}\n{station.log_tail()}"
    by_sha: dict[str, list[dict]] = {}
    for row in rows:
        by_sha.setdefault(row["sha256"], []).append(row)
    unhashed = [r for r in rows if r["sha256"] is None]

    lost, dup, bad_state = [], [], []
    for src in srcs:
        mine = by_sha.pop(src.sha256, [])
        if not mine and src.relpath in waiting:
            mine = [r for r in unhashed if r["source_path"] == src.display and r["size"]
                    == src.size]
            for r in mine:
                unhashed.remove(r)
        if not mine:
            lost.append(src.display)
            continue
        if len(mine) > 1:
            dup.append(src.display)
        row = mine[0]
        assert (src.display, src.size) == (row["source_path"], row["size"]), context
        if row["state"] != "verified" and not (
                src.relpath in waiting and waiting_with_retry(station, row)):
            bad_state.append((src.display, row["state"], row["last_error"]))
    assert [] == lost, f"recordings lost (no ledger row with their SHA-256){context}"
    assert [] == dup, f"recordings with more than one ledger row{context}"
    assert [] == bad_state, f"recordings not handed over (nor waiting for a retry){context}"
    assert {} == by_sha and [] == unhashed, f"ledger rows no source file matches{context}"

    # the store: each verified recording once, under its content key, bit-exact
    local = local_objects(station.store_root)
    spooled = local_objects(station.spool_root)
    s3_keys = s3.media_keys() if s3 is not None else []
    verified = [r for r in rows if r["state"] == "verified"]
    want_keys = {key_for_blake3(r["blake3"]) for r in verified}
    for other in sharing:
        want_keys |= {r["object_key"] for r in other.rows() if r["state"] == "verified"}
    for row in verified:
        key = row["object_key"]
        assert key_for_blake3(row["blake3"]) == key, f"not under its content key: {row}"
        store = row["store"] or ""
        if store.startswith("local:"):
            path = local.get(key)
            assert path is not None, f"{row['source_path']}: not in the local store{context}"
            assert row["sha256"] == hash_file(path)[1], f"{key} altered in the store"
        elif store.startswith("spool:"):
            path = spooled.get(key)
            assert path is not None, f"{row['source_path']}: not in the spool{context}"
            assert row["sha256"] == hash_file(path)[1], f"{key} altered in the spool"
        else:
            assert s3 is not None and s3.name == store, f"unexpected store {store!r}"
            assert 1 == len(s3.versions(key)), f"{key}: not exactly one S3 version"
            assert row["sha256"] == s3.sha256_of(key), f"{key} altered in S3"
    placed = sorted([*local, *spooled, *s3_keys])
    assert sorted(want_keys) == placed, f"objects in the stores other than one per recording" \
        f" (local {sorted(local)}, spool {sorted(spooled)}, s3 {s3_keys}){context}"

    # nothing half-written left behind
    assert [] == leftovers(station.store_root), "the store's .incoming is not empty"
    assert [] == leftovers(station.spool_root), "the spool's .incoming is not empty"
    if s3 is not None:
        assert [] == s3.open_uploads(), "open multipart uploads left on S3"

    verify = station.cli("ledger", "verify", check=False)
    assert 0 == verify.returncode, f"ledger verify failed:\n{verify.stdout}{verify.stderr}"
    return rows
