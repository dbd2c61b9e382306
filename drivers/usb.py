"""The USB mass-storage driver: a docked camera becomes a read-only mount and a scan.

On ``volume_ready`` the volume is mounted read-only (:mod:`evidock.drivers.mounts`), the device
identified (its ID file, then udev; the pipeline adds the registry), its clock offset
estimated, and every recording its profile takes handed to the sink.  On ``undocked`` the
sink hears of it and the mount is dropped lazily (readers in flight get an error and their
files are retried at the next dock).  When the pipeline has everything it needs from a device
it calls :meth:`UsbDriver.release`, which unmounts it: the officer may then pull the camera.

Nothing here writes to a device, except :meth:`UsbDriver.clear_handed_over` when a profile
asks for it (off by default), and then only for files the ledger has verified.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

import structlog

from evidock.daemon.errors import EvidockError, SourceVanished
from evidock.drivers.base import DeviceIdentity, IngestSink, MediaItem
from evidock.drivers.mounts import Mounter
from evidock.drivers.profiles import Profile
from evidock.drivers.safefs import printable
from evidock.drivers.udev import BlockTracker, DockEvent, PyudevSource, UdevWatcher
from evidock.drivers.volume import identify, robust_mtime_offset, scan, with_offset

log = structlog.get_logger(__name__)


@dataclass
class Session:
    """One mounted volume of a docked device."""

    event: DockEvent
    mountpoint: Path | None = None
    identity: DeviceIdentity | None = None
    problems: list[tuple[str, str]] = field(default_factory=list)
    total: int | None = None
    gone: bool = False
    thread: threading.Thread | None = None

    @property
    def port(self) -> str:
        return self.event.port


class UsbDriver:
    name = "usb"

    def __init__(self, data_dir: Path, profiles: list[Profile], *, allow_generic: bool = True,
                 source_factory=PyudevSource,
                 on_unknown: Callable[[DockEvent], None] | None = None,  # + unreadable, undocked
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.mounter = Mounter(data_dir / "mounts")
        self.tracker = BlockTracker(profiles, allow_generic=allow_generic)
        self.on_unknown = on_unknown or (lambda event: None)
        self.clock = clock
        self._source_factory = source_factory
        self._lock = threading.Lock()
        self.sessions: dict[str, Session] = {}  # devname -> session
        self._sink: IngestSink | None = None
        self._watcher: UdevWatcher | None = None
        self._stopping = threading.Event()

    # -- Driver protocol ---------------------------------------------------------------------

    def start(self, sink: IngestSink) -> None:
        self._sink = sink
        if (n := self.mounter.cleanup()):
            log.warning("stale_mounts_removed", count=n)
        self._watcher = UdevWatcher(self.tracker, self.handle, self._source_factory)
        self._watcher.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._watcher is not None:
            self._watcher.stop()
        with self._lock:
            sessions = list(self.sessions.values())
        for s in sessions:
            if s.thread is not None:
                s.thread.join(10)
            if s.mountpoint is not None:
                self.mounter.unmount(s.mountpoint, lazy=True)
                s.mountpoint = None

    def alive(self) -> bool:
        """The udev watcher thread runs (device threads end when their device is read)."""
        return self._watcher is None or self._watcher.alive()

    def idle(self) -> bool:
        ready = self._watcher is not None and self._watcher.ready.is_set()
        with self._lock:
            return ready and all(s.thread is None or not s.thread.is_alive()
                                 for s in self.sessions.values())

    # -- events ------------------------------------------------------------------------------

    def handle(self, event: DockEvent) -> None:
        if event.kind == "volume_ready":
            session = Session(event)
            session.thread = threading.Thread(target=self._take, args=(session,),
                                              name=f"usb-{event.devname}", daemon=True)
            with self._lock:
                self.sessions[event.devname] = session
            session.thread.start()
        elif event.kind == "undocked":
            self._undocked(event)
        elif event.kind == "unknown_device":
            self.on_unknown(event)

    def _take(self, s: Session) -> None:
        ev = s.event
        try:
            name = f"{os.path.basename(ev.devname)}-{ev.props.get('DISKSEQ', '0')}"
            s.mountpoint = self.mounter.mount(ev.devname, ev.fs_type, name)
            if s.gone:  # pulled while it was being mounted
                self.mounter.unmount(s.mountpoint, lazy=True)
                s.mountpoint = None
                return
            now = self.clock()
            identity, facts = identify(str(s.mountpoint), ev.profile, ev.props, now)
            s.identity = identity
            self._tell(s, self._sink.device_docked, identity, ev.port)
            items = list(scan(str(s.mountpoint), identity, ev.profile, facts, now, s.problems))
            if facts.clock_offset_s is None and (ahead := robust_mtime_offset(items, now)):
                items = with_offset(items, ahead)
            s.total = len(items)
            for item in items:
                if s.gone:
                    return
                self._tell(s, self._sink.media_found, item)
            for relpath, reason in s.problems:
                log.warning("recording_unreadable", device_serial=identity.serial,
                            file=printable(relpath), reason=reason)
                self._tell(s, self._sink.source_problem, identity, ev.port, relpath, reason,
                           lost=not reason.startswith("not a regular file"))
            self._tell(s, self._sink.scan_finished, identity, ev.port, len(items))
            log.info("device_scanned", device_serial=identity.serial, port=ev.port,
                     recordings=len(items), problems=len(s.problems),
                     clock_offset_s=items[0].clock_offset_s if items else facts.clock_offset_s)
        except SourceVanished as exc:
            log.warning("device_scan_interrupted", port=ev.port, devname=ev.devname,
                        error=str(exc))
        except EvidockError as exc:
            log.error("device_take_failed", port=ev.port, devname=ev.devname, error=str(exc))
            self.on_unknown(replace(ev, kind="unreadable_device", reason=str(exc)))
        except Exception as exc:  # top of the device job: one device must not stop the others
            log.exception("device_take_crashed", port=ev.port, devname=ev.devname)
            self.on_unknown(replace(ev, kind="unreadable_device",
                                    reason=f"unexpected {type(exc).__name__}: {exc}"))

    RETRY_MAX_SECONDS = 30.0

    def _tell(self, s: Session, call, *args, **kwargs) -> None:
        """Tell the pipeline something about this device, again and again while it cannot
        take it (its ledger's disk full) and the device is docked: a file is never dropped
        because the pipeline refused it once."""
        delay = 0.5
        while True:
            try:
                call(*args, **kwargs)
                return
            except SourceVanished:
                raise
            except Exception as exc:  # noqa: BLE001 - retried below
                if s.gone or self._stopping.is_set():
                    raise
                log.error("pipeline_refused", port=s.port, call=call.__name__,
                          error=f"{type(exc).__name__}: {exc}", retry_in_s=delay)
            self._stopping.wait(delay)
            delay = min(delay * 2, self.RETRY_MAX_SECONDS)

    def _undocked(self, event: DockEvent) -> None:
        with self._lock:
            gone = [s for s in self.sessions.values() if s.event.disk == event.disk]
            for s in gone:
                self.sessions.pop(s.event.devname, None)
        for s in gone:
            s.gone = True
            if s.mountpoint is not None:
                self.mounter.unmount(s.mountpoint, lazy=True)
            if s.identity is not None and self._sink is not None:
                self._sink.device_undocked(s.identity, s.port)
        if not any(s.identity is not None for s in gone):
            self.on_unknown(event)  # a disk that was not read left its port

    # -- after handover ----------------------------------------------------------------------

    def session_for(self, serial: str) -> Session | None:
        with self._lock:
            return next((s for s in self.sessions.values()
                         if s.identity is not None and s.identity.serial == serial), None)

    def mounted(self, serial: str) -> bool:
        s = self.session_for(serial)
        return s is not None and s.mountpoint is not None

    def release(self, serial: str) -> bool:
        """The pipeline holds everything from this device: unmount it (safe to undock)."""
        s = self.session_for(serial)
        if s is None or s.mountpoint is None:
            return False
        if s.thread is not None:
            s.thread.join(30)
        self.mounter.unmount(s.mountpoint)
        s.mountpoint = None
        return True

    def clear_handed_over(self, serial: str, verified: Callable[[MediaItem], str | None]
                          ) -> list[str]:
        """Delete from the device the recordings whose verified copy is in the ledger (only
        when the device's profile says ``clear_after_handover``); ``verified`` gives the SHA-256
        of an item's verified copy, or None.  See ``drivers/clearing.py``."""
        from evidock.drivers.clearing import clear_verified

        s = self.session_for(serial)
        if s is None or s.mountpoint is None or s.identity is None:
            return []
        return clear_verified(self.mounter, s.mountpoint, s.event, s.identity, verified,
                              self.clock())
