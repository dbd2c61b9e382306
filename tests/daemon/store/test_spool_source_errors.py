"""The spooling store in front of a real S3 server passes the source-error part of the store
contract: a camera yanked while its stream goes up (to S3, or to the spool while S3 is down)
surfaces as the device having vanished, never marks S3 down, never lets the drainer think
S3 failed, and leaves nothing in the spool or the bucket."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

import pytest

from evidock.daemon.errors import SourceVanished
from evidock.daemon.store.s3 import S3WormStore
from evidock.daemon.store.spool import Spool, SpoolingStore, SpoolLimits

from .contract import SourceErrorContract, yanked

pytestmark = pytest.mark.s3
MiB = 1 << 20


@pytest.fixture
def store(s3_client, s3_bucket, tmp_path):
    primary = S3WormStore(s3_client, s3_bucket, station="test", part_size=5 * MiB,
                          concurrency=2)
    yield SpoolingStore(primary, Spool(tmp_path / "spool"), SpoolLimits(1 << 30))
    primary.close()


class TestSpoolingStoreSourceErrors(SourceErrorContract):
    def retain(self) -> datetime:
        return datetime.now(UTC) + timedelta(seconds=120)


def test_a_yank_while_s3_is_down_goes_nowhere_and_s3_stays_down_only_for_its_own_reason(
        store):
    """S3 is down (marked by a real failure earlier): the put goes to the spool, the device
    vanishes mid-file; nothing is spooled, and the spool's state is what S3 made it."""
    store.mark_down("test: S3 went away")
    with pytest.raises(SourceVanished):
        store.put(yanked(os.urandom(3 * MiB), 2 * MiB),
                  retain_until=datetime.now(UTC) + timedelta(seconds=120))
    assert (0, 0) == store.spool.usage()[:2]
    assert 0 == store.spool.recover()
    assert True is store.primary_down()
