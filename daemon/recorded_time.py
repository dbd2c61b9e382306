"""When a recording was made: the best of the times the device left on it.

Three sources, best first: the container's creation time (written by the camera's muxer
when it started recording), the start time the device profile's ``filename_time`` pattern
found in its name (what the driver recorded as ``recorded_at`` unless it flagged
``time_from_mtime``), and the file's modification time (its end, so its start is the
mtime less the duration).  All three come from the device's clock, so each is corrected by
the clock offset measured when it was docked (device clock minus station clock): the
offset moves them alike and never changes which one wins or how far apart they are.

Sources more than :data:`DISAGREE_S` apart are flagged: a camera that writes local time
into the container's UTC field, a file copied by a tool that set its mtime, a clock reset.
The winner is still the best source; the flag tells a reviewer to look before relying on it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from evidock.daemon.timeutil import parse, stamp

DISAGREE_S = 60.0
#: A camera whose clock was never set writes 1904 or 1970 into the container: no time at all.
OLDEST = datetime(2000, 1, 1, tzinfo=UTC)
ORDER = ("container", "name", "mtime")


@dataclass(frozen=True)
class RecordedTime:
    start: str | None  # ledger stamps, corrected by the clock offset
    end: str | None
    source: str | None  # "container", "name" or "mtime"
    sources: dict[str, str]  # each source's start as the device clock had it
    correction_s: float | None  # subtracted from the device times: the measured offset
    spread_s: float | None  # the furthest two sources are apart
    disagree: bool  # spread over DISAGREE_S

    def as_probe(self) -> dict:
        return {"recorded_start": self.start, "recorded_end": self.end,
                "time_source": self.source, "time_sources": self.sources or None,
                "time_correction_s": self.correction_s, "time_spread_s": self.spread_s,
                "time_disagree": self.disagree}


def creation_time(text: str | None) -> datetime | None:
    """A container's ``creation_time`` tag, or None when absent, unreadable or unset."""
    if not text:
        return None
    try:
        found = parse(text.strip())
    except ValueError:
        return None
    return found if found >= OLDEST else None


def best(*, container: datetime | None, named: datetime | None, mtime: datetime | None,
         duration_s: float | None, clock_offset_s: float | None) -> RecordedTime:
    """The recording's start and end from whichever of the sources it has (device clock
    times, aware), corrected by ``clock_offset_s`` where it is known."""
    length = timedelta(seconds=duration_s or 0)
    starts = {"container": container, "name": named,
              "mtime": mtime - length if mtime is not None else None}
    starts = {k: v for k, v in starts.items() if v is not None}
    if not starts:
        return RecordedTime(None, None, None, {}, None, None, False)
    source = next(k for k in ORDER if k in starts)
    shift = timedelta(seconds=clock_offset_s or 0)
    start = starts[source] - shift
    spread = (max(starts.values()) - min(starts.values())).total_seconds()
    return RecordedTime(
        start=stamp(start), end=stamp(start + length) if duration_s else None, source=source,
        sources={k: stamp(v) for k, v in starts.items()},
        correction_s=clock_offset_s, spread_s=round(spread, 3),
        disagree=spread > DISAGREE_S)
