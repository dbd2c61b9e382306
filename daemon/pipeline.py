"""The ingest queue: earliest handover deadline first, one reader per device.

Drivers call the :class:`Pipeline` (it is their ``IngestSink``) from their own threads.
Worker threads take the waiting file with the earliest deadline whose device is not already
being read (USB is the bottleneck: two readers on one device only slow both), and retries
wait in the same queue until their time.  ``status()`` is what the station display shows.
"""

from __future__ import annotations

import heapq
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

import structlog

from evidock.daemon.ingest import Ingestor, Outcome, ShutdownRequested
from evidock.daemon.ledger import devices as registry
from evidock.daemon.ledger.records import STORED, VERIFIED, MediaRecord
from evidock.daemon.ledger.sqlite import SqliteLedger
from evidock.daemon.timeutil import Clock, parse, utcnow
from evidock.drivers.base import DeviceIdentity, MediaItem

log = structlog.get_logger("evidock.pipeline")


@dataclass
class DeviceProgress:
    serial: str
    officer_id: str | None = None
    port: str | None = None
    docked: bool = True
    scanned: bool = False
    files: set[int] = field(default_factory=set)
    done: set[int] = field(default_factory=set)
    failed: set[int] = field(default_factory=set)
    bytes_total: int = 0
    bytes_done: int = 0
    started: float = field(default_factory=time.monotonic)
    current: str | None = None
    registered: bool = True
    unreadable: int = 0  # files or folders that could not be read: recordings may be missed

    def snapshot(self) -> dict:
        elapsed = max(time.monotonic() - self.started, 1e-6)
        rate = self.bytes_done / elapsed
        remaining = max(self.bytes_total - self.bytes_done, 0)
        return {
            "serial": self.serial, "officer_id": self.officer_id, "port": self.port,
            "docked": self.docked, "scanned": self.scanned, "files_total": len(self.files),
            "files_done": len(self.done), "files_failed": len(self.failed),
            "bytes_total": self.bytes_total, "bytes_done": self.bytes_done,
            "rate_bps": round(rate), "eta_s": round(remaining / rate) if rate > 0 else None,
            "current": self.current, "registered": self.registered, "unreadable": self.unreadable,
            "safe_to_undock": (self.scanned and self.done == self.files and not self.failed
                               and not self.unreadable),
        }


