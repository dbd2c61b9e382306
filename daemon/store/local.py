"""The local write-once store: the embedded default, needing no external service.

Layout under the store root (daemon/FORMATS.md has the details)::

    media/b3/<aa>/<bb>/<blake3>        the recording, mode 0444, never rewritten
    media/b3/<aa>/<bb>/<blake3>.json   what the store knows of it: size, digests, retention, hold
    .incoming/<owner>-<uuid>.part      puts in progress (removed by recover() once <owner> is gone)
    .owners/<owner>.lock               held (flock) by the live process <owner> for its lifetime

A put writes under a temporary name, fsyncs, re-reads what reached the disk and hashes it,
then *links* the file to its content key: ``link`` fails if the key exists, so no code path
can overwrite a stored recording.  The metadata file goes first, the data last, so a crash
leaves either a complete object or an orphan metadata file that ``recover()`` removes.

Several processes may share one store (two data directories on one store path, a command
placing a hold while the daemon runs): commits are serialised by ``.lock``, and each process
names its temporary files after itself and holds ``.owners/<owner>.lock`` while it lives, so
``recover()`` at one daemon's start removes only what a process that is gone left behind, never
another live process's upload in flight.

The lock holds against evidock, not against root on the host: protect the store's file system
(a dedicated volume, no shell users) as the README explains.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import fcntl
import hmac
import json
import os
import threading
import uuid
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

import blake3

from evidock.daemon.errors import (
    IntegrityError,
    ObjectConflict,
    ObjectMissing,
    RetentionError,
    SourceError,
    StoreError,
    StoreUnavailable,
)
from evidock.daemon.hashing import HashingReader
from evidock.daemon.store.base import RECORD_PREFIX, ObjectInfo, Span, StoredObject
from evidock.daemon.store.keys import object_key
from evidock.daemon.store.local_records import LocalRecords

_NOSPACE = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EIO}


def _libc():
    """The C library, for ``syncfs(2)`` (Linux; Python's os module has no binding for it)."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.syncfs.argtypes = [ctypes.c_int]
        return libc
    except (OSError, AttributeError):
        return None


_LIBC = _libc()


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _iso(dt: datetime) -> str:
    return dt.astimezone(UTC).isoformat()


class LocalWormStore(LocalRecords):
    """Content-addressed, write-once files on a local (or mounted) file system."""

    def __init__(self, root: str | os.PathLike, *, verify_after_write: bool = True) -> None:
        self.root = Path(root)
        self.verify_after_write = verify_after_write
        self.name = f"local:{self.root}"
        self._incoming = self.root / ".incoming"
        self._owners = self.root / ".owners"
        self._thread_lock = threading.Lock()
        self._owner_lock = threading.Lock()
        self._owner: str | None = None  # taken on the first write (reads never create files)
        self._owner_fd: int | None = None
        try:
            self._incoming.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreUnavailable(
                f"local store {self.root}: cannot create it: {exc.strerror}",
                hint="check that the data directory exists and is writable by the daemon",
            ) from exc

    # -- identity: a store that was moved (or restored elsewhere) is still itself -------------

    IDENTITY = ".identity.json"

    def _identity(self) -> dict:
        try:
            return json.loads((self.root / self.IDENTITY).read_text())
        except (FileNotFoundError, ValueError):
            return {}

    @property
    def names(self) -> frozenset[str]:
        """Every name this store has had: its objects' ledger rows carry the name of the path
        the store had when they were written (``local:/var/lib/evidock/store``), and a data
        directory moved or restored elsewhere must audit clean (``audited_names``)."""
        known = self._identity()
        return frozenset({self.name, *filter(None, [known.get("name")]),
                          *known.get("former", [])})

    def adopt(self) -> str | None:
        """Record the store's current name in it (the daemon, at start); the former name if
        the store was found at another path than last time, so the move can be recorded."""
        known = self._identity()
        if known.get("name") == self.name:
            return None
        former = known.get("name")
        doc = {"format": "evidock.local-store/1", "name": self.name,
               "former": sorted({*known.get("former", []), *filter(None, [former])}
                                - {self.name})}
        # a name of its own: stations sharing a store may adopt it at the same moment
        tmp = self.root / f"{self.IDENTITY}.{os.getpid()}-{threading.get_ident()}.tmp"
        tmp.write_text(json.dumps(doc, sort_keys=True))
        os.replace(tmp, self.root / self.IDENTITY)
        _fsync_dir(self.root)
        return former

    # -- paths -------------------------------------------------------------------------------

    def _data_path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if self.root.resolve() not in path.parents:
            raise ObjectMissing(f"key {key!r} is outside the store")
        return path

    @staticmethod
    def _meta_path(data: Path) -> Path:
        return data.with_name(data.name + ".json")

    def _temp(self, suffix: str) -> Path:
        """A new temporary path in ``.incoming`` named after this process (its owner)."""
        return self._incoming / f"{self._claim_owner()}-{uuid.uuid4().hex}{suffix}"

    def _claim_owner(self) -> str:
        """This process's owner name, whose lock it holds until it exits.  The lock file is
        locked under a temporary name and then renamed, so ``recover()`` never sees an owner
        lock that is not held yet."""
        with self._owner_lock:
            if self._owner is None:
                self._owners.mkdir(exist_ok=True)
                owner = f"{os.getpid()}x{uuid.uuid4().hex[:12]}"
                tmp = self._owners / f"{owner}.new"
                fd = os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
                fcntl.flock(fd, fcntl.LOCK_EX)
                os.rename(tmp, self._owners / f"{owner}.lock")
                self._owner, self._owner_fd = owner, fd
            return self._owner

    def _owner_alive(self, owner: str) -> bool:
        if owner == self._owner:
            return True
        try:
            fd = os.open(self._owners / f"{owner}.lock", os.O_RDWR | os.O_CLOEXEC)
        except (FileNotFoundError, ValueError):
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        finally:
            os.close(fd)
        return False

    @contextmanager
    def _commit_lock(self):
        """Serialise commits of this store between threads and processes."""
        with self._thread_lock:
            fd = os.open(self.root / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                yield
            finally:
                os.close(fd)

    # -- put ---------------------------------------------------------------------------------

    def put(
        self,
        stream: HashingReader,
        *,
        retain_until: datetime,
        legal_hold: bool = False,
        metadata: dict[str, str] | None = None,
        durable: bool = True,
    ) -> StoredObject:
        tmp = self._temp(".part")
        try:
            size, in_memory_b3 = self._write_temp(tmp, stream, durable)
            digests = stream.digests()
            if in_memory_b3 is None:
                self._reread(tmp, digests, stream.name)
            elif size != digests.size or not hmac.compare_digest(in_memory_b3, digests.blake3):
                raise IntegrityError(
                    f"{stream.name}: the bytes written differ from the digests of the read",
                    hint="check the station's memory; the file will be retried",
                )
            key = object_key(digests)
            with self._commit_lock():
                existing = self._existing(key)
                if existing is not None:
                    if existing.size != digests.size or not hmac.compare_digest(
                        existing.sha256, digests.sha256
                    ):
                        raise ObjectConflict(
                            f"local store: {key} already holds different bytes "
                            f"(sha256 {existing.sha256}, new {digests.sha256})",
                            hint="the stored object may be corrupt or tampered with; run a fixity "
                            "check and inspect it; nothing was overwritten",
                        )
                    info = existing
                    if retain_until > existing.retain_until:
                        info = self._write_meta(key, existing, retain_until=retain_until)
                    if legal_hold and not existing.legal_hold:
                        info = self._write_meta(key, info, legal_hold=True)
                    return StoredObject(key=key, digests=digests, info=info, existed=True)
                info = ObjectInfo(
                    key=key,
                    size=digests.size,
                    sha256=digests.sha256,  # stands for these bytes: their BLAKE3 matched
                    blake3=digests.blake3,
                    retain_until=retain_until.astimezone(UTC),
                    legal_hold=legal_hold,
                    lock_mode="LOCAL",
                )
                self._commit(tmp, key, info, metadata or {}, durable)
                return StoredObject(key=key, digests=digests, info=info)
        except SourceError:
            raise  # the device failed while its stream was written: not the store's fault
        except OSError as exc:
            raise self._os_error(f"writing {stream.name}", exc) from exc
        finally:
            self._discard(tmp)

    def _write_temp(self, tmp: Path, stream: HashingReader,
                    durable: bool = True) -> tuple[int, str | None]:
        """Write the stream to ``tmp`` and fsync it.  Without a re-read from disk the store
        still hashes what it wrote (BLAKE3, in memory), so a stream whose digests do not
        match its bytes is caught either way."""
        hasher = None if self.verify_after_write else blake3.blake3(max_threads=1)
        size = 0
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        try:
            while chunk := stream.read():
                view = memoryview(chunk)
                while view:
                    n = os.write(fd, view)
                    view = view[n:]
                if hasher is not None:
                    hasher.update(chunk)
                size += len(chunk)
            if durable:
                os.fsync(fd)
        finally:
            os.close(fd)
        return size, hasher.hexdigest() if hasher is not None else None

    @staticmethod
    def _reread(path: Path, digests, name: str) -> None:
        """Hash what reached the disk.  BLAKE3 (several times faster than SHA-256) is enough:
        the same BLAKE3 means the same bytes, so the SHA-256 of the write stands for them."""
        hasher = blake3.blake3(max_threads=1)
        size = 0
        with open(path, "rb", buffering=0) as fh:
            while data := fh.read(1 << 20):
                hasher.update(data)
                size += len(data)
        if size != digests.size or not hmac.compare_digest(hasher.hexdigest(), digests.blake3):
            raise IntegrityError(
                f"{name}: the file on the store's disk differs from the bytes read "
                f"(size {size} vs {digests.size})",
                hint="check the station's disk; the file will be retried",
            )

    def _commit(self, tmp: Path, key: str, info: ObjectInfo, metadata: dict[str, str],
                durable: bool = True) -> None:
        data = self._data_path(key)
        created = []
        parent = data.parent
        while not parent.exists():
            created.append(parent)
            parent = parent.parent
        data.parent.mkdir(parents=True, exist_ok=True)
        meta = self._meta_path(data)
        meta_tmp = tmp.with_suffix(".json")
        self._dump_meta(meta_tmp, info, metadata, durable=durable)
        if meta.exists():  # orphan from a crash between the two links: no data, not evidence
            self._discard(meta)
        os.link(meta_tmp, meta)
        try:
            os.chmod(tmp, 0o440)  # read-only, and never world-readable: evidence
            os.link(tmp, data)  # EEXIST here means a concurrent writer: never overwrite
        finally:
            # kept until the data has its name: a crash between the two links leaves it in
            # .incoming, where recover() reads which metadata to remove
            self._discard(meta_tmp)
        # the new names are made durable; the temporary name in .incoming need not be (its
        # removal, or recover() after a crash, only ever drops it)
        if durable:
            for directory in [data.parent, *created[::-1]]:
                _fsync_dir(directory)

    def _dump_meta(self, path: Path, info: ObjectInfo, metadata: dict[str, str], *,
                   kind: str = "evidock.local-object/1", durable: bool = True) -> None:
        doc = {
            "format": kind,
            "key": info.key,
            "size": info.size,
            "sha256": info.sha256,
            "blake3": info.blake3,
            "retain_until": _iso(info.retain_until),
            "legal_hold": info.legal_hold,
            "metadata": metadata,
        }
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o440)
        try:
            os.write(fd, json.dumps(doc, sort_keys=True, indent=1).encode())
            if durable:
                os.fsync(fd)
        finally:
            os.close(fd)

    def _write_meta(
        self,
        key: str,
        info: ObjectInfo,
        *,
        retain_until: datetime | None = None,
        legal_hold: bool | None = None,
    ) -> ObjectInfo:
        meta = self._meta_path(self._data_path(key))
        old = json.loads(meta.read_text())
        new = ObjectInfo(
            key=key,
            size=info.size,
            sha256=info.sha256,
            blake3=info.blake3,
            retain_until=retain_until or info.retain_until,
            legal_hold=info.legal_hold if legal_hold is None else legal_hold,
            lock_mode="LOCAL",
        )
        tmp = self._temp(".json")
        self._dump_meta(tmp, new, old.get("metadata", {}))
        os.replace(tmp, meta)
        _fsync_dir(meta.parent)
        return new

    def _existing(self, key: str) -> ObjectInfo | None:
        try:
            return self.stat(key)
        except ObjectMissing:
            return None

    def sync(self) -> None:
        """Make every put durable that returned (``durable=False`` ones): one ``syncfs`` of
        the store's file system writes their data, metadata files and names in one journal
        commit, where each put alone would cost three fsyncs."""
        fd = os.open(self.root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            if _LIBC is None or _LIBC.syncfs(fd) != 0:
                os.sync()  # no syncfs here (or it failed): the whole machine, still correct
        finally:
            os.close(fd)

    # -- reading and lock management ---------------------------------------------------------

    def stat(self, key: str, *, version_id: str | None = None) -> ObjectInfo:
        data = self._data_path(key)
        try:
            size = data.stat().st_size
            doc = json.loads(self._meta_path(data).read_text())
        except FileNotFoundError as exc:
            raise ObjectMissing(f"local store: no object {key}") from exc
        except (OSError, ValueError) as exc:
            raise StoreError(f"local store: cannot read the metadata of {key}: {exc}") from exc
        return ObjectInfo(
            key=key,
            size=size,  # measured on disk, so a truncated file shows up as a size mismatch
            sha256=doc["sha256"],
            blake3=doc.get("blake3"),
            retain_until=datetime.fromisoformat(doc["retain_until"]),
            legal_hold=bool(doc["legal_hold"]),
            lock_mode="LOCAL",
            metadata=dict(doc.get("metadata") or {}),
        )

    def local_path(self, key: str) -> Path | None:
        """The stored file itself, read-only, for tools that need a path (ffprobe)."""
        path = self._data_path(key)
        return path if path.exists() else None

    def open(self, key: str, *, version_id: str | None = None, offset: int = 0,
             length: int | None = None) -> BinaryIO:
        try:
            f = open(self._data_path(key), "rb")
        except FileNotFoundError as exc:
            raise ObjectMissing(f"local store: no object {key}") from exc
        f.seek(offset)
        return f if length is None else Span(f, length)

    def extend_retention(self, key: str, retain_until: datetime, *,
                         version_id: str | None = None) -> ObjectInfo:
        with self._commit_lock():
            info = self.stat(key)
            if retain_until < info.retain_until:
                raise RetentionError(
                    f"local store: refusing to shorten the retention of {key} from "
                    f"{_iso(info.retain_until)} to {_iso(retain_until)}",
                    hint="retention can only be extended",
                )
            if retain_until == info.retain_until:
                return info
            return self._write_meta(key, info, retain_until=retain_until)

    def set_legal_hold(self, key: str, on: bool, *,
                       version_id: str | None = None) -> ObjectInfo:
        with self._commit_lock():
            info = self.stat(key)
            if info.legal_hold == on:
                return info
            return self._write_meta(key, info, legal_hold=on)

    #: walk every folder for metadata without data at each recovery: only where removals
    #: leave such orphans with no trace (the spool's release); a put leaves its trace in
    #: .incoming, so a store of hundreds of thousands of recordings starts without a walk
    sweeps_orphans = False

    def recover(self) -> int:
        """Remove what interrupted puts left: temporary files of processes that are gone (a
        live one's upload in flight is left alone) and metadata whose data never arrived
        (named by the put's metadata file left in .incoming).  Metadata without data is
        never read as an object (``list_objects``, ``stat``), and a put of its key replaces
        it, so one left by a version that kept no trace is harmless."""
        leftovers = 0
        with self._commit_lock():
            for entry in self._incoming.iterdir():
                owner = entry.name.split("-", 1)[0] if "-" in entry.name else ""
                if self._owner_alive(owner):
                    continue
                if entry.suffix == ".json":
                    leftovers += self._orphan_of(entry)
                if self._discard(entry):
                    leftovers += 1
            for lock in self._owners.glob("*.lock") if self._owners.exists() else ():
                if not self._owner_alive(lock.name.removesuffix(".lock")):
                    self._discard(lock)  # an owner that is gone: nothing of it is left
            if self.sweeps_orphans:
                for top in (self.root / "media", self.root / RECORD_PREFIX):
                    for meta in top.rglob("*.json") if top.exists() else ():
                        if not meta.with_suffix("").exists() and self._discard(meta):
                            leftovers += 1
        return leftovers

    def _orphan_of(self, meta_tmp: Path) -> int:
        """Remove the metadata that an interrupted put's ``meta_tmp`` names, if its data
        never arrived; 1 if it did."""
        try:
            key = json.loads(meta_tmp.read_text())["key"]
            meta = self._meta_path(self._data_path(key))
        except (OSError, ValueError, KeyError, TypeError, ObjectMissing):
            return 0  # written only in part: the put never got as far as the metadata
        if not meta.exists() or meta.with_suffix("").exists():
            return 0  # never linked, or the put got as far as its data
        return 1 if self._discard(meta) else 0

    def _discard(self, path: Path) -> bool:
        """Remove temporary data, the only thing this store ever removes: a file in
        ``.incoming`` or ``.owners``, or a metadata file whose data never arrived.  Anything
        else is refused (``StoreError``): a stored recording is never removed here (only the
        spool's ``release`` removes a copy, once the final store holds a verified one)."""
        orphan_meta = path.suffix == ".json" and not path.with_suffix("").exists()
        if path.parent not in (self._incoming, self._owners) and not orphan_meta:
            raise StoreError(f"local store: refusing to remove {path}: not temporary data")
        try:
            path.unlink()
        except FileNotFoundError:
            return False
        return True

    def check(self) -> list[str]:
        problems = []
        if not os.access(self.root, os.W_OK):
            problems.append(f"local store {self.root} is not writable by this user")
        stats = os.statvfs(self.root)
        free = stats.f_bavail * stats.f_frsize
        if free < 1 << 30:
            problems.append(
                f"local store {self.root} has {free >> 20} MiB free: add space before "
                "recordings cannot be handed over"
            )
        return problems

    def _os_error(self, doing: str, exc: OSError) -> StoreError:
        if exc.errno in _NOSPACE:
            return StoreUnavailable(
                f"local store {self.root}: {doing}: {exc.strerror}",
                hint="free space on the store's disk or fix it; the file stays queued",
            )
        if exc.errno == errno.EEXIST:
            return StoreError(f"local store {self.root}: {doing}: a concurrent put won the key")
        return StoreError(f"local store {self.root}: {doing}: {exc}")
