"""The write-once store contract.

Every store (the local WORM store, S3 with Object Lock, and the spooling store that puts the
local spool in front of S3) implements :class:`WormStore` and passes the same contract suite in
``tests/daemon/store/contract.py``.  There is no delete: nothing in evidock removes evidence, and
a store must not offer a way to.

Bytes leave a store in exactly two places, and ``tests/daemon/store/test_no_removal.py`` proves
there is no third:

* ``recover()`` (through ``LocalWormStore._discard``) removes temporary data only: what an
  interrupted put left in ``.incoming`` by a process that is gone (never a live process's
  upload in flight), and metadata whose data never arrived.  Neither is evidence: the device
  copy is still the original.
* ``Spool.release(key, proof)`` removes a spooled copy, and only once the final store (S3)
  holds a verified copy: ``proof`` is what the final store reported, and it must name the same
  key with the same size and SHA-256, or nothing is removed.  ``Spool.release_record`` is the
  same step for a spooled ledger anchor (a record under ``ledger/``), with the same proof.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import BinaryIO, Protocol, runtime_checkable

from evidock.daemon.hashing import Digests, HashingReader


@dataclass(frozen=True)
class ObjectInfo:
    """What the store itself reports about one stored object."""

    key: str
    size: int
    sha256: str  # as the store reports it (computed by the store, not echoed from the caller)
    retain_until: datetime
    legal_hold: bool
    version_id: str | None = None
    lock_mode: str | None = None  # "COMPLIANCE" for S3 Object Lock, "LOCAL" for the local store
    blake3: str | None = None
    checksum: str | None = None  # the store's own checksum as it reports it (S3: x-amz-checksum-*)
    #: the metadata the object was put with (keys without any store prefix), as the store
    #: reports it; filled by ``list_objects`` (and by ``stat`` where it costs nothing more)
    metadata: dict[str, str] = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class StoredObject:
    """The receipt a successful :meth:`WormStore.put` returns."""

    key: str
    digests: Digests
    info: ObjectInfo
    existed: bool = False  # the same bytes were already stored under this key
    details: dict = field(default_factory=dict)


class Span:
    """The first ``length`` bytes of an open file: a span of a local object, read as S3 sends
    a ranged GET (the file is closed with it)."""

    def __init__(self, f: BinaryIO, length: int) -> None:
        self._f, self._left = f, length

    def read(self, n: int = -1) -> bytes:
        n = self._left if n is None or n < 0 else min(n, self._left)
        block = self._f.read(n) if n else b""
        self._left -= len(block)
        return block

    def close(self) -> None:
        self._f.close()

    def __enter__(self) -> Span:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


@runtime_checkable
class WormStore(Protocol):
    """A write-once, content-addressed object store.

    Contract, for every implementation:

    * ``put`` reads ``stream`` to its end exactly once and never seeks it.  The key is
      derived from the stream's digests (:func:`evidock.daemon.store.keys.object_key`).
    * Short read or long read: the stream raises ``SizeMismatch``; ``put`` lets it through
      and leaves nothing under any final key.  Retrying later is safe.
    * The store hashes what it actually wrote (or the server verifies a checksum we send)
      and compares with the stream's digests; a difference raises ``IntegrityError`` and
      nothing is committed.
    * Duplicate put of the same bytes: returns the existing object with ``existed=True``
      and writes nothing new; retention is extended if the new ``retain_until`` is later.
    * An existing key holding *different* bytes is never overwritten: ``ObjectConflict``.
    * ``put(..., durable=False)`` may return before the object would survive a power cut
      (it survives the process being killed); :meth:`sync` then makes every put that
      returned durable at once (local store: one ``syncfs`` instead of three fsyncs per
      file; S3: the server answers only once it holds the object, so both are no-ops).
      The pipeline puts small files this way and calls ``sync`` before the group's
      read-back and hand-over, so a file is never handed over before its copy is durable.
      The default ``durable=True`` is durable on return.
    * A crash at any point leaves either no object under the final key or a complete,
      verified one; ``recover()`` at start-up removes what a crash left half written
      (incomplete temporary data is not evidence: the device copy is still the original).
    * Retention only ever grows: ``extend_retention`` to an earlier date raises
      ``RetentionError``.  Legal holds are set and released explicitly.
    * An unreachable or full store raises ``StoreUnavailable``: the caller retries.
    * A ``SourceError`` raised by the stream (the device vanished while ``put`` pulled it:
      ``SourceVanished``) passes through untouched: never relabelled as a store error, never
      counted against the store's health (a spooling store does not mark S3 down for it),
      and nothing is left under any final key.
    """

    name: str

    def put(
        self,
        stream: HashingReader,
        *,
        retain_until: datetime,
        legal_hold: bool = False,
        metadata: dict[str, str] | None = None,
        durable: bool = True,
    ) -> StoredObject: ...

    def sync(self) -> None:
        """Make every put that returned so far durable (see ``durable`` above)."""
        ...

    # ``version_id``: a store that keeps versions (S3) addresses exactly that version, the
    # one the ledger recorded at upload, never "the latest" (a version written over a content
    # key later must not stand in for the recording); ``ObjectMissing`` if it is gone.  A store
    # without versions holds one copy per key and ignores it.

    def stat(self, key: str, *, version_id: str | None = None) -> ObjectInfo:
        """What the store holds under ``key``; ``ObjectMissing`` if nothing."""
        ...

    def open(self, key: str, *, version_id: str | None = None, offset: int = 0,
             length: int | None = None) -> BinaryIO:
        """The stored bytes, for fixity audits and exports; ``offset`` and ``length`` select a
        span (a player seeking in a proxy), which S3 then sends alone."""
        ...

    def extend_retention(self, key: str, retain_until: datetime, *,
                         version_id: str | None = None) -> ObjectInfo: ...

    def set_legal_hold(self, key: str, on: bool, *,
                       version_id: str | None = None) -> ObjectInfo: ...

    def recover(self) -> int:
        """Clean up what an interrupted put left behind; returns how many leftovers."""
        ...

    def check(self) -> list[str]:
        """Problems with the store's set-up, as messages that say what to do (empty: fine)."""
        ...

    # -- named records (the ledger's anchors) and listing --------------------------------------
    #
    # A *record* is a small named object that is not content addressed: its key is chosen by
    # the caller, always under ``RECORD_PREFIX`` (``ledger/``), so it can never collide with a
    # recording (``media/b3/...``) or a staged upload.  Records are write-once like everything
    # else: once a key holds bytes, no call of any store changes or removes them, for at least
    # the ``retain_until`` given when it was written (S3: a COMPLIANCE-locked version; local:
    # a read-only, fsync'd file that no code path of evidock unlinks).

    def put_record(self, key: str, data: bytes, *, retain_until: datetime) -> ObjectInfo:
        """Write ``data`` under ``key`` once, durably, locked until ``retain_until``.

        * ``key`` must start with ``RECORD_PREFIX`` and contain only ``[A-Za-z0-9._/-]``, no
          ``..`` and no empty part: anything else is a ``ValueError`` (a caller's bug).
        * The same bytes again under the same key: returns the existing record, writes
          nothing (a retry after a lost answer is safe).
        * Other bytes under an existing key: ``ObjectConflict``; the first bytes stay.
        * A crash leaves either no record under ``key`` or the complete one.
        * An unreachable or full store raises ``StoreUnavailable``: the caller retries.
        """
        ...

    def list_records(self, prefix: str) -> list[str]:
        """The keys of every record whose key starts with ``prefix`` (itself under
        ``RECORD_PREFIX``), in ascending key order.  Nothing else is listed: no recording,
        no staged upload, no temporary file."""
        ...

    def read_record(self, key: str) -> bytes:
        """The bytes first written under ``key`` (``ObjectMissing`` if none).  A store that
        keeps versions returns the oldest one: a later version cannot stand in for it."""
        ...

    def list_objects(self) -> Iterator[ObjectInfo]:
        """Every content object (``media/b3/...``) the store holds, in no particular order,
        each with the size and digests the store reports and the ``metadata`` it was put
        with, so that the store can be checked against the ledger (and a lost ledger rebuilt)
        without the ledger's help."""
        ...


#: Every record key starts with this; no content key or staging key does.
RECORD_PREFIX = "ledger/"
_RECORD_KEY = re.compile(r"^ledger/(?:[A-Za-z0-9._-]+/)*[A-Za-z0-9._-]+$")


def check_record_key(key: str) -> str:
    """``key`` if it is a valid record key (see :meth:`WormStore.put_record`), else ValueError."""
    if not _RECORD_KEY.match(key) or any(part in (".", "..") for part in key.split("/")):
        raise ValueError(f"not a record key (ledger/..., letters, digits, . _ - /): {key!r}")
    return key


def audited_names(store: WormStore) -> frozenset[str]:
    """The store names a ledger row may carry for objects ``store`` can read back (a spooling
    store answers for its spool as well as for S3); audits check exactly these rows."""
    return frozenset(getattr(store, "names", ()) or {store.name})
