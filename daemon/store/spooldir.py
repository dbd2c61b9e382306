"""The spool's directory: a local WORM store whose copies may be released.

The one place where a store removes a recording's bytes (daemon/store/base.py): a spooled copy,
released by the drainer (daemon/store/spool.py) only against the final store's proof that it
holds the same bytes.  A spool belongs to one daemon for its lifetime (:meth:`Spool.claim`).
"""

from __future__ import annotations

import fcntl
import hmac
import json
import os
import time
from pathlib import Path

from evidock.daemon.errors import EvidockError, StoreError
from evidock.daemon.store.base import ObjectInfo
from evidock.daemon.store.local import LocalWormStore


class Spool(LocalWormStore):
    """A local WORM store whose objects may be released once a verified copy exists elsewhere."""

    sweeps_orphans = True  # release() removes the data first, and leaves no trace of it

    def __init__(self, root, **kwargs) -> None:
        super().__init__(root, **kwargs)
        self.name = f"spool:{self.root}"

    def claim(self) -> None:
        """Take the spool for this daemon's lifetime.  Its drainer releases spooled copies and
        records the move in its own ledger, so a second daemon draining the same spool would
        release copies the first one's ledger still points at: it is refused, with what to do."""
        path = self.root / ".daemon.lock"
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o640)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise EvidockError(
                f"spool {self.root} belongs to another running evidock (pid {holder})",
                hint="give each station its own spool (store.spool.path, default "
                     "<data_dir>/spool), or stop the other daemon first") from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._claim_fd = fd

    def release(self, key: str, proof: ObjectInfo) -> None:
        """Remove the spooled copy of ``key``, the one way a store removes a recording's bytes.

        ``proof`` is what the final store reported for its copy; unless it names the same key
        with the same size and SHA-256 as the spooled copy, nothing is removed (``StoreError``).
        """
        mine = self.stat(key)
        if (proof.key, proof.size) != (key, mine.size) or not hmac.compare_digest(
                str(proof.sha256), mine.sha256):
            raise StoreError(f"spool: not releasing {key}: the final copy does not match it")
        data = self._data_path(key)
        with self._commit_lock():
            data.unlink()  # data first: a crash leaves an orphan .json that recover() removes
            self._meta_path(data).unlink()

    def release_record(self, key: str, proof: ObjectInfo) -> None:
        """The record's twin of :meth:`release`: remove the spooled copy of the record ``key``
        (a ledger anchor) once ``proof``, what the final store reported after writing it,
        shows the same key, size and SHA-256."""
        mine = self._record_info(key)
        if (proof.key, proof.size) != (key, mine.size) or not hmac.compare_digest(
                str(proof.sha256), mine.sha256):
            raise StoreError(f"spool: not releasing the record {key}: the final copy differs")
        data = self._data_path(key)
        with self._commit_lock():
            data.unlink()
            self._meta_path(data).unlink()

    def entries(self) -> list[dict]:
        return spool_entries(self.root)

    def usage(self) -> tuple[int, int, float | None]:
        return spool_usage(self.root)


def spool_entries(root: Path) -> list[dict]:
    """Every spooled object under ``root``: key, size, mtime, the metadata it was put with."""
    media = Path(root) / "media"
    out = []
    for meta in media.rglob("*.json") if media.exists() else ():
        data = meta.with_suffix("")
        try:
            doc, st = json.loads(meta.read_text()), data.stat()
        except (OSError, ValueError):
            continue  # half-released or half-written: recover() deals with it
        out.append({"key": doc["key"], "size": st.st_size, "mtime": st.st_mtime,
                    "metadata": doc.get("metadata", {})})
    return out


def spool_usage(root: Path) -> tuple[int, int, float | None]:
    """(objects, bytes, age in seconds of the oldest) of the spool at ``root``."""
    entries = spool_entries(root)
    oldest = min((e["mtime"] for e in entries), default=None)
    return (len(entries), sum(e["size"] for e in entries),
            None if oldest is None else time.time() - oldest)
