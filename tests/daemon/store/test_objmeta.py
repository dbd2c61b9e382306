"""Each stored recording carries enough metadata to say, without the ledger, what it is:
station, device, the exact path bytes, size, mtime, kind, times, officer and digests."""

from __future__ import annotations

import os

import pytest

from evidock.daemon.ingest import Ingestor, RetryPolicy
from evidock.daemon.store.objmeta import parse_media_metadata
from evidock.daemon.store.s3 import S3WormStore
from tests.daemon.world import World

NAME = b"\xd6\xd0\xce\xc4/REC 1.MP4"  # a GB18030 folder name: not UTF-8


def expected(media) -> dict:
    return {"station": "st-test", "media_id": media.id, "device_serial": media.device_serial,
            "officer_id": media.officer_id, "source_path": media.source_path,
            "source_path_raw": NAME.hex(), "size": media.size, "mtime_ns": media.mtime_ns,
            "kind": media.kind, "recorded_at": media.recorded_at, "found_at": media.found_at,
            "deadline_at": media.deadline_at, "blake3": media.blake3, "sha256": media.sha256}


def hand_over_odd_name(world: World):
    device = world.device("DSJ-7", officer="警号110")
    folder = world.root / "dev"
    (folder / os.fsdecode(NAME)).parent.mkdir(parents=True, exist_ok=True)
    (folder / os.fsdecode(NAME)).write_bytes(b"frames " * 500)
    st = os.stat(folder / os.fsdecode(NAME))
    from evidock.drivers.base import MediaItem

    item = MediaItem(device, str(folder), os.fsdecode(NAME), st.st_size, st.st_mtime_ns,
                     world.clock(), "video")
    media, _ = world.ledger.register_media(
        device_serial="DSJ-7", source_path=item.relpath, size=st.st_size,
        mtime_ns=st.st_mtime_ns, kind="video", recorded_at=world.clock(), handover_hours=24,
        officer_id="警号110")
    return world.hand_over(media, item)


def test_a_local_object_alone_describes_its_recording(tmp_path):
    world = World(tmp_path)
    media = hand_over_odd_name(world)
    [info] = list(world.store.list_objects())
    assert expected(media) == parse_media_metadata(info)


@pytest.mark.s3
def test_an_s3_object_keeps_its_metadata_through_staging_and_copy(tmp_path, s3_client,
                                                                  s3_bucket):
    world = World(tmp_path)
    world.store = S3WormStore(s3_client, s3_bucket, station="st-test")
    world.ingestor = Ingestor(world.ledger, world.store, retention_days=730, retry=RetryPolicy(),
                              clock=world.clock)
    media = hand_over_odd_name(world)
    info = world.store.stat(media.object_key)
    assert expected(media) == parse_media_metadata(info)
    world.store.close()


def test_an_object_without_evidock_metadata_says_what_it_lacks(tmp_path):
    from evidock.daemon.store.base import ObjectInfo

    info = ObjectInfo("media/b3/x", 1, "0" * 64, world_time(), False, metadata={"kind": "video"})
    with pytest.raises(ValueError, match="station"):
        parse_media_metadata(info)


def world_time():
    from datetime import UTC, datetime

    return datetime(2030, 1, 1, tzinfo=UTC)
