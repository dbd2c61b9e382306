"""Perceptual fingerprints in the ledger and their band index (part of SqliteLedger).

A fingerprint is a derivative like a proxy (its JSON document is a write-once object), and
its hashes are also recorded in the chain by ``fingerprint_recorded``, in the same
transaction as its ``derivative_stored``: the projector fills ``fingerprints`` and the band
index ``fingerprint_bands`` from the event alone, so ``verify`` and ``rebuild`` reproduce
the index exactly.

The index is locality-sensitive hashing by bands: a 256-bit PDQ hash is cut into 16 bands
of 16 bits, and two hashes within a Hamming distance of about 50 share at least one band
with good odds; over the several seconds two recordings share, a shared band is all but
certain.  Hashes that differ by at most :data:`INDEX_SKIP_DISTANCE` from the one indexed
before them (a camera standing still) are kept in ``fingerprints`` but not indexed again.
"""

from __future__ import annotations

import json

from evidock.daemon.errors import NotFound

BANDS = 16
BAND_BITS = 16
INDEX_SKIP_DISTANCE = 24


def band_keys(hex_hash: str) -> list[int]:
    """The index keys of one hash: band number * 65536 + the band's 16 bits."""
    value = int(hex_hash, 16)
    mask = (1 << BAND_BITS) - 1
    return [(band << BAND_BITS) | ((value >> (band * BAND_BITS)) & mask)
            for band in range(BANDS)]


def indexed(frames: list) -> list:
    """The (t, hash) pairs the index holds: each one that differs from the last indexed by
    more than :data:`INDEX_SKIP_DISTANCE` bits."""
    kept, last = [], None
    for t, hex_hash in frames:
        value = int(hex_hash, 16)
        if last is None or (value ^ last).bit_count() > INDEX_SKIP_DISTANCE:
            kept.append((t, hex_hash))
            last = value
    return kept


def index_rows(media_id: int, frames: list) -> list[int]:
    """The ``fingerprint_bands`` rows of one recording: key * 2^32 + media_id, each once."""
    return sorted({(key << 32) | media_id for _, h in indexed(frames) for key in band_keys(h)})


class FingerprintsMixin:
    def finish_fingerprint(self, derivative_id: int, digests, *, store: str, object_key: str,
                           retain_until, algorithm: str, duration_s: float | None,
                           frames: list) -> None:
        """running -> done (``derivative_stored``) and ``fingerprint_recorded`` with the
        hashes (``frames``: [[seconds, hex], ...]), in one transaction."""
        with self._transaction() as conn:
            row = self._derivative_row(conn, derivative_id, "done")
            self._emit_stored(conn, row, digests, store=store, object_key=object_key,
                              retain_until=retain_until)
            self._emit(conn, "fingerprint_recorded", f"media:{row['media_id']}", {
                "derivative_id": derivative_id, "media_id": row["media_id"],
                "algorithm": algorithm, "duration_s": duration_s,
                "frames": [[round(float(t), 3), h] for t, h in frames]})

    def fingerprint(self, media_id: int) -> dict:
        """A recording's fingerprint: ``frames`` as [[seconds, hex], ...] and its columns."""
        row = self._one("SELECT * FROM fingerprints WHERE media_id = ?", (media_id,))
        if row is None:
            raise NotFound(f"recording {media_id} has no fingerprint yet",
                           hint="its fingerprint derivative is made after handover; see "
                                f"`evidock derivatives list --media {media_id}`")
        doc = dict(row)
        doc["frames"] = json.loads(doc.pop("hashes"))
        return doc

    def fingerprints_of(self, media_ids: list[int]) -> dict[int, dict]:
        found = {}
        for start in range(0, len(media_ids), 500):
            chunk = media_ids[start:start + 500]
            for row in self._rows("SELECT * FROM fingerprints WHERE media_id IN "
                                  f"({','.join('?' * len(chunk))})", chunk):
                doc = dict(row)
                doc["frames"] = json.loads(doc.pop("hashes"))
                found[doc["media_id"]] = doc
        return found

    def fingerprint_candidates(self, keys: list[int], *, exclude: int | None = None,
                               limit: int = 200) -> list[tuple[int, int]]:
        """Recordings sharing index keys with ``keys``: (media_id, keys shared), most
        shared first, at most ``limit``.  One range scan of the band b-tree per key."""
        hits: dict[int, int] = {}
        for key in sorted(set(keys)):
            for row in self._rows("SELECT band FROM fingerprint_bands WHERE band BETWEEN ? "
                                  "AND ?", (key << 32, (key << 32) | 0xFFFFFFFF)):
                media_id = row[0] & 0xFFFFFFFF
                if media_id != exclude:
                    hits[media_id] = hits.get(media_id, 0) + 1
        return sorted(hits.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]

    def fingerprint_count(self) -> int:
        return self._one("SELECT COUNT(*) AS n FROM fingerprints")["n"]
