"""The ingest queue: earliest handover deadline first, one reader per device.

Drivers call the :class:`Pipeline` (it is their ``IngestSink``) from their own threads.
Worker threads take the waiting file with the earliest deadline whose device is not already
being read (USB is the bottleneck: two readers on one device only slow both), and retries
wait in the same queue until their time.  ``status()`` is what the station display shows.

No worker dies silently: each catches at its top, records the failure and goes on; one whose
thread ended anyway is started again by :meth:`Pipeline.supervise` (the main loop calls it).
Workers beat a heartbeat while they wait and for every chunk (:mod:`evidock.daemon.workers`).
An outcome whose error says ``Action.STOP`` (the ledger cannot be written, the store refuses
the daemon) pauses the pipeline until a probe of the cause succeeds.
"""

from __future__ import annotations

import heapq
import threading
import time
import traceback
from collections.abc import Callable
from datetime import datetime, timedelta

import structlog

from evidock.daemon.ingest import Ingestor, Outcome, ShutdownRequested
from evidock.daemon.ledger import devices as registry
from evidock.daemon.ledger.records import FINISHED, STORED, SUPERSEDED, VERIFIED, MediaRecord
from evidock.daemon.ledger.sqlite import SqliteLedger
from evidock.daemon.progress import DeviceProgress, PortProblem
from evidock.daemon.rate import RecentRate
from evidock.daemon.schedule import Queued, ReadyQueue
from evidock.daemon.timeutil import Clock, parse, utcnow
from evidock.daemon.workers import Heartbeats, Pause
from evidock.drivers.base import DeviceIdentity, MediaItem
from evidock.drivers.safefs import printable

log = structlog.get_logger("evidock.pipeline")


