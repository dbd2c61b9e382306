"""The object-key layout, shared by every store (see daemon/FORMATS.md)."""

from __future__ import annotations

import re

from evidock.daemon.hashing import Digests

_B3 = re.compile(r"^[0-9a-f]{64}$")
PREFIX = "media/b3"


def object_key(digests: Digests) -> str:
    """``media/b3/<2 hex>/<2 hex>/<64 hex BLAKE3>``: content addressed, fanned out."""
    return key_for_blake3(digests.blake3)


def key_for_blake3(blake3_hex: str) -> str:
    if not _B3.match(blake3_hex):
        raise ValueError(f"not a BLAKE3 hex digest: {blake3_hex!r}")
    return f"{PREFIX}/{blake3_hex[:2]}/{blake3_hex[2:4]}/{blake3_hex}"


def blake3_of_key(key: str) -> str:
    tail = key.rsplit("/", 1)[-1]
    if not key.startswith(PREFIX + "/") or not _B3.match(tail):
        raise ValueError(f"not an evidock media key: {key!r}")
    return tail
