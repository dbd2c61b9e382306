"""Block-device events from udev, as the few named events the USB driver acts on.

This is the only module that imports :mod:`pyudev`.  Raw udev events come in many forms: a real
USB stick sends ``add``/``remove``; a card reader or a loop device sends ``change`` with
``DISK_MEDIA_CHANGE=1``; ``change`` often repeats for one attach; a ``remove`` still carries the
old ``ID_FS_*`` properties.  :class:`BlockTracker` keeps what is attached and turns each raw event
into zero or more :class:`DockEvent` s derived from a change of that state:

``docked``         a USB disk appeared (once per attach, keyed by its DISKSEQ)
``volume_ready``   a file system on it can be mounted (the whole disk or a partition)
``undocked``       the disk went away (all its volumes with it)
``unknown_device`` a USB disk no profile takes, or with no file system evidock can read

The tracker is pure (properties in, events out) so it is tested without hardware;
:class:`UdevWatcher` feeds it from a real monitor, or from any source with ``fileno()`` and
``receive()`` (tests use one built on ``os.pipe()``).
"""

from __future__ import annotations

import os
import select
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Protocol

import structlog

from evidock.drivers.profiles import Profile, choose

log = structlog.get_logger(__name__)

FILESYSTEMS = frozenset({"vfat", "exfat", "ntfs", "ntfs3", "ext4", "ext3", "ext2"})
_KEEP = ("ACTION", "DEVNAME", "DEVPATH", "DEVTYPE", "DISKSEQ", "DISK_MEDIA_CHANGE", "ID_BUS",
         "ID_FS_TYPE", "ID_FS_USAGE", "ID_FS_LABEL", "ID_FS_UUID", "ID_PART_TABLE_TYPE",
         "ID_SERIAL", "ID_SERIAL_SHORT", "ID_VENDOR", "ID_VENDOR_ID", "ID_MODEL", "ID_MODEL_ID",
         "ID_PATH", "SYSTEMD_READY", "SIZE")


@dataclass(frozen=True)
class DockEvent:
    kind: str  # docked | volume_ready | undocked | unknown_device
    disk: str  # DEVPATH of the whole disk: stable while it is attached
    port: str  # where it is plugged in (udev ID_PATH), the device node if unknown
    devname: str = ""  # the block device to mount (volume_ready)
    fs_type: str = ""
    label: str = ""
    props: dict[str, str] = field(default_factory=dict, compare=False)
    profile: Profile | None = field(default=None, compare=False)
    reason: str = ""  # unknown_device: why it was not taken


@dataclass
class _Disk:
    devpath: str
    diskseq: str
    port: str
    props: dict[str, str]
    volumes: dict[str, str] = field(default_factory=dict)  # devname -> diskseq
    camera: bool = False


def _disk_of(props: dict[str, str]) -> str:
    devpath = props.get("DEVPATH", "")
    return devpath.rsplit("/", 1)[0] if props.get("DEVTYPE") == "partition" else devpath


def _has_media(props: dict[str, str]) -> bool:
    """A change event whose properties say the medium is present."""
    if props.get("ID_FS_TYPE") or props.get("ID_PART_TABLE_TYPE"):
        return True
    if props.get("SIZE") not in (None, "0"):
        return props.get("SYSTEMD_READY") != "0"
    return False


class BlockTracker:
    """State of attached USB disks and their volumes; ``feed`` returns the named events."""

    def __init__(self, profiles: list[Profile], *, allow_generic: bool = True) -> None:
        self.profiles = profiles
        self.allow_generic = allow_generic
        self.disks: dict[str, _Disk] = {}
        self._ignored: set[tuple[str, str]] = set()

    def feed(self, action: str, raw: dict[str, str]) -> list[DockEvent]:
        props = {k: raw[k] for k in _KEEP if k in raw}  # filter in Python (udev ORs filters)
        disk_path = _disk_of(props)
        if not disk_path or not props.get("DEVNAME"):
            return []
        known = self.disks.get(disk_path)
        if action == "remove" or (action == "change" and not _has_media(props)):
            # check the action first: a remove still carries the old ID_FS_* properties
            return self._gone(props, known)
        if action not in ("add", "change", "present"):
            return []
        diskseq = props.get("DISKSEQ", "")
        events: list[DockEvent] = []
        if known is not None and diskseq and known.diskseq and diskseq != known.diskseq:
            events += self._undock(known)  # a new medium where we missed the old one leaving
            known = None
        if props.get("ID_BUS") != "usb":
            key = (props["DEVNAME"], diskseq)
            if key not in self._ignored:
                self._ignored.add(key)
                log.debug("block_device_ignored", devname=props["DEVNAME"], bus=props.get("ID_BUS"))
            return events
        if known is None:
            disk_props = props if props.get("DEVTYPE") != "partition" else {**props, "DEVNAME": ""}
            known = self.disks[disk_path] = _Disk(disk_path, diskseq, _port(props), disk_props)
            events.append(self._event("docked", known, props))
        return events + self._volume(known, props)

    def _volume(self, disk: _Disk, props: dict[str, str]) -> list[DockEvent]:
        devname, diskseq = props["DEVNAME"], props.get("DISKSEQ", "")
        fs_type = props.get("ID_FS_TYPE", "")
        if disk.volumes.get(devname) == diskseq:
            return []  # the same attach announced again
        if not fs_type:
            if props.get("DEVTYPE") != "partition" and props.get("ID_PART_TABLE_TYPE"):
                return []  # a partitioned disk: its partitions bring the volumes
            return self._unknown(disk, props, "no file system found on it")
        if props.get("ID_FS_USAGE", "filesystem") != "filesystem" or fs_type not in FILESYSTEMS:
            return self._unknown(disk, props, f"file system {fs_type!r} is not one evidock reads")
        label = props.get("ID_FS_LABEL", "")
        profile = choose(self.profiles, props, label, self.allow_generic)
        if profile is None:
            return self._unknown(disk, props, "no device profile matches it")
        disk.volumes[devname] = diskseq
        disk.camera = True
        return [DockEvent("volume_ready", disk.devpath, disk.port, devname, fs_type, label,
                          props, profile)]

    def _unknown(self, disk: _Disk, props: dict[str, str], reason: str) -> list[DockEvent]:
        devname = props["DEVNAME"]
        if disk.volumes.get(devname) == "unknown:" + props.get("DISKSEQ", ""):
            return []
        disk.volumes[devname] = "unknown:" + props.get("DISKSEQ", "")
        log.info("unknown_device_seen", devname=devname, reason=reason,
                 vendor=props.get("ID_VENDOR"), model=props.get("ID_MODEL"),
                 device_serial=props.get("ID_SERIAL_SHORT"))
        return [self._event("unknown_device", disk, props, reason=reason)]

    def _gone(self, props: dict[str, str], known: _Disk | None) -> list[DockEvent]:
        if known is None:
            return []
        if props.get("DEVTYPE") == "partition":
            known.volumes.pop(props["DEVNAME"], None)  # the disk's own event ends the dock
            return []
        return self._undock(known)

    def _undock(self, disk: _Disk) -> list[DockEvent]:
        del self.disks[disk.devpath]
        return [self._event("undocked", disk, disk.props)]

    @staticmethod
    def _event(kind: str, disk: _Disk, props: dict[str, str], **kw) -> DockEvent:
        return DockEvent(kind, disk.devpath, disk.port, props.get("DEVNAME", ""),
                         props.get("ID_FS_TYPE", ""), props.get("ID_FS_LABEL", ""), props, **kw)


