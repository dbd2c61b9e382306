"""A store outage is not a recording's fault: files that fail while S3 is down (here with no
spool in front of it) keep their place in the queue however many attempts it takes, and the
running pipeline hands them over once S3 is back."""

from __future__ import annotations

import signal

import pytest

from evidock.daemon.ingest import Ingestor, RetryPolicy
from evidock.daemon.ledger.sqlite import SqliteLedger
from evidock.daemon.pipeline import Pipeline
from evidock.daemon.store.s3 import S3WormStore
from tests.daemon_proc import wait_for
from tests.s3_fixture import s3_client_for, start_server

from .test_worker_failures import drop

pytestmark = pytest.mark.s3
MiB = 1 << 20


def test_recordings_failed_during_an_s3_outage_are_handed_over_when_it_returns(tmp_path):
    server = start_server(tmp_path / "s3")
    server.make_lock_bucket("outage-retry")
    store = S3WormStore(s3_client_for(server), "outage-retry", station="t", part_size=5 * MiB,
                        concurrency=2)
    ledger = SqliteLedger(tmp_path / "ledger.sqlite3", station="st")
    ingestor = Ingestor(ledger, store, retention_days=1, chunk_size=64 << 10,
                        retry=RetryPolicy(2, 0.05, 0.2))
    pipeline = Pipeline(ledger, ingestor, workers=2, handover_hours=24)
    (tmp_path / "dev").mkdir()
    pipeline.start()
    try:
        server.stop(signal.SIGKILL)
        for name in ("a.mp4", "b.mp4"):
            pipeline.media_found(drop(tmp_path / "dev", name, 200_000))
        wait_for(lambda: min(m.attempts for m in ledger.list_media()) >= 4, 60,
                 what="twice max_attempts each")
        rows = ledger.list_media()  # failed and waiting, or being tried again right now
        assert {"failed", "copying"} >= {m.state for m in rows}
        assert all(m.retry_at is not None for m in rows if m.state == "failed")
        assert 0 == pipeline.status()["quarantined"]
        server.start()
        wait_for(lambda: ledger.counts() == {"verified": 2}, 60, what="handed over")
    finally:
        pipeline.stop(grace_seconds=2)
        store.close()
        server.stop(timeout=5)
    assert ledger.verify().ok
