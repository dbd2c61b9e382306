"""Where a recording's handover clock starts (R1), whatever the device's clock says.

A recording must be handed over within the window (24 h at most) of being made.  Its time
comes from the device (the file name or the mtime), and a device clock can be wrong: a camera
whose clock ran years ahead would otherwise get a deadline years away.  So the clock starts at
the recording time or at the moment the station first saw the file, whichever is earlier, and
at discovery when the time is implausible (in the future, or before 2010): a deadline is never
later than first-seen + window.  A duty exemption (R2, daemon/exemptions.py) may move it later
only up to that same bound.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

#: Media flags (set by the drivers) that say the recording time cannot be trusted.
UNTRUSTED_TIME = frozenset({"time_in_future", "time_implausibly_old"})


def trusted_time(flags: Iterable[str] | str) -> bool:
    """False when the drivers flagged the recording time as implausible."""
    if isinstance(flags, str):
        flags = [f for f in flags.split(",") if f]
    return not UNTRUSTED_TIME & set(flags)


def first_deadline(recorded_at: datetime, found_at: datetime, window: timedelta,
                   flags: Iterable[str] | str = ()) -> datetime:
    """The deadline a recording gets when it is first seen."""
    if not trusted_time(flags):
        return found_at + window
    return min(recorded_at, found_at) + window


def latest_deadline(found_at: datetime, window: timedelta) -> datetime:
    """No deadline, however it was moved, is later than this."""
    return found_at + window
