"""Choosing the next file: earliest deadline first across devices, one reader per device, and
the ledger asked only about the file taken (never once per queued file)."""

from __future__ import annotations

import os
from datetime import timedelta

import pytest

from evidock.daemon.pipeline import Pipeline
from evidock.drivers.base import DeviceIdentity, MediaItem

from .world import T0, World


def item(world, serial, name, recorded):
    folder = world.root / "dock" / serial
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(b"x" * 100)
    st = os.stat(folder / name)
    return MediaItem(DeviceIdentity(serial, officer_id="110001", source="watch"), str(folder),
                     name, st.st_size, st.st_mtime_ns, recorded, "video")


@pytest.fixture
def station(tmp_path, monkeypatch):
    world = World(tmp_path)
    world.clock.set(T0 + timedelta(hours=1))
    pipeline = Pipeline(world.ledger, world.ingestor, workers=1, handover_hours=24,
                        clock=world.clock)
    lookups = []
    media = world.ledger.media

    def counted(media_id):
        lookups.append(media_id)
        return media(media_id)

    monkeypatch.setattr(world.ledger, "media", counted)
    return world, pipeline, lookups


def take(pipeline):
    with pipeline._cond:
        media, _item = pipeline._take("test")
    return media


def test_the_earliest_deadline_of_any_idle_device_is_taken_first(station):
    world, pipeline, _ = station
    pipeline.media_found(item(world, "DSJ-1", "A.MP4", T0 + timedelta(minutes=30)))
    pipeline.media_found(item(world, "DSJ-2", "B.MP4", T0))
    pipeline.media_found(item(world, "DSJ-1", "C.MP4", T0 - timedelta(minutes=30)))
    assert "C.MP4" == take(pipeline).source_path
    assert "B.MP4" == take(pipeline).source_path  # DSJ-1 is being read
    assert {"DSJ-1", "DSJ-2"} == pipeline._busy_devices


def test_taking_a_file_reads_the_ledger_once_however_many_files_wait(station):
    world, pipeline, lookups = station
    for n in range(200):
        pipeline.media_found(item(world, "DSJ-BUSY", f"{n:03d}.MP4", T0 + timedelta(seconds=n)))
    pipeline.media_found(item(world, "DSJ-IDLE", "LATE.MP4", T0 + timedelta(hours=5)))
    first = take(pipeline)
    lookups.clear()
    second = take(pipeline)  # DSJ-BUSY is being read: its 199 waiting files are not looked at
    assert ("000.MP4", "LATE.MP4") == (first.source_path, second.source_path)
    assert [second.id] == lookups
    assert 199 == pipeline.status()["queued"]


def test_the_files_of_a_device_that_left_are_dropped_without_reading_the_ledger(station):
    world, pipeline, lookups = station
    gone = DeviceIdentity("DSJ-GONE", officer_id="110001", source="watch")
    for n in range(50):
        pipeline.media_found(item(world, "DSJ-GONE", f"{n:02d}.MP4", T0))
    pipeline.media_found(item(world, "DSJ-HERE", "KEPT.MP4", T0 + timedelta(hours=1)))
    pipeline.device_undocked(gone, "watch:test")
    lookups.clear()
    assert "KEPT.MP4" == take(pipeline).source_path
    assert 1 == len(lookups)
    assert 0 == pipeline.status()["queued"]


def test_a_file_handed_over_meanwhile_is_not_taken_again(station):
    world, pipeline, _ = station
    found = item(world, "DSJ-1", "A.MP4", T0)
    pipeline.media_found(found)
    pipeline.media_found(item(world, "DSJ-1", "B.MP4", T0 + timedelta(minutes=1)))
    media = world.ledger.media(1)
    assert "verified" == world.ingestor.ingest(media, found).state  # by another path
    assert "B.MP4" == take(pipeline).source_path
