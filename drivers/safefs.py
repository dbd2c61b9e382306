"""Opening and listing files on an untrusted device without ever leaving its root.

Every path component is opened relative to its parent's file descriptor with
``O_NOFOLLOW``, so a symlink anywhere in the path, ``..``, or an absolute name is refused
instead of followed.  Only regular files are opened for reading (a FIFO or device node would
block or read something that is not a recording).

A file opened here is a :class:`SourceFile`: its reads and ``fstat`` turn an ``OSError``
into the right :class:`~evidock.daemon.errors.SourceError` where it happens
(:func:`evidock.daemon.errors.source_error`), so a device that vanishes while a store pulls
the stream reaches the pipeline as a source error, whatever code sits in between.
"""

from __future__ import annotations

import io
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from evidock.daemon.errors import (
    VANISHED_ERRNOS,
    SourceMissing,
    SourceVanished,
    UnsafeSource,
    source_error,
)

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_FILE_FLAGS = (os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
               | getattr(os, "O_NOATIME", 0))
_GONE = VANISHED_ERRNOS | {2}  # and ENOENT


def printable(name: str) -> str:
    """A name as text for people, logs and the ledger: bytes that are not UTF-8 (a GB18030
    name from a Windows share) shown as ``\\xNN``; the ``str`` with surrogate escapes that
    Python gives still opens the file (``os.fsencode`` gives back the original bytes)."""
    return os.fsencode(name).decode("utf-8", "backslashreplace")


class SourceFile(io.RawIOBase):
    """A device file whose failures are source errors: the wrapper ``MediaItem.open()`` and
    :func:`open_regular` return.  Reading never seeks.  ``close`` never raises: the file is
    read-only, so a close that fails (ENOTCONN from a dead FUSE server) loses nothing."""

    def __init__(self, raw: BinaryIO, name: str) -> None:
        super().__init__()
        self._raw = raw
        self.name = printable(name)  # for messages and the ledger

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int | None:
        try:
            return self._raw.readinto(buffer)
        except OSError as exc:
            raise source_error(self.name, exc) from exc

    def read(self, size: int = -1) -> bytes:
        try:
            return self._raw.read(size)
        except OSError as exc:
            raise source_error(self.name, exc) from exc

    def readall(self) -> bytes:
        return self.read(-1)

    def fileno(self) -> int:
        return self._raw.fileno()

    def fstat(self) -> os.stat_result:
        try:
            return os.fstat(self._raw.fileno())
        except OSError as exc:
            raise source_error(self.name, exc) from exc

    def close(self) -> None:
        if self.closed:
            return
        super().close()
        try:
            self._raw.close()
        except OSError:
            pass  # read-only: nothing is lost, and a read already reported a dead device


def _components(relpath: str) -> list[str]:
    parts = relpath.split("/")
    if relpath.startswith("/") or any(p in ("", ".", "..") for p in parts):
        raise UnsafeSource(
            f"refusing path {relpath!r}: not a plain relative path inside the device")
    return parts


def _open_nofollow(name: str, flags: int, dir_fd: int) -> int:
    try:
        return os.open(name, flags, dir_fd=dir_fd)
    except OSError as exc:
        if flags & os.O_NOATIME and exc.errno == 1:  # EPERM: not the owner; atime is harmless
            return os.open(name, flags & ~os.O_NOATIME, dir_fd=dir_fd)
        raise


def open_regular(root: str, relpath: str) -> SourceFile:
    """Open ``root/relpath`` for reading, refusing symlinks and anything but a regular file."""
    parts = _components(relpath)
    try:
        fd = os.open(root, _DIR_FLAGS)
    except OSError as exc:
        raise SourceVanished(f"device root {root} is gone: {exc.strerror}") from exc
    try:
        for part in parts[:-1]:
            try:
                nfd = _open_nofollow(part, _DIR_FLAGS, fd)
            except OSError as exc:
                raise _classify(relpath, exc) from exc
            os.close(fd)
            fd = nfd
        try:
            ffd = _open_nofollow(parts[-1], _FILE_FLAGS, fd)
        except OSError as exc:
            raise _classify(relpath, exc) from exc
    finally:
        os.close(fd)
    st = os.fstat(ffd)
    if not stat.S_ISREG(st.st_mode):
        os.close(ffd)
        raise UnsafeSource(f"{relpath}: not a regular file (mode {stat.filemode(st.st_mode)})")
    os.set_blocking(ffd, True)
    return SourceFile(os.fdopen(ffd, "rb", buffering=0), relpath)


def _classify(relpath: str, exc: OSError):
    if exc.errno in (40, 20):  # ELOOP (a symlink), ENOTDIR (a symlink or file as a directory)
        return UnsafeSource(f"{relpath}: a symlink or non-directory in the path; not followed")
    if exc.errno == 2:  # ENOENT: the device answers, the file is gone
        return SourceMissing(f"{relpath}: {exc.strerror}",
                             hint="it was moved or deleted after it was found")
    if exc.errno in _GONE:
        return SourceVanished(f"{relpath}: {exc.strerror}", hint="the device may have been removed")
    return UnsafeSource(f"{relpath}: cannot open: {exc.strerror}")


@dataclass(frozen=True)
class Entry:
    relpath: str
    size: int
    mtime_ns: int


def walk_regular(root: str, *, skip=lambda name: False,
                 errors: list | None = None) -> Iterator[Entry]:
    """Every regular file under ``root``; symlinks, devices and FIFOs are skipped (and noted
    in ``errors`` as ``(relpath, reason)``), directories are descended without following links."""

    def scan(fd: int, prefix: str) -> Iterator[Entry]:
        try:
            names = sorted(os.listdir(fd))
        except OSError as exc:
            if errors is not None:
                errors.append((prefix or ".", exc.strerror))
            if exc.errno in _GONE:
                raise SourceVanished(f"{root}/{prefix}: {exc.strerror}") from exc
            return
        for name in names:
            if skip(name):
                continue
            rel = f"{prefix}{name}"
            try:
                st = os.stat(name, dir_fd=fd, follow_symlinks=False)
            except OSError as exc:
                if errors is not None:
                    errors.append((rel, exc.strerror))
                if exc.errno in _GONE - {2}:
                    raise SourceVanished(f"{root}/{rel}: {exc.strerror}") from exc
                continue
            if stat.S_ISDIR(st.st_mode):
                try:
                    sub = os.open(name, _DIR_FLAGS, dir_fd=fd)
                except OSError as exc:
                    if errors is not None:
                        errors.append((rel, exc.strerror))
                    continue
                try:
                    yield from scan(sub, rel + "/")
                finally:
                    os.close(sub)
            elif stat.S_ISREG(st.st_mode):
                yield Entry(rel, st.st_size, st.st_mtime_ns)
            elif errors is not None:
                errors.append((rel, f"not a regular file ({stat.filemode(st.st_mode)}); skipped"))

    try:
        top = os.open(root, _DIR_FLAGS)
    except OSError as exc:
        raise SourceVanished(f"device root {root}: {exc.strerror}") from exc
    try:
        yield from scan(top, "")
    finally:
        os.close(top)
