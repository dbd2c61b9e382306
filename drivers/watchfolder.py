"""Watch folders: recorders or a network share drop files as ``<folder>/<serial>/...``.

A file is handed to the pipeline only once it is stable: its size and mtime unchanged for
``settle_seconds``, so a recording still being copied in is never taken half-written.
watchdog's events only wake the poller early; a periodic full rescan catches what a network
file system never reported.  Files already there at start-up are found by the first scan.
Nothing here ever writes to, moves or deletes a source file.

Names are bytes on disk: a folder or file name that is not valid UTF-8 (GB18030 from a
Windows share) is kept as the ``str`` with surrogate escapes Python gives, which opens the
file, and shown as ``\\xNN`` (:func:`~evidock.drivers.safefs.printable`) wherever it becomes
text: the device serial, logs, the ledger.  The poller's top catches, logs and goes on, and a
file the pipeline could not take (the ledger's disk full) is offered again at the next scan:
no file is lost because one delivery failed.
"""

from __future__ import annotations

import fnmatch
import os
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import structlog
from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer

from evidock.daemon.errors import SourceVanished
from evidock.drivers.base import DeviceIdentity, IngestSink, MediaItem, media_kind
from evidock.drivers.profiles import GENERIC, Profile
from evidock.drivers.safefs import printable, walk_regular
from evidock.drivers.volume import file_flags

log = structlog.get_logger("evidock.drivers.watch")

#: Hidden files and the names downloaders and copy tools give partial files.
DEFAULT_IGNORE = (".*", "*.part", "*.tmp", "*.crdownload", "~*")


#: Events that mean a file appeared or changed; opens and reads (ours too) are not among them.
#: "attrib" is a new mtime without a write (``touch``, a copy tool setting times): a new
#: version of the file all the same, which must be taken rather than waiting for a rescan.
_CHANGES = {"created", "modified", "moved", "closed", "attrib"}


class _Wake(FileSystemEventHandler):
    def __init__(self, driver: WatchFolderDriver) -> None:
        self.driver = driver

    def on_any_event(self, event: FileSystemEvent) -> None:
        if not event.is_directory and event.event_type in _CHANGES:
            self.driver.wake()