class Pipeline:
    def __init__(self, ledger: SqliteLedger, ingestor: Ingestor, *, workers: int,
                 handover_hours: float, clock: Clock = utcnow,
                 adjust_deadline: Callable[[MediaRecord], MediaRecord] | None = None,
                 stuck_seconds: float = 300.0, pause_base_seconds: float = 2.0,
                 pause_max_seconds: float = 60.0, linger_seconds: float = 60.0,
                 probes: dict[str, Callable[[], object]] | None = None,
                 max_readers: int = 8) -> None:
        self.ledger = ledger
        self.adjust_deadline = adjust_deadline  # duty exemptions (R2) move a new file's deadline
        self.ingestor = ingestor
        self.workers = workers
        #: one reader per docked device, up to this many: a slow device holds only its own
        #: reader, never the others' (memory: each reader holds its read-ahead and parts)
        self.max_readers = max(max_readers, workers)
        self.handover_hours = handover_hours
        self.clock = clock
        self._cond = threading.Condition()
        self._queue = ReadyQueue()  # files ready to be read, per device, by deadline
        self._waiting: list[tuple[datetime, int, Queued]] = []  # heap of (retry_at, id, entry)
        self._items: dict[int, MediaItem] = {}
        self._busy_devices: set[str] = set()
        self._active = 0
        self._devices: dict[str, DeviceProgress] = {}
        self._ports: dict[str, PortProblem] = {}  # disks on a port that are not read
        self.linger_seconds = linger_seconds  # how long a device that left stays shown
        self._stopping = False
        self._threads: list[threading.Thread] = []
        self.handed_over = 0
        self.quarantined: set[int] = set()
        self.beats = Heartbeats(stuck_seconds)
        self.meter = RecentRate()  # every device together: the station's read rate now
        self.pause = Pause(pause_base_seconds, pause_max_seconds)
        #: cause -> a call that raises while the cause lasts (see :meth:`_probe`)
        self.probes = dict(probes or {})

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
                    device.serial, officer, port, registered=record.registered,
                    officer_name=device.officer_name or record.officer_name,
                    unit=device.unit or record.unit, model=device.model or record.model)
            self._ports.pop(port, None)  # a camera now where an unknown disk was
            self._grow()
        log.info("device_docked", device_serial=device.serial, port=port)

    def media_found(self, item: MediaItem) -> None:
        device = item.device
        if device.serial not in self._devices:
            self.device_docked(device, port=printable(item.root))
        media, created = self.ledger.register_media(
            device_serial=device.serial, source_path=item.relpath, size=item.size,
            mtime_ns=item.mtime_ns, kind=item.kind, recorded_at=item.recorded_at,
            handover_hours=self.handover_hours,
            officer_id=self._devices[device.serial].officer_id,
            clock_offset_s=item.clock_offset_s, flags=item.flags + (
                () if self._devices[device.serial].registered else ("unregistered_device",)),
            changes_in_place=item.changes_in_place)
        replaced = (self.ledger.superseded_by(media.id)
                    if created and item.changes_in_place else [])
        if created and self.adjust_deadline is not None:
            media = self.adjust_deadline(media)
        with self._cond:
            prog = self._devices[device.serial]
            for old in replaced:
                self._forget_superseded(old, prog)
            new_here = media.id not in prog.files  # first found in this dock
            if new_here:
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
                if not new_here:  # found again by a rescan of the same dock: still given up
                    return
                self.quarantined.discard(media.id)  # docked again: a new chance (below)
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
                prog.undock()
        registry.record_undock(self.ledger, device.serial, port)
        with self._cond:
            for media_id, item in list(self._items.items()):
                if item.device.serial == device.serial and not self._is_running(media_id):
                    del self._items[media_id]
            self._cond.notify_all()
        log.info("device_undocked", device_serial=device.serial, port=port)

    def port_problem(self, port: str, kind: str, reason: str, *, vendor: str | None = None,
                     model: str | None = None) -> None:
        """A disk on ``port`` that is not read (``unknown``: not a camera evidock knows;
        ``unreadable``: a camera whose volume could not be mounted or read): shown until it
        leaves, so the officer knows it is not being read."""
        with self._cond:
            self._ports[port] = PortProblem(port, kind, reason, vendor, model)

    def port_undocked(self, port: str) -> None:
        with self._cond:
            problem = self._ports.get(port)
            if problem is not None and problem.undocked_at is None:
                problem.undocked_at = time.monotonic()

    # -- scheduling --------------------------------------------------------------------------

    @property
    def _ready(self) -> list[tuple[str, int]]:
        """``(deadline, media_id)`` of the files ready to be read.  Holds the lock."""
        return self._queue.snapshot()

    @staticmethod
    def _entry(media: MediaRecord, *, stored: bool | None = None) -> Queued:
        return Queued(media.id, media.deadline_at, media.device_serial,
                      media.state == STORED if stored is None else stored)

    def _hold(self, retry_at: datetime, entry: Queued) -> None:
        """Keep a file out of the queue until ``retry_at``.  Holds the lock."""
        heapq.heappush(self._waiting, (retry_at, entry.media_id, entry))

    def _schedule(self, media: MediaRecord) -> None:
        """Queue a file by its deadline, or hold it until its retry time.  Holds the lock."""
        if media.state == "failed" and media.retry_at and parse(media.retry_at) > self.clock():
            self._hold(parse(media.retry_at), self._entry(media))
        else:
            self._queue.push(self._entry(media))
        self._cond.notify()

    def _usable(self, entry: Queued) -> bool:
        """A queued file can be taken while its device is docked, or once it is stored."""
        return entry.stored or entry.media_id in self._items

    def _is_running(self, media_id: int) -> bool:
        return any(d.current == str(media_id) for d in self._devices.values())

    def _take(self, name: str = "") -> tuple[MediaRecord | None, MediaItem | None] | None:
        """Block until a file can be read; ``(None, None)`` when a paused pipeline's cause is
        due to be probed; None when stopping.  Holds the lock."""
        while not self._stopping:
            self.beats.beat(name, "waiting", None)
            if self.pause.active:
                if self.pause.due():
                    self.pause.probing = True
                    return None, None
                self._cond.wait(min(self.pause.wait_seconds(), 1.0))
                continue
            now = self.clock()
            while self._waiting and self._waiting[0][0] <= now:
                self._queue.push(heapq.heappop(self._waiting)[2])
            found = None
            # the ledger is read only for the file taken: one lookup per file, not per
            # queued file (see schedule.py)
            while (entry := self._queue.take(self._busy_devices, self._usable)) is not None:
                media_id = entry.media_id
                item = self._items.get(media_id)
                try:
                    media = self.ledger.media(media_id)
                except Exception as exc:  # noqa: BLE001 - the ledger cannot be read now
                    log.error("queue_read_failed", media_id=media_id, error=str(exc))
                    self._queue.push(entry)
                    self.pause.trip("ledger", f"reading the queue: {exc}")
                    break
                if media.state in FINISHED or (item is None and media.state != STORED):
                    self._items.pop(media_id, None)
                    continue  # handed over or superseded meanwhile, or its device left
                found = (media, item)
                self._busy_devices.add(media.device_serial)
                break
            if found:
                self._active += 1
                return found
            timeout = 1.0
            if self._waiting:
                timeout = min(max((self._waiting[0][0] - now).total_seconds(), 0.01), 1.0)
            self._cond.wait(timeout)
        return None

    def _worker(self) -> None:
        """The top of a worker: whatever happens to one file, the worker goes on."""
        name = threading.current_thread().name
        while True:
            try:
                if not self._work_once(name):
                    return
            except Exception as exc:  # noqa: BLE001 - top of a thread: record and go on
                self.beats.crashed(name)
                log.exception("worker_crashed", worker=name, error=str(exc))
                self._record("worker_crashed", f"worker:{name}", {
                    "worker": name, "error": f"{type(exc).__name__}: {exc}",
                    "trace": traceback.format_exc(limit=5)[-2000:]})
                with self._cond:
                    self._cond.wait(1.0)  # a failure that repeats must not spin

    def _work_once(self, name: str) -> bool:
        with self._cond:
            job = self._take(name)
        if job is None:
            return False
        media, item = job
        if media is None:
            try:
                self._probe(name)
            finally:
                with self._cond:  # a probe that went down must not block the next one
                    self.pause.probing = False
            return True
        self.beats.beat(name, "reading", media.id)
        settled = False
        try:
            settled = self._run(media, item, name)
        finally:
            self.beats.beat(name, "waiting", None)
            with self._cond:
                self._busy_devices.discard(media.device_serial)
                self._active -= 1
                if not settled:  # the worker is going down mid-file: the file stays queued
                    retry = self.clock() + timedelta(seconds=self.pause.base)
                    self._hold(retry, self._entry(media, stored=True))  # state unknown
                self._cond.notify_all()
        return True

    def _probe(self, name: str) -> None:
        """See whether the cause of a pause is gone; resume if it is.  The ledger's probe is
        writing the ``ingest_resumed`` event itself; the store's is ``store.check()``."""
        cause, error = self.pause.cause, self.pause.error
        self.beats.beat(name, "probing")
        event = {"cause": cause, "error": error}
        try:
            probe = self.probes.get(cause)
            if probe is None and cause == "store":
                probe = self.ingestor.store.check
            if probe is not None:
                probe()
            self.ledger.record("ingest_resumed", "pipeline", event)
        except Exception as exc:  # noqa: BLE001 - still broken: probe again later
            with self._cond:
                self.pause.probed(False, f"{type(exc).__name__}: {exc}")
            log.warning("ingest_still_paused", cause=cause, error=str(exc),
                        probes=self.pause.probes)
            return
        with self._cond:
            self.pause.probed(True)
            self._cond.notify_all()
        log.info("ingest_resumed", cause=cause)

    def _record(self, kind: str, subject: str, data: dict) -> None:
        """A ledger event when the ledger can be written; the log has it either way."""
        try:
            self.ledger.record(kind, subject, data)
        except Exception as exc:  # noqa: BLE001 - the ledger may be the thing that failed
            log.error("ledger_event_unrecorded", kind=kind, subject=subject, error=str(exc))

    #: A group: files read one after the other from one device and handed over together,
    #: one store sync and one durable ledger commit for all (see ``Ingestor.verify_many``).
    #: A file that would take the group past GROUP_BYTES starts a group of its own, so a
    #: group never holds a device's reader (or another device's earlier deadline) for long.
    GROUP_FILES = 64
    GROUP_BYTES = 16 << 20

    def _run(self, media: MediaRecord, item: MediaItem | None, name: str = "") -> bool:
        """Ingest ``media``, and while the ingestor leaves hand-overs to a group, the next
        files of the same device that fit in the group; then hand the group over."""
        group: list[tuple[MediaRecord, Outcome, DeviceProgress, MediaItem | None]] = []
        current = media
        try:
            while current is not None:
                outcome, prog = self._ingest_one(current, item, name)
                if outcome.state == STORED:  # the ingestor left the hand-over to the group
                    group.append((current, outcome, prog, item))
                else:
                    with self._cond:
                        self._settle_and_pause(current, outcome, prog, item)
                current = None
                if group:
                    with self._cond:
                        nxt = self._next_in_group(media.device_serial, group)
                    if nxt is not None:
                        current, item = nxt
                        self.beats.beat(name, "reading", current.id)
        except BaseException:
            with self._cond:  # going down mid-group: every file of it stays queued
                retry = self.clock() + timedelta(seconds=self.pause.base)
                for held in [current, *(m for m, _, _, _ in group)]:
                    if held is not None:
                        self._hold(retry, self._entry(held, stored=True))  # state unknown
            raise
        if group:
            self.beats.beat(name)
            try:
                outcomes = self.ingestor.verify_many([o for _, o, _, _ in group])
            except Exception as exc:  # noqa: BLE001 - never raises by contract; if it does
                log.exception("verify_raised", files=len(group))
                outcomes = [Outcome(m.id, "failed", f"{type(exc).__name__}: {exc}",
                                    self.clock() + timedelta(seconds=self.pause.base),
                                    action="retry", cause="other") for m, _, _, _ in group]
            with self._cond:
                for (done, _, prog, its), outcome in zip(group, outcomes, strict=True):
                    self._settle_and_pause(done, outcome, prog, its)
        return True

    def _next_in_group(self, serial: str,
                       group: list) -> tuple[MediaRecord, MediaItem | None] | None:
        """The device's next file if it fits in the group (None: hand the group over now).
        Holds the lock."""
        held = sum(m.size for m, _, _, _ in group)
        if len(group) >= self.GROUP_FILES or self._stopping or self.pause.active:
            return None
        while (entry := self._queue.take_from(serial, self._usable)) is not None:
            item = self._items.get(entry.media_id)
            if item is not None and held + item.size > self.GROUP_BYTES:
                self._queue.push(entry)  # starts the next group
                return None
            try:
                media = self.ledger.media(entry.media_id)
            except Exception as exc:  # noqa: BLE001 - the ledger cannot be read now
                log.error("queue_read_failed", media_id=entry.media_id, error=str(exc))
                self._queue.push(entry)
                return None
            if media.state in FINISHED or (item is None and media.state != STORED):
                self._items.pop(media.id, None)
                continue  # handed over or superseded meanwhile, or its device left
            return media, item
        return None

    def _ingest_one(self, media: MediaRecord, item: MediaItem | None,
                    name: str) -> tuple[Outcome, DeviceProgress]:
        serial = media.device_serial
        # a stored copy verified without its device (after a restart) shows on no tile
        prog = self._devices.get(serial) or DeviceProgress(serial, docked=False)
        prog.current = str(media.id)
        counted = 0

        def progress(n: int) -> None:
            nonlocal counted
            counted += n
            prog.bytes_done += n
            prog.rate.add(n)
            self.meter.add(n)
            self.beats.beat(name)
            if self._stopping and self._hard_stop:
                raise ShutdownRequested()

        try:
            outcome = self.ingestor.ingest(media, item, progress)
        except Exception as exc:  # noqa: BLE001 - ingest never raises by contract; if it does
            log.exception("ingest_raised", media_id=media.id)
            outcome = Outcome(media.id, "failed", f"{type(exc).__name__}: {exc}",
                              self.clock() + timedelta(seconds=self.pause.base),
                              action="retry", cause="other")
        finally:
            prog.current = None
        with self._cond:
            prog.bytes_done -= counted
        return outcome, prog

    def _settle_and_pause(self, media: MediaRecord, outcome: Outcome, prog: DeviceProgress,
                          item: MediaItem | None) -> None:
        """Holds the lock."""
        self._settle(media, outcome, prog, item)
        if outcome.action == "stop" and outcome.state == "failed":
            if self.pause.trip(outcome.cause or "other", outcome.error or ""):
                log.error("ingest_paused", cause=outcome.cause, error=outcome.error)

    def _settle(self, media: MediaRecord, outcome: Outcome, prog: DeviceProgress,
                item: MediaItem | None = None) -> None:
        if outcome.state == VERIFIED:
            self._items.pop(media.id, None)
            self.handed_over += 1
            if media.id not in prog.done:
                prog.done.add(media.id)
                prog.bytes_done += media.size
            prog.failed.discard(media.id)
            prog.gave_up.discard(media.id)
        elif outcome.state == "failed":
            prog.failed.add(media.id)
            prog.failure_cause = outcome.cause
            if not prog.docked and self._items.get(media.id) is item:
                del self._items[media.id]  # its device left while it was read: next dock
            self._hold(outcome.retry_at, self._entry(media, stored=False))
        elif outcome.state == SUPERSEDED:
            self._forget_superseded(media, prog)
        elif outcome.state == "quarantined":
            self._items.pop(media.id, None)
            self.quarantined.add(media.id)
            prog.failed.add(media.id)
            prog.gave_up.add(media.id)
            prog.failure_cause = outcome.cause or prog.failure_cause

    def _forget_superseded(self, media: MediaRecord, prog: DeviceProgress) -> None:
        """A row replaced by its file's new version: nothing of it is left to read, to
        count on the device's tile or to give up on.  Holds the lock."""
        self._items.pop(media.id, None)
        self.quarantined.discard(media.id)
        prog.failed.discard(media.id)
        prog.gave_up.discard(media.id)
        if media.id in prog.files and media.id not in prog.done:
            prog.files.discard(media.id)
            prog.bytes_total -= media.size
        log.info("media_superseded", media_id=media.id, device_serial=prog.serial)

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
            self._start_worker(f"ingest-{n}")
        with self._cond:
            self._grow()  # devices docked before the start

    def _grow(self) -> None:
        """Start a reader for each docked device beyond ``workers`` (up to ``max_readers``),
        once the pipeline runs.  Holds the lock."""
        if not self._threads or self._stopping:
            return
        docked = sum(1 for p in self._devices.values() if p.docked)
        for n in range(len(self._threads), min(max(docked, self.workers), self.max_readers)):
            self._start_worker(f"ingest-{n}")
            log.info("reader_added", worker=f"ingest-{n}", docked=docked)

    def _start_worker(self, name: str) -> threading.Thread:
        thread = threading.Thread(target=self._worker, name=name, daemon=True)
        self.beats.register(name, thread)
        thread.start()
        self._threads = [t for t in self._threads if t.name != name] + [thread]
        return thread

    def supervise(self) -> list[str]:
        """Start again every worker whose thread ended; returns their names."""
        if self._stopping:
            return []
        dead = self.beats.dead()
        for name in dead:
            log.error("worker_died", worker=name, hint="started again")
            self._record("worker_died", f"worker:{name}", {"worker": name})
            self._start_worker(name)
        return dead

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
        try:
            self.ledger.recover_interrupted()
        except Exception as exc:  # noqa: BLE001 - the next start recovers them instead
            log.error("park_failed", error=str(exc), hint="parked at the next start")

    def idle(self) -> bool:
        """Nothing queued, nothing being read, no retry pending."""
        with self._cond:
            return not self._queue and not self._waiting and self._active == 0

    def status(self) -> dict:
        with self._cond:
            self._forget_gone()
            return {
                "devices": [p.snapshot() for p in self._devices.values()],
                "ports": [p.snapshot() for p in self._ports.values()],
                "queued": len(self._queue),
                "retrying": len(self._waiting),
                "active": self._active,
                "handed_over": self.handed_over,
                "rate_bps": round(self.meter.bytes_per_second()),
                "bytes_read": self.meter.total,
                "quarantined": len(self.quarantined),
                "paused": self.pause.snapshot(),
                "workers": self.beats.snapshot(),
            }

    def _forget_gone(self) -> None:
        """Devices and ports that left more than ``linger_seconds`` ago leave the status
        (and memory: a station docks thousands of devices).  Holds the lock."""
        now = time.monotonic()
        for serial, prog in list(self._devices.items()):
            gone = prog.gone_for(now)
            if gone is not None and gone > self.linger_seconds:
                del self._devices[serial]
        for port, problem in list(self._ports.items()):
            if problem.undocked_at is not None and now - problem.undocked_at > self.linger_seconds:
                del self._ports[port]

    def healthy(self) -> bool:
        """Every worker alive and none stuck (a pause is not unhealthy: see workers.py)."""
        return self.beats.healthy()
