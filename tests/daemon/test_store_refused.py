"""Action.STOP for a store: S3 refusing the daemon's credentials pauses ingest (no file is
read again, none is given up on), ``status`` says why, and ingest resumes by itself once a
probe of the store (``store.check()``) passes."""

from __future__ import annotations

import time

import pytest
from minio import Minio

from evidock.daemon.ingest import Ingestor, RetryPolicy
from evidock.daemon.ledger.sqlite import SqliteLedger
from evidock.daemon.pipeline import Pipeline
from evidock.daemon.store.s3 import S3WormStore
from evidock.daemon.store.s3_wire import http_client
from tests.daemon_proc import wait_for
from tests.s3_fixture import s3_client_for

from .test_worker_failures import drop

pytestmark = pytest.mark.s3
MiB = 1 << 20


def test_refused_credentials_pause_ingest_until_the_store_accepts_the_daemon(
        s3_server, s3_bucket, tmp_path):
    wrong = Minio(s3_server.endpoint, access_key=s3_server.access_key, secret_key="not-it",
                  secure=False, region="us-east-1", http_client=http_client(timeout=5))
    store = S3WormStore(wrong, s3_bucket, station="t", part_size=5 * MiB, concurrency=2)
    ledger = SqliteLedger(tmp_path / "ledger.sqlite3", station="st")
    ingestor = Ingestor(ledger, store, retention_days=1, chunk_size=64 << 10,
                        retry=RetryPolicy(1, 0.05, 0.2))
    pipeline = Pipeline(ledger, ingestor, workers=1, handover_hours=24,
                        pause_base_seconds=0.2, pause_max_seconds=0.5)
    (tmp_path / "dev").mkdir()
    pipeline.start()
    try:
        for name in ("a.mp4", "b.mp4"):
            pipeline.media_found(drop(tmp_path / "dev", name, 100_000))
        paused = wait_for(lambda: pipeline.status()["paused"], 30, what="a pause")
        assert "store" == paused["cause"]
        time.sleep(1.5)  # probes fail meanwhile; no file is read again
        rows = ledger.list_media()
        assert 1 == sum(m.attempts for m in rows)  # max_attempts is 1: still not given up
        assert all(m.retry_at is not None for m in rows if m.state == "failed")
        assert pipeline.status()["paused"]["probes"] >= 1
        store.client = s3_client_for(s3_server)  # the credentials are fixed
        wait_for(lambda: ledger.counts() == {"verified": 2}, 30, what="handed over")
        assert pipeline.status()["paused"] is None
    finally:
        pipeline.stop(grace_seconds=2)
        store.close()
    assert "ingest_resumed" in [e.kind for e in ledger.events()]
