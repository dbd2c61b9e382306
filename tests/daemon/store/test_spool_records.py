"""A record (a ledger anchor) written while S3 is away goes to the spool and is drained to S3
like a recording; reads and listings look in both places meanwhile."""

from __future__ import annotations

import socket
from datetime import UTC, datetime, timedelta

import pytest
from minio import Minio

from evidock.daemon.errors import ObjectMissing
from evidock.daemon.store.s3 import S3WormStore
from evidock.daemon.store.s3_wire import http_client
from evidock.daemon.store.spool import Drainer, Spool, SpoolingStore, SpoolLimits

pytestmark = pytest.mark.s3


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_record_written_while_s3_is_down_is_spooled_then_drained(tmp_path, s3_client,
                                                                   s3_bucket):
    dead = Minio(f"127.0.0.1:{free_port()}", access_key="x", secret_key="y", secure=False,
                 region="us-east-1", http_client=http_client(timeout=2, retries=0))
    up = S3WormStore(s3_client, s3_bucket, station="st")
    store = SpoolingStore(S3WormStore(dead, s3_bucket, station="st"), Spool(tmp_path / "spool"),
                          SpoolLimits(1 << 30))
    key, until = "ledger/st/000000000007-abc.jsonl", datetime.now(UTC) + timedelta(minutes=5)

    store.put_record(key, b"anchor bytes", retain_until=until)
    assert store.primary_down()
    assert b"anchor bytes" == store.read_record(key)
    assert [key] == store.spool.list_records("ledger/")

    store.primary = up  # S3 is back
    assert 1 == Drainer(store).drain_once()
    assert [] == store.spool.list_records("ledger/")
    assert b"anchor bytes" == up.read_record(key)
    assert "COMPLIANCE" == up.stat(key).lock_mode
    assert [key] == store.list_records("ledger/st/")
    with pytest.raises(ObjectMissing):
        store.spool.read_record(key)
    up.close()


def test_anchors_written_while_s3_is_down_wait_in_the_spool_and_still_chain(tmp_path, s3_client,
                                                                            s3_bucket):
    from evidock.daemon.ledger import anchor
    from evidock.daemon.ledger.sqlite import SqliteLedger

    dead = Minio(f"127.0.0.1:{free_port()}", access_key="x", secret_key="y", secure=False,
                 region="us-east-1", http_client=http_client(timeout=2, retries=0))
    up = S3WormStore(s3_client, s3_bucket, station="st-down")
    store = SpoolingStore(up, Spool(tmp_path / "spool"), SpoolLimits(1 << 30))
    ledger = SqliteLedger(tmp_path / "ledger.sqlite3", station="st-down")
    anchorer = anchor.Anchorer(ledger, store, station="st-down", retention_days=1)
    ledger.record("daemon_started", "station:st-down", {"pid": 1})
    first = anchorer.write()

    store.primary = S3WormStore(dead, s3_bucket, station="st-down")  # S3 goes away
    ledger.record("daemon_stopped", "station:st-down", {"pid": 1})
    second = anchorer.write()  # S3 cannot even be listed: the anchorer's own last anchor counts
    assert [second] == store.spool.list_records("ledger/")

    store.primary = up
    assert 1 == Drainer(store).drain_once()
    segments = anchor.read_segments(up, "st-down")
    assert [first, second] == [s.key for s in segments]
    assert [] == anchor.chain_problems(segments)
    up.close()
