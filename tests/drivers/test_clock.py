"""A wrong device clock cannot move a deadline out (R1, R2): real files on disk, scanned by
the real drivers, registered in a real ledger."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta, timezone

from evidock.daemon.ledger.sqlite import SqliteLedger
from evidock.daemon.timeutil import parse
from evidock.drivers.base import DeviceIdentity
from evidock.drivers.profiles import GENERIC
from evidock.drivers.volume import DeviceFacts, robust_mtime_offset, scan
from evidock.drivers.watchfolder import WatchFolderDriver

from ..daemon_proc import wait_for
from .test_watchfolder import Recorder

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
DEVICE = DeviceIdentity("DSJ-1", source="usb")
GENERIC_ZONE = timezone(timedelta(minutes=GENERIC.recordings.utc_offset_minutes))


def card(root, stamps: dict[str, datetime]) -> None:
    """Files on a camera card whose mtimes the device clock wrote."""
    for name, when in stamps.items():
        path = root / "DCIM" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"\0" * 64)
        os.utime(path, ns=(int(when.timestamp() * 1e9),) * 2)


def scanned(root) -> list:
    return list(scan(str(root), DEVICE, GENERIC, DeviceFacts(), NOW, []))


def test_one_file_stamped_years_ahead_sets_no_clock_offset_for_the_card(tmp_path):
    card(tmp_path, {f"REC{n}.MP4": NOW - timedelta(hours=n) for n in range(1, 6)}
         | {"BAD.MP4": NOW + timedelta(days=3 * 365)})
    items = scanned(tmp_path)
    assert robust_mtime_offset(items, NOW) is None
    assert ["DCIM/BAD.MP4"] == [i.relpath for i in items if "time_in_future" in i.flags]


def test_a_clock_running_ahead_is_estimated_and_one_outlier_cannot_shift_it(tmp_path):
    ahead = timedelta(hours=2)
    good = {f"REC{n}.MP4": NOW + ahead - timedelta(minutes=11 * n) for n in range(1, 6)}
    card(tmp_path / "a", good)
    card(tmp_path / "b", good | {"BAD.MP4": NOW + timedelta(days=3 * 365)})
    plain = robust_mtime_offset(scanned(tmp_path / "a"), NOW)
    with_outlier = robust_mtime_offset(scanned(tmp_path / "b"), NOW)
    assert 7200 - 60 * 60 < plain <= 7200
    # the median moves by at most half a gap between neighbours, never by years
    assert abs(with_outlier - plain) <= 11 * 60


def test_a_future_dated_file_gets_its_deadline_from_when_it_was_first_seen(tmp_path):
    card(tmp_path, {"REC1.MP4": NOW + timedelta(days=3 * 365)})
    [item] = scanned(tmp_path)
    ledger = SqliteLedger(tmp_path / "ledger.sqlite3", station="st", clock=lambda: NOW)
    ledger.ensure_device("DSJ-1", source="usb")
    media, _ = ledger.register_media(
        device_serial="DSJ-1", source_path=item.relpath, size=item.size,
        mtime_ns=item.mtime_ns, kind=item.kind, recorded_at=item.recorded_at,
        handover_hours=24, flags=item.flags)
    assert "time_in_future" in media.flags
    assert parse(media.deadline_at) - parse(media.found_at) <= timedelta(hours=24)
    assert parse(media.deadline_at) == NOW + timedelta(hours=24)
    ledger.verify()


def test_watch_folders_flag_times_and_empty_files_like_a_dock_and_read_the_name(tmp_path):
    folder = tmp_path / "in" / "DSJ-7"
    folder.mkdir(parents=True)
    now = datetime.now(UTC)

    def drop(name: str, mtime: datetime, data: bytes = b"x" * 10) -> None:
        (folder / name).write_bytes(data)
        os.utime(folder / name, ns=(int(mtime.timestamp() * 1e9),) * 2)

    start = (now - timedelta(hours=3)).astimezone(GENERIC_ZONE)
    drop(f"{start:%Y%m%d_%H%M%S}.MP4", now - timedelta(hours=3) + timedelta(minutes=10))
    drop("future.MP4", now + timedelta(days=400))
    drop("old.MP4", datetime(2003, 1, 1, tzinfo=UTC))
    drop("empty.MP4", now - timedelta(hours=1), b"")
    drop(f"{start:%Y%m%d_%H%M%S}_B.MP4", now - timedelta(days=5))  # copied with a stale mtime
    sink = Recorder()
    driver = WatchFolderDriver([tmp_path / "in"], settle_seconds=0.1, rescan_seconds=30)
    driver.start(sink)
    try:
        assert wait_for(lambda: len(sink.items) == 5, timeout=20)
    finally:
        driver.stop()
    by_name = {i.relpath: i for i in sink.items}
    named = by_name[f"{start:%Y%m%d_%H%M%S}.MP4"]
    assert abs(named.recorded_at - (now - timedelta(hours=3))) < timedelta(seconds=1)
    assert "time_from_mtime" not in named.flags and "time_name_mtime_disagree" not in named.flags
    assert "time_in_future" in by_name["future.MP4"].flags
    assert "time_implausibly_old" in by_name["old.MP4"].flags
    assert "empty_file" in by_name["empty.MP4"].flags
    assert "time_name_mtime_disagree" in by_name[f"{start:%Y%m%d_%H%M%S}_B.MP4"].flags