class Pipeline:
    def __init__(self, ledger: SqliteLedger, ingestor: Ingestor, *, workers: int,
                 handover_hours: float, clock: Clock = utcnow,
                 adjust_deadline: Callable[[MediaRecord], MediaRecord] | None = None) -> None:
        self.ledger = ledger
        self.adjust_deadline = adjust_deadline  # duty exemptions (R2) move a new file's deadline
        self.ingestor = ingestor
        self.workers = workers
        self.handover_hours = handover_hours
        self.clock = clock
        self._cond = threading.Condition()
        self._ready: list[tuple[str, int]] = []  # heap of (deadline, media_id)
        self._waiting: list[tuple[datetime, int]] = []  # heap of (retry_at, media_id)
        self._items: dict[int, MediaItem] = {}
        self._busy_devices: set[str] = set()
        self._active = 0
        self._devices: dict[str, DeviceProgress] = {}
        self._stopping = False
        self._threads: list[threading.Thread] = []
        self.handed_over = 0
        self.quarantined: set[int] = set()

    # -- IngestSink --------------------------------------------------------------------------

    def device_docked(self, device: DeviceIdentity, port: str) -> None:
        record = self.ledger.ensure_device(
            device.serial, source=device.source, model=device.model, vendor=device.vendor,
            officer_id=device.officer_id, officer_name=device.officer_name, unit=device.unit)
        # the registry's assignment counts when the device itself does not say who carries it
        officer = device.officer_id or record.officer_id
        registry.record_dock(self.ledger, device.serial, port, {
            "officer_id": officer, "registered": record.registered, "source": device.source})
        with self._cond:
            prog = self._devices.get(device.serial)
            if prog is None or not prog.docked:
                self._devices[device.serial] = DeviceProgress(
                    device.serial, officer, port, registered=record.registered)
        log.info("device_docked", device_serial=device.serial, port=port)

    def media_found(self, item: MediaItem) -> None:
        device = item.device
        if device.serial not in self._devices:
            self.device_docked(device, port=item.root)
        media, created = self.ledger.register_media(
            device_serial=device.serial, source_path=item.relpath, size=item.size,
            mtime_ns=item.mtime_ns, kind=item.kind, recorded_at=item.recorded_at,
            handover_hours=self.handover_hours,
            officer_id=self._devices[device.serial].officer_id,
            clock_offset_s=item.clock_offset_s, flags=item.flags + (
                () if self._devices[device.serial].registered else ("unregistered_device",)))
        if created and self.adjust_deadline is not None:
            media = self.adjust_deadline(media)
        with self._cond:
            prog = self._devices[device.serial]
            if media.id not in prog.files:
                prog.files.add(media.id)
                prog.bytes_total += media.size
            if media.state == VERIFIED:
                if media.id not in prog.done:
                    prog.done.add(media.id)
                    prog.bytes_done += media.size
                return
            if media.id in self._items:
                self._items[media.id] = item  # docked again: read from the new mount
                return
            if media.id in self.quarantined:
                return
            if media.state == "failed" and media.retry_at is None:
                # given up on in an earlier run or dock: a new dock is a new chance (the
                # cause may be fixed); it is given up again after one failed attempt
                log.info("media_retried_after_redock", media_id=media.id,
                         device_serial=device.serial, last_error=media.last_error)
            self._items[media.id] = item
            self._schedule(media)
        if created:
            log.info("media_found", media_id=media.id, device_serial=device.serial,
                     file=media.source_path, size=media.size, deadline=media.deadline_at)

    def source_problem(self, device: DeviceIdentity, port: str, relpath: str, reason: str,
                       *, lost: bool) -> None:
        registry.record_unreadable(self.ledger, device.serial, port, relpath, reason)
        if lost:
            with self._cond:
                if device.serial in self._devices:
                    self._devices[device.serial].unreadable += 1

    def scan_finished(self, device: DeviceIdentity, port: str, total: int) -> None:
        with self._cond:
            if device.serial in self._devices:
                self._devices[device.serial].scanned = True
        log.info("device_scanned", device_serial=device.serial, files=total)

    def device_undocked(self, device: DeviceIdentity, port: str) -> None:
        """Files not yet read wait in the ledger until the device is docked again."""
        with self._cond:
            prog = self._devices.get(device.serial)
            if prog is not None:
                prog.docked = False
        registry.record_undock(self.ledger, device.serial, port)
        with self._cond:
            for media_id, item in list(self._items.items()):
                if item.device.serial == device.serial and not self._is_running(media_id):
                    del self._items[media_id]
            self._cond.notify_all()
        log.info("device_undocked", device_serial=device.serial, port=port)

    # -- scheduling --------------------------------------------------------------------------

    def _schedule(self, media: MediaRecord) -> None:
        """Queue a file by its deadline, or hold it until its retry time.  Holds the lock."""
        if media.state == "failed" and media.retry_at and parse(media.retry_at) > self.clock():
            heapq.heappush(self._waiting, (parse(media.retry_at), media.id))
        else:
            heapq.heappush(self._ready, (media.deadline_at, media.id))
        self._cond.notify()

    def _is_running(self, media_id: int) -> bool:
        return any(d.current == str(media_id) for d in self._devices.values())

    def _take(self) -> tuple[MediaRecord, MediaItem | None] | None:
        """Block until a file can be read; None when stopping.  Holds the lock."""
        while not self._stopping:
            now = self.clock()
            while self._waiting and self._waiting[0][0] <= now:
                _, media_id = heapq.heappop(self._waiting)
                media = self.ledger.media(media_id)
                heapq.heappush(self._ready, (media.deadline_at, media_id))
            skipped, found = [], None
            while self._ready:
                entry = heapq.heappop(self._ready)
                media_id = entry[1]
                item = self._items.get(media_id)
                media = self.ledger.media(media_id)
                if media.state == VERIFIED or (item is None and media.state != STORED):
                    self._items.pop(media_id, None)
                    continue  # handed over meanwhile, or its device left
                serial = media.device_serial
                if serial in self._busy_devices:
                    skipped.append(entry)
                    continue
                found = (media, item)
                self._busy_devices.add(serial)
                break
            for entry in skipped:
                heapq.heappush(self._ready, entry)
            if found:
                self._active += 1
                return found
            timeout = None
            if self._waiting:
                timeout = max((self._waiting[0][0] - now).total_seconds(), 0.01)
            self._cond.wait(timeout if timeout is not None else 1.0)
        return None

    def _worker(self) -> None:
        while True:
            with self._cond:
                job = self._take()
            if job is None:
                return
            media, item = job
            try:
                self._run(media, item)
            finally:
                with self._cond:
                    self._busy_devices.discard(media.device_serial)
                    self._active -= 1
                    self._cond.notify_all()

    def _run(self, media: MediaRecord, item: MediaItem | None) -> None:
        serial = media.device_serial
        prog = self._devices.get(serial) or DeviceProgress(serial, docked=False)
        self._devices.setdefault(serial, prog)
        prog.current = str(media.id)
        counted = 0

        def progress(n: int) -> None:
            nonlocal counted
            counted += n
            prog.bytes_done += n
            if self._stopping and self._hard_stop:
                raise ShutdownRequested()

        try:
            outcome = self.ingestor.ingest(media, item, progress)
        finally:
            prog.current = None
        with self._cond:
            prog.bytes_done -= counted
            self._settle(media, outcome, prog, item)

    def _settle(self, media: MediaRecord, outcome: Outcome, prog: DeviceProgress,
                item: MediaItem | None = None) -> None:
        if outcome.state == VERIFIED:
            self._items.pop(media.id, None)
            self.handed_over += 1
            if media.id not in prog.done:
                prog.done.add(media.id)
                prog.bytes_done += media.size
            prog.failed.discard(media.id)
        elif outcome.state == "failed":
            prog.failed.add(media.id)
            if not prog.docked and self._items.get(media.id) is item:
                del self._items[media.id]  # its device left while it was read: next dock
            heapq.heappush(self._waiting, (outcome.retry_at, media.id))
        elif outcome.state == "quarantined":
            self._items.pop(media.id, None)
            self.quarantined.add(media.id)
            prog.failed.add(media.id)

    # -- life cycle --------------------------------------------------------------------------

    _hard_stop = False

    def start(self) -> None:
        """Park what a crash left in flight, resume verifications, start the workers."""
        parked = self.ledger.recover_interrupted()
        if parked:
            log.warning("ingest_resumed_after_crash", files=len(parked))
        with self._cond:
            for media in self.ledger.list_media(state=STORED):
                self._schedule(media)
        for n in range(self.workers):
            thread = threading.Thread(target=self._worker, name=f"ingest-{n}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self, grace_seconds: float = 10.0) -> None:
        """Let files in flight finish for ``grace_seconds``, then park the rest."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        deadline = time.monotonic() + grace_seconds
        for thread in self._threads:
            thread.join(max(deadline - time.monotonic(), 0))
        if any(t.is_alive() for t in self._threads):
            self._hard_stop = True
            for thread in self._threads:
                thread.join(30)
        self.ledger.recover_interrupted()

    def idle(self) -> bool:
        """Nothing queued, nothing being read, no retry pending."""
        with self._cond:
            return not self._ready and not self._waiting and self._active == 0

    def status(self) -> dict:
        with self._cond:
            return {
                "devices": [p.snapshot() for p in self._devices.values()],
                "queued": len(self._ready),
                "retrying": len(self._waiting),
                "active": self._active,
                "handed_over": self.handed_over,
                "quarantined": len(self.quarantined),
            }
