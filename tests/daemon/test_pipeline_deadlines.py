"""The ingest queue orders by the deadline after duty exemptions moved it (R2)."""

from __future__ import annotations

import os
from datetime import timedelta

from evidock.daemon.pipeline import Pipeline
from evidock.drivers.base import DeviceIdentity, MediaItem

from .world import T0, World


def item(world, serial, officer, name, recorded):
    folder = world.root / "dock" / serial
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(b"x" * 100)
    st = os.stat(folder / name)
    return MediaItem(DeviceIdentity(serial, officer_id=officer, source="watch"), str(folder), name,
                     st.st_size, st.st_mtime_ns, recorded, "video")


def test_a_found_recording_of_an_exempted_officer_queues_behind_one_due_sooner(tmp_path):
    world = World(tmp_path)
    world.clock.set(T0 + timedelta(days=2))
    world.c.exemptions.add(officer_id="110001", device_serial=None, start=T0 - timedelta(days=1),
                           end=T0 + timedelta(days=1), reason="remote_area", note="", by="z")
    pipeline = Pipeline(world.ledger, world.ingestor, workers=1, handover_hours=24,
                        clock=world.clock, adjust_deadline=world.c.exemptions.adjust)
    pipeline.media_found(item(world, "DSJ-1", "110001", "A.MP4", T0))  # exempted, older
    pipeline.media_found(item(world, "DSJ-2", "110002", "B.MP4", T0 + timedelta(hours=12)))
    queued = [media_id for _, media_id in sorted(pipeline._ready)]
    assert [2, 1] == queued
    assert world.ledger.media(1).deadline_at > world.ledger.media(2).deadline_at
