"""Rows of the ledger as Python values, and the per-file state machine."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass

from evidock.daemon.errors import InvalidTransition

SEEN, COPYING, STORED, VERIFIED, FAILED = "seen", "copying", "stored", "verified", "failed"
#: a version of a file that changed in place before it was stored: a newer row replaced it
SUPERSEDED = "superseded"

#: Which state each state may move to.  ``verified`` is final: that recording is handed over;
#: so is ``superseded``, which only a row that never reached the store can take.
TRANSITIONS: dict[str, frozenset[str]] = {
    SEEN: frozenset({COPYING, SUPERSEDED}),
    FAILED: frozenset({COPYING, SUPERSEDED}),
    COPYING: frozenset({STORED, FAILED, SEEN}),  # SEEN: interrupted by a crash or shutdown
    STORED: frozenset({VERIFIED, FAILED}),
    VERIFIED: frozenset(),
    SUPERSEDED: frozenset(),
}
#: the states in which nothing is left to do for a row (SQL: ``state IN FINISHED_SQL``)
FINISHED = (VERIFIED, SUPERSEDED)
FINISHED_SQL = "('verified', 'superseded')"


def check_transition(media_id: int, old: str, new: str) -> None:
    if new not in TRANSITIONS[old]:
        raise InvalidTransition(f"media {media_id}: cannot go from {old} to {new}")


def display_path(path: str) -> str:
    """A path for people and JSON: undecodable bytes from the device become ``\\xNN``."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


@dataclass(frozen=True)
class MediaRecord:
    id: int
    device_serial: str
    officer_id: str | None
    source_path: str
    size: int
    mtime_ns: int
    kind: str
    recorded_at: str
    deadline_at: str
    found_at: str
    state: str
    attempts: int
    retry_at: str | None
    last_error: str | None
    blake3: str | None
    sha256: str | None
    store: str | None
    object_key: str | None
    retain_until: str | None
    ingested_at: str | None
    clock_offset_s: float | None
    flags: str
    version_id: str | None = None  # the S3 version holding it (reads address it)
    superseded_by: int | None = None  # superseded: the row of the file's new version

    COLUMNS = (
        "id, device_serial, officer_id, source_path, size, mtime_ns, kind, recorded_at, "
        "deadline_at, found_at, state, attempts, retry_at, last_error, blake3, sha256, store, "
        "object_key, retain_until, ingested_at, clock_offset_s, flags, version_id, "
        "superseded_by"
    )

    @property
    def handed_over(self) -> bool:
        return self.state == VERIFIED

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class DeviceRecord:
    serial: str
    model: str | None
    vendor: str | None
    officer_id: str | None
    officer_name: str | None
    unit: str | None
    source: str
    registered: bool
    first_seen_at: str
    last_dock_at: str | None
    last_undock_at: str | None
    last_port: str | None

    COLUMNS = (
        "serial, model, vendor, officer_id, officer_name, unit, source, registered, "
        "first_seen_at, last_dock_at, last_undock_at, last_port"
    )


@dataclass(frozen=True)
class Event:
    seq: int
    at: str
    station: str
    kind: str
    subject: str
    data: str
    prev_hash: str
    hash: str