def _port(props: dict[str, str]) -> str:
    return props.get("ID_PATH") or props.get("DEVNAME", "")


class EventSource(Protocol):
    """Raw block events: ``fileno()`` becomes readable when ``receive()`` has something."""

    def fileno(self) -> int: ...

    def receive(self) -> Iterable[tuple[str, dict[str, str]]]:
        """The events ready now, as ``(action, properties)``; never blocks."""
        ...

    def present(self) -> Iterable[dict[str, str]]:
        """Properties of the block devices attached before watching began."""
        ...


class PyudevSource:
    """The real thing: a netlink monitor on the ``udev`` source, block subsystem."""

    def __init__(self) -> None:
        import pyudev

        self._pyudev = pyudev
        self.context = pyudev.Context()
        self.monitor = pyudev.Monitor.from_netlink(self.context, source="udev")
        self.monitor.filter_by("block")
        self.monitor.start()

    def fileno(self) -> int:
        return self.monitor.fileno()

    def receive(self) -> Iterable[tuple[str, dict[str, str]]]:
        while (device := self.monitor.poll(timeout=0)) is not None:
            yield device.action or "change", self._props(device)

    def present(self) -> Iterable[dict[str, str]]:
        for device in self.context.list_devices(subsystem="block"):
            yield self._props(device)

    @staticmethod
    def _props(device) -> dict[str, str]:
        props = dict(device.properties)
        try:
            props["SIZE"] = device.attributes.asstring("size")
        except (KeyError, OSError, UnicodeDecodeError):
            pass  # gone already: a remove event
        return props


class UdevWatcher:
    """Runs a :class:`BlockTracker` on a thread and hands its events to ``on_event``.

    Devices already attached at start are fed first (as ``present``), so a camera docked while
    the daemon was down is taken too.  ``on_event`` runs on the watcher thread; an exception
    from it is logged and the watcher goes on.
    """

    def __init__(self, tracker: BlockTracker, on_event: Callable[[DockEvent], None],
                 source_factory: Callable[[], EventSource] = PyudevSource) -> None:
        self.tracker = tracker
        self.on_event = on_event
        self._factory = source_factory
        self._stop_r, self._stop_w = os.pipe()
        self._thread: threading.Thread | None = None
        self.ready = threading.Event()

    def start(self) -> None:
        source = self._factory()  # before the thread: a monitor that cannot start fails here
        self._thread = threading.Thread(target=self._run, args=(source,), name="udev", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        os.write(self._stop_w, b"x")
        if self._thread is not None:
            self._thread.join(timeout)

    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _run(self, source: EventSource) -> None:
        """The top of the watcher thread: a failure is logged and the watcher goes on."""
        try:
            for props in source.present():
                self._dispatch("present", props)
        except Exception:  # noqa: BLE001 - the next events still come
            log.exception("udev_enumerate_failed")
        self.ready.set()
        while True:
            try:
                readable, _, _ = select.select([source.fileno(), self._stop_r], [], [])
                if self._stop_r in readable:
                    return
                for action, props in source.receive():
                    self._dispatch(action, props)
            except Exception:  # noqa: BLE001 - top of the thread: log, pause, go on
                log.exception("udev_watch_failed")
                if select.select([self._stop_r], [], [], 1.0)[0]:
                    return

    def _dispatch(self, action: str, props: dict[str, str]) -> None:
        try:
            events = self.tracker.feed(action, props)
        except Exception:  # noqa: BLE001 - one odd event must not stop the others
            log.exception("udev_event_unparsed", action=action, devname=props.get("DEVNAME"))
            return
        for event in events:
            log.info(f"device_{event.kind}", port=event.port, devname=event.devname,
                     device_serial=event.props.get("ID_SERIAL_SHORT"), fs=event.fs_type or None,
                     profile=event.profile.name if event.profile else None)
            try:
                self.on_event(event)
            except Exception:
                log.exception("device_event_failed", kind=event.kind, port=event.port)
