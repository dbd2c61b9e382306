"""Device profiles: how one camera model looks over USB and where it keeps things.

A profile is a TOML file (``config/profiles/*.toml``, format in ``config/profiles/README.md``)
that says which devices it covers (USB vendor:product IDs, vendor and model strings, volume
label), where recordings live (globs), which extensions count as video, audio or photo, where the
device writes its serial, officer badge (警号), name and unit, and how to read the recording
start time from a file name.  The :data:`GENERIC` profile is built in: it covers any USB
mass-storage camera, so evidock works with no profile files at all.
"""

from __future__ import annotations

import fnmatch
import re
import tomllib
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from evidock.daemon.errors import ConfigError
from evidock.drivers.base import AUDIO, PHOTO, VIDEO

_STRICT = ConfigDict(extra="forbid", frozen=True)


class Match(BaseModel):
    """Which devices the profile covers.  Every criterion given must match (an empty list is
    no criterion); within one list any entry may match.  Strings are shell patterns
    (``DSJ-*``), compared without regard to case."""

    model_config = _STRICT
    usb_ids: tuple[str, ...] = Field((), description="vendor:product in hex, e.g. '2bc5:0501'")
    vendor: tuple[str, ...] = Field((), description="patterns for udev ID_VENDOR")
    model: tuple[str, ...] = Field((), description="patterns for udev ID_MODEL")
    label: tuple[str, ...] = Field((), description="patterns for the volume label")
    buses: tuple[str, ...] = Field(("usb",), description="udev ID_BUS values accepted")

    @field_validator("usb_ids")
    @classmethod
    def _ids(cls, ids: tuple[str, ...]) -> tuple[str, ...]:
        for value in ids:
            if not re.fullmatch(r"[0-9a-fA-F]{4}:[0-9a-fA-F]{4}", value):
                raise ValueError(f"usb_ids entry {value!r} is not 'vvvv:pppp' in hex")
        return tuple(v.lower() for v in ids)

    def score(self, props: dict[str, str], label: str | None) -> int:
        """How many criteria matched (0: the profile does not cover this device)."""
        if props.get("ID_BUS", "") not in self.buses:
            return 0
        checks = (
            (self.usb_ids, f"{props.get('ID_VENDOR_ID', '')}:{props.get('ID_MODEL_ID', '')}"),
            (self.vendor, props.get("ID_VENDOR", "")),
            (self.model, props.get("ID_MODEL", "")),
            (self.label, label or ""),
        )
        score = 1
        for patterns, value in checks:
            if not patterns:
                continue
            if not any(fnmatch.fnmatch(value.lower(), p.lower()) for p in patterns):
                return 0
            score += 1
        return score


class Recordings(BaseModel):
    """Where recordings live on the volume and how their start time is written."""

    model_config = _STRICT
    globs: tuple[str, ...] = Field(("**",), description="patterns relative to the volume root")
    video: frozenset[str] = Field(VIDEO, description="extensions counted as video")
    audio: frozenset[str] = Field(AUDIO, description="extensions counted as audio")
    photo: frozenset[str] = Field(PHOTO, description="extensions counted as photo")
    filename_time: str | None = Field(
        r"(?P<Y>20\d\d)[-_]?(?P<m>\d\d)[-_]?(?P<d>\d\d)[-_T ]?"
        r"(?P<H>\d\d)[-_:]?(?P<M>\d\d)[-_:]?(?P<S>\d\d)",
        description="regex with groups Y m d H M S finding the start time in a file name",
    )
    utc_offset_minutes: int = Field(480, ge=-720, le=840,
                                    description="time zone of the device clock (480: China)")

    @field_validator("video", "audio", "photo", mode="before")
    @classmethod
    def _exts(cls, exts):
        return frozenset(e.lower() if e.startswith(".") else f".{e.lower()}" for e in exts)

    @field_validator("filename_time")
    @classmethod
    def _regex(cls, pattern: str | None) -> str | None:
        if pattern is not None:
            groups = set(re.compile(pattern).groupindex)
            if not {"Y", "m", "d", "H", "M", "S"} <= groups:
                raise ValueError("filename_time needs the named groups Y, m, d, H, M and S")
        return pattern

    def kind(self, relpath: str) -> str | None:
        """``video``/``audio``/``photo`` for a recording this profile takes, else None."""
        if not any(glob_match(g, relpath) for g in self.globs):
            return None
        ext = Path(relpath).suffix.lower()
        for kind, exts in (("video", self.video), ("audio", self.audio), ("photo", self.photo)):
            if ext in exts:
                return kind
        return None

    def time_from_name(self, relpath: str) -> datetime | None:
        """The recording start time written in its file name, as an aware UTC datetime."""
        if not self.filename_time:
            return None
        m = re.search(self.filename_time, relpath.rsplit("/", 1)[-1])
        if not m:
            return None
        try:
            local = datetime(*(int(m[g]) for g in ("Y", "m", "d", "H", "M", "S")))
        except ValueError:
            return None
        tz = timezone(timedelta(minutes=self.utc_offset_minutes))
        return local.replace(tzinfo=tz).astimezone(UTC)


