"""A small real file system for the "disk full" cases: a size-limited tmpfs.

``small_fs(size)`` mounts one under the test's tmp folder (root only; elsewhere the case is
skipped, and in CI that skip is a failure); ``fill()`` writes a filler file until the kernel
says ENOSPC, ``free()`` removes it, as an operator freeing space would.  Every mount is
unmounted when the test ends, lazily if a process still holds it.
"""

from __future__ import annotations

import errno
import os
import subprocess
from pathlib import Path

import pytest


class SmallFs:
    def __init__(self, path: Path, size_mib: int) -> None:
        self.path = path
        self.size_mib = size_mib
        self.filler = path / ".filler"

    def fill(self) -> None:
        """Fill the file system to its last byte."""
        fd = os.open(self.filler, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            for block in (1 << 20, 64 << 10, 4 << 10, 512, 1):
                while True:
                    try:
                        os.write(fd, b"\0" * block)
                    except OSError as exc:
                        if exc.errno != errno.ENOSPC:
                            raise
                        break
        finally:
            os.close(fd)

    def free(self) -> None:
        self.filler.unlink(missing_ok=True)


def _mount_tmpfs(path: Path, size_mib: int) -> None:
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_mib}m,mode=0755",
                           "evidock-faults", str(path)], capture_output=True, text=True,
                          timeout=30, check=False)
    if proc.returncode != 0:
        reason = f"cannot mount a small tmpfs: {proc.stderr.strip() or proc.returncode}"
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(reason)
        pytest.skip(reason)


@pytest.fixture
def small_fs(tmp_path):
    """Factory: ``small_fs(size_mib, name)`` -> a mounted :class:`SmallFs`."""
    mounted: list[Path] = []

    def make(size_mib: int, name: str = "small") -> SmallFs:
        if os.geteuid() != 0:
            reason = "the disk-full cases mount a tmpfs: run them as root"
            if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
                pytest.fail(reason)
            pytest.skip(reason)
        path = tmp_path / name
        path.mkdir()
        _mount_tmpfs(path, size_mib)
        mounted.append(path)
        return SmallFs(path, size_mib)

    yield make
    for path in reversed(mounted):
        proc = subprocess.run(["umount", str(path)], capture_output=True, timeout=30,
                              check=False)
        if proc.returncode != 0:
            subprocess.run(["umount", "-l", str(path)], capture_output=True, timeout=30,
                           check=False)
