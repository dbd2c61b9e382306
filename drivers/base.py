"""What a driver hands to the pipeline.

A driver turns OS events (a folder filling, a USB volume appearing) into calls on an
:class:`IngestSink`: which device is there, which recordings it holds, when its scan is done
and when it went away.  Drivers never write to a device; they open recordings only through
:func:`evidock.drivers.safefs.open_regular`, which cannot leave the device's root.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from evidock.drivers.safefs import SourceFile, open_regular

VIDEO = frozenset({".mp4", ".mov", ".avi", ".mkv", ".ts", ".mts", ".m2ts", ".264", ".h264",
                   ".265", ".h265", ".asf", ".wmv", ".3gp", ".flv"})
AUDIO = frozenset({".wav", ".mp3", ".aac", ".m4a", ".amr", ".ogg", ".opus", ".wma", ".flac"})
PHOTO = frozenset({".jpg", ".jpeg", ".png", ".heic", ".bmp", ".tif", ".tiff"})


def media_kind(name: str) -> str:
    """``video``, ``audio``, ``photo`` or ``other`` from the file name's extension."""
    ext = os.path.splitext(name)[1].lower()
    if ext in VIDEO:
        return "video"
    if ext in AUDIO:
        return "audio"
    if ext in PHOTO:
        return "photo"
    return "other"


@dataclass(frozen=True)
class DeviceIdentity:
    """Who a device is, as far as the driver (and its profile) can tell."""

    serial: str
    model: str | None = None
    vendor: str | None = None
    officer_id: str | None = None  # badge number (警号)
    officer_name: str | None = None
    unit: str | None = None
    source: str = "unknown"  # which driver found it: "watch", "usb"


@dataclass(frozen=True)
class MediaItem:
    """One recording on a device, as found by a scan.

    ``root`` is the device's top directory (a mount point or a watch subfolder) and
    ``relpath`` the recording's path inside it, with ``/`` separators; the pair is opened
    without following any symlink, so a hostile name cannot escape the device.
    """

    device: DeviceIdentity
    root: str
    relpath: str
    size: int
    mtime_ns: int
    recorded_at: datetime  # start of the recording, from its name or (failing that) mtime
    kind: str
    clock_offset_s: float | None = None  # device clock minus station clock, when known
    flags: tuple[str, ...] = field(default=())
    #: the file may be rewritten where it lies (a watch folder; never a camera's card): a
    #: new size or mtime is a new version that supersedes the unstored old one
    changes_in_place: bool = False

    @property
    def source_path(self) -> str:
        return self.relpath

    def open(self) -> SourceFile:
        """The recording, read-only; every failure of it is a ``SourceError``
        (``SourceVanished`` when the device went away) wherever it is raised."""
        return open_regular(self.root, self.relpath)


class IngestSink(Protocol):
    """The pipeline, as drivers see it.  Every method may be called from any thread."""

    def device_docked(self, device: DeviceIdentity, port: str) -> None:
        """A device arrived (or a watch subfolder was first seen)."""

    def media_found(self, item: MediaItem) -> None:
        """A recording is complete and stable: take it.  Repeated calls for a file already
        handed over are cheap no-ops."""

    def source_problem(self, device: DeviceIdentity, port: str, relpath: str, reason: str,
                       *, lost: bool) -> None:
        """Something on the device could not be taken: a symlink or device node (refused,
        ``lost=False``), or a file or folder that could not be read (``lost=True``: a
        recording may be missing, so the device is not safe to undock)."""

    def scan_finished(self, device: DeviceIdentity, port: str, total: int) -> None:
        """The first full scan of a device (or watch subfolder) is done."""

    def device_undocked(self, device: DeviceIdentity, port: str) -> None:
        """The device went away; reads in flight fail and are retried at the next dock."""


class Driver(Protocol):
    """A source of devices and recordings, started and stopped by the service."""

    name: str

    def start(self, sink: IngestSink) -> None: ...

    def stop(self) -> None: ...

    def idle(self) -> bool:
        """True when the driver has finished its start-up scan and holds no file it is
        still waiting on (a file that has not settled yet)."""
        ...
