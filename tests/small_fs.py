"""A small real file system for "disk full" tests: a tmpfs mounted for one test, filled up
with one file and emptied by removing it.  Needs root (the CI runs as root, like the dock
tests); unmounted at the end even when the test fails."""

from __future__ import annotations

import contextlib
import os
import subprocess
from pathlib import Path


@contextlib.contextmanager
def small_fs(path: Path, size: str = "4m"):
    path.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
                   check=True)
    try:
        yield SmallFs(path)
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


class SmallFs:
    def __init__(self, root: Path) -> None:
        self.root = root

    def fill(self) -> None:
        """Take every free byte."""
        for n, block in enumerate((1 << 16, 1 << 10, 1)):  # to the last byte
            with open(self.root / f".filler-{n}", "ab", buffering=0) as f:
                try:
                    while f.write(b"\0" * block):
                        pass
                except OSError:
                    pass

    def free(self) -> None:
        for p in self.root.glob(".filler*"):
            os.unlink(p)
