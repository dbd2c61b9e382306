"""Clear after handover: delete from a device the recordings the ledger holds verified copies of.

Off unless the device's profile says ``clear_after_handover = true``.  A file is deleted only
when the ledger has a verified copy of exactly that file (same path, size and mtime) *and* the
bytes on the device, read again now, hash to the SHA-256 the ledger recorded.  Everything else
stays.  The volume is remounted read-write only for the deletions and read-only again after,
and nothing is followed: each folder is opened with ``O_NOFOLLOW`` below the mount.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import structlog

from evidock.daemon.errors import EvidockError, SourceError
from evidock.drivers.base import DeviceIdentity, MediaItem
from evidock.drivers.mounts import Mounter
from evidock.drivers.udev import DockEvent
from evidock.drivers.volume import DeviceFacts, scan

log = structlog.get_logger(__name__)

#: relpath, size, mtime -> the SHA-256 of the verified copy in the ledger, or None
VerifiedDigest = Callable[[MediaItem], "str | None"]

_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def clear_verified(mounter: Mounter, mountpoint: Path, event: DockEvent,
                   device: DeviceIdentity, verified: VerifiedDigest, now: datetime
                   ) -> list[str]:
    """Delete what is verified; returns the deleted relative paths."""
    if event.profile is None or not event.profile.clear_after_handover:
        return []
    root = str(mountpoint)
    candidates = []
    for item in scan(root, device, event.profile, DeviceFacts(), now, []):
        digest = verified(item)
        if digest is not None and _same_bytes(item, digest):
            candidates.append(item.relpath)
        else:
            log.info("clear_skipped", device_serial=device.serial, file=item.relpath,
                     reason="no verified copy of these bytes in the ledger")
    if not candidates:
        return []
    mounter.remount(mountpoint, event.devname, event.fs_type, rw=True)
    deleted = []
    try:
        for relpath in candidates:
            try:
                _unlink(root, relpath)
                deleted.append(relpath)
            except OSError as exc:
                log.warning("clear_failed", device_serial=device.serial, file=relpath,
                            error=exc.strerror)
    finally:
        try:
            os.sync()
            mounter.remount(mountpoint, event.devname, event.fs_type, rw=False)
        except EvidockError as exc:
            log.error("clear_remount_ro_failed", device_serial=device.serial, error=str(exc))
    log.info("device_cleared", device_serial=device.serial, deleted=len(deleted),
             kept=len(candidates) - len(deleted))
    return deleted


def _same_bytes(item: MediaItem, sha256: str) -> bool:
    h = hashlib.sha256()
    try:
        with item.open() as f:
            while chunk := f.read(1 << 20):
                h.update(chunk)
    except (SourceError, OSError):
        return False
    return hmac.compare_digest(h.hexdigest(), sha256)


def _unlink(root: str, relpath: str) -> None:
    *folders, name = relpath.split("/")
    fd = os.open(root, _DIR)
    try:
        for folder in folders:
            if folder in ("", ".", ".."):
                raise OSError(1, "refusing an unsafe path", relpath)
            nfd = os.open(folder, _DIR, dir_fd=fd)
            os.close(fd)
            fd = nfd
        os.unlink(name, dir_fd=fd)
    finally:
        os.close(fd)
