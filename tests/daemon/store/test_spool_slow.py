"""A slow S3 must not make a recording late (R1): a put that S3, at the rate it has shown,
would finish too close to the recording's handover deadline goes to the spool instead."""

from __future__ import annotations

import io
import os
from datetime import UTC, datetime, timedelta

from evidock.daemon.hashing import HashingReader
from evidock.daemon.store.local import LocalWormStore
from evidock.daemon.store.spool import Spool, SpoolingStore, SpoolLimits
from evidock.daemon.timeutil import stamp


def front(tmp_path) -> SpoolingStore:
    # the primary stands in for S3: what is measured here is the routing, not the network
    return SpoolingStore(LocalWormStore(tmp_path / "primary"), Spool(tmp_path / "spool"),
                         SpoolLimits(max_bytes=1 << 30, margin=timedelta(hours=1)))


def put(store, data: bytes, deadline: datetime):
    return store.put(HashingReader(io.BytesIO(data), len(data)),
                     retain_until=datetime.now(UTC) + timedelta(days=1),
                     metadata={"deadline-at": stamp(deadline)})


def test_without_a_measured_rate_puts_go_to_s3(tmp_path):
    store = front(tmp_path)
    got = put(store, os.urandom(1000), datetime.now(UTC) + timedelta(minutes=5))
    assert "spooled" not in got.details


def test_a_recording_s3_would_finish_too_late_is_spooled(tmp_path):
    store = front(tmp_path)
    store.note_rate(100 << 20, 100.0)  # 1 MiB/s seen on recent puts
    data = os.urandom(300_000)
    soon = put(store, data, datetime.now(UTC) + timedelta(minutes=30))
    assert (True, store.spool.name) == (soon.details.get("spooled"), soon.details.get("store"))
    assert False is store.primary_down()  # slow is not down: other recordings still go to S3
    later = put(store, os.urandom(300_000), datetime.now(UTC) + timedelta(hours=20))
    assert "spooled" not in later.details


def test_large_puts_feed_the_measured_rate(tmp_path):
    store = front(tmp_path)
    put(store, os.urandom(9 << 20), datetime.now(UTC) + timedelta(hours=20))
    assert store._rate is not None and store._rate > 0
