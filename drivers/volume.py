"""What is on a mounted camera volume: who the device is, its clock, and its recordings.

Everything here reads through :mod:`evidock.drivers.safefs`, so a symlink, a device node or a
name that tries to leave the volume is reported as a problem, never followed.  Names are kept
as the ``str`` Python gives them: a name that is not valid UTF-8 holds surrogate escapes
(``os.fsencode`` gives the original bytes back) and is flagged ``undecodable_name``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta, timezone

from evidock.daemon.errors import SourceError
from evidock.drivers.base import DeviceIdentity, MediaItem
from evidock.drivers.profiles import Profile
from evidock.drivers.safefs import open_regular, walk_regular

ID_FILE_MAX = 64 * 1024
FUTURE_SLACK = timedelta(minutes=10)
OLDEST_PLAUSIBLE = datetime(2010, 1, 1, tzinfo=UTC)


@dataclass
class DeviceFacts:
    """What the volume says about the device, beyond udev."""

    values: dict[str, str] = field(default_factory=dict)
    clock_offset_s: float | None = None  # device clock minus station clock
    clock_source: str | None = None  # "id_file" or "files" (robust_mtime_offset)


def read_id_file(root: str, profile: Profile) -> dict[str, str]:
    """``KEY=VALUE`` / ``KEY: VALUE`` lines of the profile's ID file; empty if it has none."""
    spec = profile.identity
    if not spec.path:
        return {}
    try:
        with open_regular(root, spec.path) as f:
            raw = f.read(ID_FILE_MAX)
    except SourceError:
        return {}
    for enc in spec.encodings:
        try:
            text = raw.decode(enc)
            break
        except UnicodeDecodeError:
            continue
    else:
        text = raw.decode("utf-8", "replace")
    values = {}
    for line in text.lstrip("\ufeff").splitlines():
        m = re.match(r"\s*([^=:#\s][^=:]*?)\s*[=:]\s*(.*?)\s*$", line)
        if m:
            values[m[1].upper()] = m[2]
    return values


def identify(root: str, profile: Profile, udev: dict[str, str], now: datetime) -> tuple[
        DeviceIdentity, DeviceFacts]:
    """The device identity: the volume's ID file first, then udev, then the file-system UUID."""
    spec = profile.identity
    values = read_id_file(root, profile)
    facts = DeviceFacts(values)

    def get(key: str) -> str | None:
        return values.get(key.upper()) or None

    serial = (get(spec.serial) or udev.get("ID_SERIAL_SHORT")
              or (f"fs-{udev['ID_FS_UUID']}" if udev.get("ID_FS_UUID") else None)
              or "unknown")
    if (clock := get(spec.clock)) is not None:
        try:
            local = datetime.strptime(clock, spec.clock_format)
            tz = timezone(timedelta(minutes=profile.recordings.utc_offset_minutes))
            facts.clock_offset_s = round((local.replace(tzinfo=tz) - now).total_seconds(), 3)
            facts.clock_source = "id_file"
        except ValueError:
            pass
    identity = DeviceIdentity(
        serial=serial, model=udev.get("ID_MODEL"), vendor=udev.get("ID_VENDOR"),
        officer_id=get(spec.officer_id), officer_name=get(spec.officer_name), unit=get(spec.unit),
        source="usb")
    return identity, facts


def scan(root: str, device: DeviceIdentity, profile: Profile, facts: DeviceFacts, now: datetime,
         problems: list[tuple[str, str]], *, oldest: datetime = OLDEST_PLAUSIBLE
         ) -> Iterator[MediaItem]:
    """The recordings the profile takes, in path order.  What cannot be listed or is not a
    regular file is appended to ``problems`` as ``(relpath, reason)``.

    Raises :class:`~evidock.daemon.errors.SourceVanished` when the volume goes away."""
    rec = profile.recordings
    for entry in walk_regular(root, errors=problems):
        kind = rec.kind(entry.relpath)
        if kind is None:
            continue
        mtime = datetime.fromtimestamp(entry.mtime_ns / 1e9, UTC)
        named = rec.time_from_name(entry.relpath)
        recorded = named or mtime
        flags = file_flags(named, mtime, entry.size, now, oldest=oldest)
        if _undecodable(entry.relpath):
            flags.append("undecodable_name")
        yield MediaItem(device=device, root=root, relpath=entry.relpath, size=entry.size,
                        mtime_ns=entry.mtime_ns, recorded_at=recorded, kind=kind,
                        clock_offset_s=facts.clock_offset_s, flags=tuple(flags))


#: A recording's mtime (its end, by the device clock) may follow the start time in its name by
#: the recording's length; more than this, or an mtime before the name, is a disagreement.
NAME_MTIME_TOLERANCE = timedelta(hours=12)


def file_flags(named: datetime | None, mtime: datetime, size: int, now: datetime, *,
               oldest: datetime = OLDEST_PLAUSIBLE, against_mtime: bool = False) -> list[str]:
    """What every driver flags about a file's time and size (see FORMATS.md, media flags).

    The recording time is the name's when the profile's pattern finds one, else the mtime;
    a time in the future or before 2010 is flagged (the deadline then runs from discovery,
    daemon/deadlines.py).  ``against_mtime`` (watch folders, where files are copied by other
    tools): a name and an mtime that disagree are flagged too; on a camera's own card both
    come from the one device clock."""
    recorded = named or mtime
    flags = []
    if recorded > now + FUTURE_SLACK:
        flags.append("time_in_future")
    if recorded < oldest:
        flags.append("time_implausibly_old")
    if named is None:
        flags.append("time_from_mtime")
    elif against_mtime and not (named - FUTURE_SLACK <= mtime <= named + NAME_MTIME_TOLERANCE):
        flags.append("time_name_mtime_disagree")
    if size == 0:
        flags.append("empty_file")
    return flags


#: At least this many files must agree before a card's files say its clock is ahead.
MIN_AGREEING = 3


def robust_mtime_offset(items: list[MediaItem], now: datetime) -> float | None:
    """How far ahead the device clock runs, from its files' mtimes, when its own clock (the
    profile's ID file) gives none.

    A file stamped later than the station's clock shows the device clock is ahead.  One such
    file proves little (a single corrupt or hand-set stamp), so an offset is estimated only
    when at least :data:`MIN_AGREEING` files and more than half of the card's files are ahead,
    and it is the **median** of how far ahead they are: one outlier, however far out, cannot
    move it.  Otherwise None: the files stay flagged ``time_in_future`` one by one."""
    if not items:
        return None
    slack = FUTURE_SLACK.total_seconds()
    ahead = sorted(a for a in (i.mtime_ns / 1e9 - now.timestamp() for i in items) if a > slack)
    if len(ahead) < MIN_AGREEING or 2 * len(ahead) <= len(items):
        return None
    mid = len(ahead) // 2
    median = ahead[mid] if len(ahead) % 2 else (ahead[mid - 1] + ahead[mid]) / 2
    return round(median, 3)


def with_offset(items: list[MediaItem], offset: float) -> list[MediaItem]:
    return [replace(i, clock_offset_s=offset) for i in items]


def _undecodable(name: str) -> bool:
    try:
        name.encode("utf-8")
        return False
    except UnicodeEncodeError:
        return True
