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
  key with the same size and SHA-256, or nothing is removed.
"""

from __future__ import annotations

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


@dataclass(frozen=True)
class StoredObject:
    """The receipt a successful :meth:`WormStore.put` returns."""

    key: str
    digests: Digests
    info: ObjectInfo
    existed: bool = False  # the same bytes were already stored under this key
    details: dict = field(default_factory=dict)


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
    * A crash at any point leaves either no object under the final key or a complete,
      verified one; ``recover()`` at start-up removes what a crash left half written
      (incomplete temporary data is not evidence: the device copy is still the original).
    * Retention only ever grows: ``extend_retention`` to an earlier date raises
      ``RetentionError``.  Legal holds are set and released explicitly.
    * An unreachable or full store raises ``StoreUnavailable``: the caller retries.
    """

    name: str

    def put(
        self,
        stream: HashingReader,
        *,
        retain_until: datetime,
        legal_hold: bool = False,
        metadata: dict[str, str] | None = None,
    ) -> StoredObject: ...

    def stat(self, key: str) -> ObjectInfo:
        """What the store holds under ``key``; ``ObjectMissing`` if nothing."""
        ...

    def open(self, key: str) -> BinaryIO:
        """The stored bytes, for fixity audits and exports."""
        ...

    def extend_retention(self, key: str, retain_until: datetime) -> ObjectInfo: ...

    def set_legal_hold(self, key: str, on: bool) -> ObjectInfo: ...

    def recover(self) -> int:
        """Clean up what an interrupted put left behind; returns how many leftovers."""
        ...

    def check(self) -> list[str]:
        """Problems with the store's set-up, as messages that say what to do (empty: fine)."""
        ...


def audited_names(store: WormStore) -> frozenset[str]:
    """The store names a ledger row may carry for objects ``store`` can read back (a spooling
    store answers for its spool as well as for S3); audits check exactly these rows."""
    return frozenset(getattr(store, "names", ()) or {store.name})