class IdentityFile(BaseModel):
    """A ``KEY=VALUE`` (or ``KEY: VALUE``) text file the device writes about itself."""

    model_config = _STRICT
    path: str | None = Field(None, description="path on the volume, e.g. 'DEVICE.TXT'")
    serial: str = Field("SERIAL", description="key holding the device serial")
    officer_id: str = Field("POLICE_ID", description="key holding the officer badge (警号)")
    officer_name: str = Field("NAME", description="key holding the officer name")
    unit: str = Field("UNIT", description="key holding the unit")
    clock: str = Field("TIME", description="key holding the device clock when it was docked")
    clock_format: str = Field("%Y-%m-%d %H:%M:%S", description="strptime format of the clock")
    encodings: tuple[str, ...] = Field(("utf-8", "gb18030"), description="tried in order")


class Profile(BaseModel):
    model_config = _STRICT
    name: str = Field(description="short name, shown in logs and the ledger")
    description: str = ""
    match: Match = Match()
    recordings: Recordings = Recordings()
    identity: IdentityFile = IdentityFile()
    clear_after_handover: bool = Field(
        False, description="delete recordings from the device once their copy is verified")


GENERIC = Profile(
    name="generic",
    description="any USB mass-storage camera: recordings anywhere, start time from the name",
    identity=IdentityFile(path=None),
)


def glob_match(pattern: str, relpath: str) -> bool:
    """Shell-style match where ``**`` spans folders and ``*`` stays inside one name;
    ``DCIM/**`` matches everything below DCIM.  Case-insensitive (FAT is)."""
    rx = ""
    i = 0
    while i < len(pattern):
        if pattern.startswith("**", i):
            rx += ".*"
            i += 2
        elif pattern[i] == "*":
            rx += "[^/]*"
            i += 1
        elif pattern[i] == "?":
            rx += "[^/]"
            i += 1
        else:
            rx += re.escape(pattern[i])
            i += 1
    return re.fullmatch(rx, relpath, re.IGNORECASE | re.DOTALL) is not None


def load_profile(path: Path) -> Profile:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"device profile {path}: cannot read it: {exc}") from exc
    try:
        return Profile.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or '(top)'}: {e['msg']}" for e in exc.errors())
        raise ConfigError(f"device profile {path}: {problems}",
                          hint="see config/profiles/README.md for the keys") from exc


def load_profiles(folder: Path | None) -> list[Profile]:
    """Every ``*.toml`` profile in ``folder`` (sorted by file name), then the generic one."""
    found: list[Profile] = []
    if folder is not None and folder.is_dir():
        found = [load_profile(p) for p in sorted(folder.glob("*.toml"))]
    names = [p.name for p in found]
    dupes = {n for n in names if names.count(n) > 1}
    if dupes:
        raise ConfigError(
            f"device profiles in {folder}: the name(s) {sorted(dupes)} are used twice")
    return found + [GENERIC]


def choose(profiles: list[Profile], props: dict[str, str], label: str | None,
           allow_generic: bool = True) -> Profile | None:
    """The profile matching most criteria; the generic one only if nothing else matches."""
    best, best_score = None, 0
    for profile in profiles:
        if profile.name == "generic" and not allow_generic:
            continue
        score = profile.match.score(props, label)
        if profile.name == "generic":
            score = min(score, 1)
        if score > best_score:
            best, best_score = profile, score
    return best
