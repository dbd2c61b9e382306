"""Mounting a docked volume read-only, by calling mount(8) directly.

Every mount is ``ro,nosuid,nodev,noexec,noatime`` in a private (0700) folder under the data
directory; ext file systems add ``noload`` so a dirty journal is not replayed (a replay writes
to the device even on a read-only mount).  The block device itself is marked read-only
(``BLKROSET``) before mounting, so no code path below us can write to it either.
"""

from __future__ import annotations

import fcntl
import os
import re
import struct
import subprocess
from pathlib import Path

import structlog

from evidock.daemon.errors import MountFailed

log = structlog.get_logger(__name__)

BLKROSET = 0x125D
BASE_OPTIONS = ("ro", "nosuid", "nodev", "noexec", "noatime")
_FS_OPTIONS = {
    "vfat": ("utf8", "shortname=mixed"),
    "ext4": ("noload",), "ext3": ("noload",), "ext2": (),
    "exfat": (), "ntfs": (), "ntfs3": (),
}


def mount_type(fs_type: str) -> str:
    """The ``-t`` argument: NTFS goes to the kernel's ntfs3 when present, else ntfs-3g."""
    if fs_type in ("ntfs", "ntfs3"):
        with open("/proc/filesystems", encoding="ascii") as f:
            return "ntfs3" if re.search(r"\bntfs3\b", f.read()) else "ntfs-3g"
    return fs_type


def mount_command(devname: str, fs_type: str, target: Path, *, rw: bool = False) -> list[str]:
    opts = [o for o in BASE_OPTIONS if not (rw and o == "ro")] + list(_FS_OPTIONS.get(fs_type, ()))
    if rw:
        opts = ["rw"] + [o for o in opts if o != "noload"]
    return ["mount", "-t", mount_type(fs_type), "-o", ",".join(opts), devname, str(target)]


def set_block_readonly(devname: str, readonly: bool = True) -> None:
    """Mark the block device read-only in the kernel; a device that is gone is fine."""
    try:
        fd = os.open(devname, os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK)
    except OSError as exc:
        log.warning("block_readonly_failed", devname=devname, error=exc.strerror)
        return
    try:
        fcntl.ioctl(fd, BLKROSET, struct.pack("i", 1 if readonly else 0))
    except OSError as exc:
        log.warning("block_readonly_failed", devname=devname, error=exc.strerror)
    finally:
        os.close(fd)


def _run(cmd: list[str], timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)


def is_mounted(target: Path) -> bool:
    target_s = os.fsencode(os.path.realpath(target))
    with open("/proc/self/mounts", "rb") as f:
        return any(line.split()[1].replace(b"\\040", b" ") == target_s for line in f
                   if len(line.split()) > 1)


class Mounter:
    """Mount points live in ``base`` (created 0700); one folder per attached volume."""

    def __init__(self, base: Path) -> None:
        self.base = base

    def mount(self, devname: str, fs_type: str, name: str) -> Path:
        self.base.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(self.base, 0o700)
        target = self.base / re.sub(r"[^A-Za-z0-9._-]", "_", name)
        if is_mounted(target):
            self.unmount(target)
        target.mkdir(mode=0o700, exist_ok=True)
        set_block_readonly(devname)
        cmd = mount_command(devname, fs_type, target)
        proc = _run(cmd)
        if proc.returncode != 0:
            _rmdir(target)
            raise MountFailed(
                f"cannot mount {devname} ({fs_type}): {' '.join(cmd)} said: "
                f"{proc.stderr.strip() or proc.returncode}",
                hint=f"check that this machine can mount {fs_type} (kernel module or FUSE "
                     "helper; see the README's station set-up)")
        log.info("volume_mounted", devname=devname, fs=fs_type, mountpoint=str(target))
        return target

    def remount(self, target: Path, devname: str, fs_type: str, *, rw: bool) -> None:
        """Switch an existing mount between read-only and read-write (clear after handover)."""
        set_block_readonly(devname, not rw)
        proc = _run(["mount", "-o", "remount," + ("rw" if rw else "ro"), str(target)])
        if proc.returncode != 0:
            raise MountFailed(f"cannot remount {target} {'rw' if rw else 'ro'}: "
                              f"{proc.stderr.strip()}")

    def unmount(self, target: Path, *, lazy: bool = False) -> None:
        """Unmount (lazily when the device is gone: readers may still hold files) and remove
        the folder.  A mount that is already gone is fine."""
        if is_mounted(target):
            proc = _run(["umount", *(["-l"] if lazy else []), str(target)])
            if proc.returncode != 0 and not lazy:
                proc = _run(["umount", "-l", str(target)])
            if proc.returncode != 0:
                log.warning("volume_unmount_failed", mountpoint=str(target),
                            error=proc.stderr.strip())
                return
        _rmdir(target)
        log.info("volume_unmounted", mountpoint=str(target), lazy=lazy)

    def cleanup(self) -> int:
        """At start-up: unmount and remove what a crash left under ``base``."""
        if not self.base.is_dir():
            return 0
        left = list(self.base.iterdir())
        for target in left:
            self.unmount(target, lazy=True)
        return len(left)


def _rmdir(target: Path) -> None:
    try:
        target.rmdir()
    except OSError:
        pass
