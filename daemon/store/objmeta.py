"""The metadata every recording's object carries, so the object alone says what it is.

Ingest passes :func:`media_metadata` with each put; the local store keeps it in the object's
metadata file, S3 as ``x-amz-meta-evidock-<name>`` headers.  With it a lost ledger can be
rebuilt from the store (``evidock ledger rebuild``) and the store audited against the ledger
(``evidock check inventory``).  The digests (``sha256``, ``blake3``) are added by the store
itself once the last byte is read.  Values are ASCII (HTTP headers): text that may hold other
characters (station, device serial, officer) is percent-encoded UTF-8, and the path on the
device is the hex of its exact bytes.  daemon/FORMATS.md lists the names.
"""

from __future__ import annotations

import os
from urllib.parse import quote, unquote

from evidock.daemon.ledger.records import MediaRecord
from evidock.daemon.store.base import ObjectInfo

#: name in the metadata -> (media field, encoded as text)
TEXT = {"device-serial": "device_serial", "officer": "officer_id"}
PLAIN = {"media-id": "id", "size": "size", "mtime-ns": "mtime_ns", "kind": "kind",
         "recorded-at": "recorded_at", "found-at": "found_at", "deadline-at": "deadline_at"}
REQUIRED = ("station", "device-serial", "source-path-hex", "size", "mtime-ns", "kind",
            "recorded-at", "found-at", "deadline-at")


def media_metadata(media: MediaRecord, source_path: str, station: str) -> dict[str, str]:
    """What ingest sends with the put of ``media`` (read from ``source_path`` on its device)."""
    out = {k: quote(getattr(media, f), safe="") for k, f in TEXT.items()
           if getattr(media, f) is not None}
    out.update({k: str(getattr(media, f)) for k, f in PLAIN.items()})
    out["station"] = quote(station, safe="")
    out["source-path-hex"] = os.fsencode(source_path).hex()
    return out


def parse_media_metadata(info: ObjectInfo) -> dict:
    """The recording a listed object's metadata describes, as ``media_seen`` data would hold
    it, with the digests the store reports; ``ValueError`` naming what is missing when the
    object cannot say (put by an older evidock, or not by evidock)."""
    meta = info.metadata
    missing = [k for k in REQUIRED if not meta.get(k)]
    if missing:
        raise ValueError(f"its metadata lacks {', '.join(missing)}")
    raw = bytes.fromhex(meta["source-path-hex"])
    return {
        "station": unquote(meta["station"]),
        "media_id": int(meta["media-id"]) if meta.get("media-id", "").isdigit() else None,
        "device_serial": unquote(meta["device-serial"]),
        "officer_id": unquote(meta["officer"]) if meta.get("officer") else None,
        "source_path": raw.decode("utf-8", "backslashreplace"),
        "source_path_raw": raw.hex(),
        "size": int(meta["size"]), "mtime_ns": int(meta["mtime-ns"]), "kind": meta["kind"],
        "recorded_at": meta["recorded-at"], "found_at": meta["found-at"],
        "deadline_at": meta["deadline-at"],
        "blake3": info.blake3 or meta.get("blake3"), "sha256": info.sha256,
    }