class WatchFolderDriver:
    name = "watch"

    def __init__(self, folders: list[Path], *, settle_seconds: float = 5.0,
                 rescan_seconds: float = 60.0, ignore: list[str] | None = None,
                 profile: Profile = GENERIC, clock=None) -> None:
        self.folders = [Path(f) for f in folders]
        #: how file names give the recording start time ([watch] profile); the same flags as
        #: a USB dock: future or pre-2010 times, a name that disagrees with the mtime, empty
        self.profile = profile
        self.clock = clock or (lambda: datetime.now(UTC))
        self.settle = settle_seconds
        self.rescan = rescan_seconds
        self.ignore = list(DEFAULT_IGNORE if ignore is None else ignore)
        self._sink: IngestSink | None = None
        self._observer = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._wake = threading.Event()
        # (folder, serial, relpath) -> (size, mtime_ns, monotonic time first seen so)
        self._pending: dict[tuple[str, str, str], tuple[int, int, float]] = {}
        self._taken: dict[tuple[str, str, str], tuple[int, int]] = {}
        self._devices: dict[tuple[str, str], int] = {}
        self._scanned = False
        self._refused: set[tuple[str, str, str]] = set()
        self._delivering = 0  # settled files taken from _pending, not yet in the pipeline
        self._lock = threading.Lock()

    def _skip(self, name: str) -> bool:
        return any(fnmatch.fnmatchcase(name, pattern) for pattern in self.ignore)

    # -- Driver ------------------------------------------------------------------------------

    def start(self, sink: IngestSink) -> None:
        self._sink = sink
        for folder in self.folders:
            if not folder.is_dir():
                log.warning("watch_folder_missing", folder=str(folder),
                            hint="create it or remove it from [watch] folders")
        observer = Observer()
        for folder in self.folders:
            if folder.is_dir():
                observer.schedule(_Wake(self), str(folder), recursive=True)
        observer.daemon = True
        observer.start()
        self._observer = observer
        self._thread = threading.Thread(target=self._loop, name="watch-folders", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._observer is not None:
            self._observer.stop()
            self._observer.join(5)
        if self._thread is not None:
            self._thread.join(5)

    def idle(self) -> bool:
        with self._lock:
            return self._scanned and not self._pending and not self._delivering

    def alive(self) -> bool:
        return self._thread is None or self._thread.is_alive() or self._stop.is_set()

    def wake(self) -> None:
        self._wake.set()

    # -- the poller --------------------------------------------------------------------------

    def _loop(self) -> None:
        next_scan = 0.0
        while not self._stop.is_set():
            now = time.monotonic()
            try:
                if now >= next_scan:
                    next_scan = now + self.rescan
                    self._scan_all()
                if not self._settle():
                    next_scan = min(next_scan, now + self._retry_seconds())
            except Exception as exc:  # noqa: BLE001 - top of the thread: log and go on
                log.exception("watch_loop_failed", error=str(exc))
                next_scan = min(next_scan, now + self._retry_seconds())
                self._stop.wait(1.0)
            with self._lock:
                waiting = bool(self._pending)
            # poll pending files often enough to notice settling, otherwise sleep until woken
            poll = min(max(self.settle / 4, 0.2), 1.0) if waiting else self.rescan
            self._wake.wait(min(poll, max(next_scan - time.monotonic(), 0.05)))
            if self._wake.is_set() and not self._stop.is_set():
                self._wake.clear()
                next_scan = 0.0  # something changed: look now

    def _scan_all(self) -> None:
        for folder in self.folders:
            try:
                serials = sorted(os.listdir(folder))
            except OSError:
                continue
            for serial in serials:
                path = folder / serial
                if self._skip(serial):
                    self._skipped(folder, serial, "hidden or partial name (watch.ignore)")
                    continue
                if path.is_symlink():
                    # never followed (it could point at a camera's mount, or anywhere): say so
                    # in the ledger, where a device folder that is never read must show
                    if self._skipped(folder, serial, "a symlink: device folders are never "
                                     "followed; put the files in a real folder"):
                        self._sink.source_problem(self._identity(serial), f"watch:{folder}",
                                                  "", "device folder is a symlink: not followed",
                                                  lost=False)
                    continue
                if not path.is_dir():
                    if path.is_file():
                        log.warning("file_outside_device_folder", file=printable(str(path)),
                                    hint="put files under <folder>/<device serial>/")
                    continue
                self._scan_device(folder, serial)
        with self._lock:
            first = not self._scanned
            self._scanned = True
        if first:
            log.info("watch_scan_finished", folders=[str(f) for f in self.folders])

    def _scan_device(self, folder: Path, serial: str) -> None:
        errors: list = []
        now = time.monotonic()
        try:
            entries = list(walk_regular(str(folder / serial), skip=self._skip, errors=errors))
        except SourceVanished:
            return
        key_dev = (str(folder), serial)
        with self._lock:
            for entry in entries:
                key = (str(folder), serial, entry.relpath)
                if self._taken.get(key) == (entry.size, entry.mtime_ns):
                    continue
                old = self._pending.get(key)
                if old is None or old[:2] != (entry.size, entry.mtime_ns):
                    self._pending[key] = (entry.size, entry.mtime_ns, now)
            first = key_dev not in self._devices
            self._devices[key_dev] = len(entries)
        if first:
            try:
                self._sink.device_docked(self._identity(serial), port=f"watch:{folder}")
            except Exception:
                with self._lock:  # told again at the next scan
                    self._devices.pop(key_dev, None)
                raise
        for rel, reason in errors:  # symlinks, FIFOs, device nodes, unreadable entries
            if (str(folder), serial, rel) in self._refused:  # once, not at every rescan
                continue
            log.warning("file_not_taken", device_serial=printable(serial),
                        file=printable(rel), reason=reason)
            # a ledger event: what was in the folder and not taken is part of the record
            self._sink.source_problem(self._identity(serial), f"watch:{folder}", rel, reason,
                                      lost=False)
            self._refused.add((str(folder), serial, rel))  # only once it is recorded

    def _skipped(self, folder: Path, name: str, reason: str) -> bool:
        """Log a skipped device folder once (not at every rescan); True the first time."""
        key = (str(folder), name, "")
        if key in self._refused:
            return False
        self._refused.add(key)
        log.info("watch_entry_skipped", folder=str(folder), file=printable(name), reason=reason)
        return True

    def _retry_seconds(self) -> float:
        return min(max(self.settle, 1.0), self.rescan)

    def _settle(self) -> bool:
        """Hand settled files to the pipeline; False if one could not be handed over (it is
        offered again at the next scan)."""
        now = time.monotonic()
        delivered = True
        ready = []
        with self._lock:
            for key, (size, mtime_ns, since) in list(self._pending.items()):
                folder, serial, rel = key
                try:
                    st = os.stat(os.path.join(folder, serial, rel), follow_symlinks=False)
                except OSError:
                    del self._pending[key]  # gone before it settled: nothing to take
                    continue
                if (st.st_size, st.st_mtime_ns) != (size, mtime_ns):
                    self._pending[key] = (st.st_size, st.st_mtime_ns, now)
                elif now - since >= self.settle:
                    del self._pending[key]
                    self._taken[key] = (size, mtime_ns)
                    ready.append((folder, serial, rel, size, mtime_ns))
                    self._delivering += 1
            done_devices = [
                k for k in self._devices
                if not any(p[0] == k[0] and p[1] == k[1] for p in self._pending)
            ]
        for folder, serial, rel, size, mtime_ns in ready:
            try:
                self._sink.media_found(self._item(folder, serial, rel, size, mtime_ns))
            except Exception as exc:  # noqa: BLE001 - not taken now: offered again later
                delivered = False
                with self._lock:
                    self._taken.pop((folder, serial, rel), None)
                log.error("media_delivery_failed", device_serial=printable(serial),
                          file=printable(rel), error=f"{type(exc).__name__}: {exc}",
                          hint="offered again at the next scan")
            finally:
                with self._lock:
                    self._delivering -= 1
        for folder, serial in done_devices:
            if ready and any(r[0] == folder and r[1] == serial for r in ready):
                self._sink.scan_finished(self._identity(serial), f"watch:{folder}",
                                         self._devices[(folder, serial)])
        return delivered

    def _item(self, folder: str, serial: str, rel: str, size: int, mtime_ns: int) -> MediaItem:
        mtime = datetime.fromtimestamp(mtime_ns / 1e9, UTC)
        named = self.profile.recordings.time_from_name(rel)
        flags = file_flags(named, mtime, size, self.clock(), against_mtime=True)
        if _undecodable(serial, rel):
            flags.append("undecodable_name")
        return MediaItem(device=self._identity(serial), root=os.path.join(folder, serial),
                         relpath=rel, size=size, mtime_ns=mtime_ns, kind=media_kind(rel),
                         recorded_at=named or mtime, flags=tuple(flags), changes_in_place=True)

    @staticmethod
    def _identity(serial: str) -> DeviceIdentity:
        """The folder's name is the serial; as text, undecodable bytes shown as ``\\xNN``."""
        return DeviceIdentity(serial=printable(serial), source="watch")


def _undecodable(*names: str) -> bool:
    return any(printable(n) != n for n in names)
