"""An IngestSink for driver tests: it records every call and, like the pipeline, reads each
recording it is given once (hashing it), so a test sees what a real ingest would get."""

from __future__ import annotations

import threading

from evidock.daemon.errors import SourceError
from evidock.daemon.hashing import HashingReader


class RecordingSink:
    def __init__(self, read: bool = True) -> None:
        self.read = read
        self.calls: list[tuple] = []
        self.digests: dict[str, str] = {}  # relpath -> sha256
        self.failed: dict[str, str] = {}
        self.problems: list[tuple[str, str]] = []
        self.items = []
        self.finished = threading.Event()
        self.undocked = threading.Event()
        self.before_read = None  # hook(item) for failure tests

    def device_docked(self, device, port):
        self.calls.append(("docked", device.serial, port))

    def media_found(self, item):
        self.items.append(item)
        if not self.read:
            return
        try:
            if self.before_read:
                self.before_read(item)
            with item.open() as raw:
                reader = HashingReader(raw, item.size, name=item.relpath)
                for _ in reader.chunks():
                    pass
            self.digests[item.relpath] = reader.digests().sha256
        except SourceError as exc:
            self.failed[item.relpath] = type(exc).__name__

    def source_problem(self, device, port, relpath, reason, *, lost):
        self.problems.append((relpath, reason, lost))

    def scan_finished(self, device, port, total):
        self.calls.append(("scanned", device.serial, total))
        self.finished.set()

    def device_undocked(self, device, port):
        self.calls.append(("undocked", device.serial, port))
        self.undocked.set()
