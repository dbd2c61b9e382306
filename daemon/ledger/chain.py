"""The hash chain over ledger events.

Each event's hash is SHA-256 over the canonical JSON of ``[seq, at, station, kind, subject,
data, prev_hash]``; ``prev_hash`` is the previous event's hash (64 zeros for the first), so
changing, inserting or removing any event breaks every hash after it.  ``data`` is stored
as canonical JSON text, so the hash can be recomputed from the row alone.
"""

from __future__ import annotations

import hashlib
import json

GENESIS = "0" * 64


def canonical(value) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def event_hash(seq: int, at: str, station: str, kind: str, subject: str, data: str,
               prev_hash: str) -> str:
    body = canonical([seq, at, station, kind, subject, data, prev_hash])
    return hashlib.sha256(body.encode("utf-8")).hexdigest()
