"""Failure paths of the S3 store against a server that is stopped, restarted or loses a client:
nothing half-written is committed, the spool takes over, and everything reaches S3 afterwards."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import textwrap
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from evidock.daemon.errors import ObjectMissing, StoreUnavailable
from evidock.daemon.hashing import HashingReader
from evidock.daemon.store.s3 import S3WormStore
from evidock.daemon.store.spool import Drainer, Spool, SpoolingStore, SpoolLimits
from tests.s3_fixture import module_server, s3_client_for

from .contract import reader

pytestmark = pytest.mark.s3
MiB = 1 << 20
ROOT = Path(__file__).resolve().parents[3]


def soon(seconds: float = 300) -> datetime:
    return datetime.now(UTC) + timedelta(seconds=seconds)


# A server of this module's own: these tests stop and start it.
server, up = module_server("s3-outage", bucket="outage")


@pytest.fixture
def store(up):
    store = S3WormStore(s3_client_for(up), "outage", station="outage", part_size=5 * MiB,
                        concurrency=2)
    yield store
    store.close()


class StopsServer(io.RawIOBase):
    """A recording whose device read stalls while the S3 server goes away mid-upload."""

    def __init__(self, data: bytes, server, after: int) -> None:
        self._buf, self._server, self._after, self._pos = io.BytesIO(data), server, after, 0

    def read(self, n=-1):
        if self._pos >= self._after and self._server.proc is not None:
            self._server.stop(signal.SIGKILL)
        chunk = self._buf.read(n)
        self._pos += len(chunk)
        return chunk


def versions(client, key):
    return [o for o in client.list_objects("outage", prefix=key, include_version=True)
            if o.object_name == key]


def test_server_stopped_mid_upload_is_unavailable_and_commits_nothing(server, store):
    data = os.urandom(16 * MiB)
    stream = HashingReader(StopsServer(data, server, 6 * MiB), len(data), name="cut.mp4")
    with pytest.raises(StoreUnavailable):
        store.put(stream, retain_until=soon())
    server.start()
    key = store.put(reader(os.urandom(10)), retain_until=soon()).key  # the server is back
    got = store.put(reader(data), retain_until=soon())
    assert (False, 1) == (got.existed, len(versions(store.client, got.key)))
    assert key != got.key


def test_a_put_while_the_server_is_down_fails_fast_as_unavailable(server, store):
    server.stop(signal.SIGKILL)
    started = time.monotonic()
    with pytest.raises(StoreUnavailable):
        store.put(reader(os.urandom(1000)), retain_until=soon())
    assert time.monotonic() - started < 10


def spooling(store, tmp_path, max_bytes=1 << 30):
    return SpoolingStore(store, Spool(tmp_path / "spool"), SpoolLimits(max_bytes, 0.5))


def test_recordings_go_to_the_spool_while_s3_is_down_and_drain_in_deadline_order(
        server, store, tmp_path):
    front = spooling(store, tmp_path)
    late, early = os.urandom(7 * MiB), os.urandom(1000)
    server.stop(signal.SIGKILL)
    with pytest.raises(StoreUnavailable, match="next attempt goes to the spool"):
        front.put(reader(late), retain_until=soon())
    spooled = [front.put(reader(data), retain_until=soon(), legal_hold=hold,
                         metadata={"recorded-at": at})
               for data, hold, at in ((late, True, "2026-01-02T00:00:00Z"),
                                      (early, False, "2026-01-01T00:00:00Z"))]
    assert [True, True] == [s.details["spooled"] for s in spooled]
    assert 2 == front.status()["spool_files"]
    assert len(late) == front.stat(spooled[0].key).size
    drainer = Drainer(front)
    assert drainer.drain_once() is None  # still down: nothing moved, nothing lost
    assert 2 == front.status()["spool_files"]

    server.start()
    order = []
    put = store.put
    store.put = lambda stream, **kw: order.append(stream.name) or put(stream, **kw)
    assert 2 == drainer.drain_once()
    assert [f"spool:{spooled[1].key}", f"spool:{spooled[0].key}"] == order
    assert 0 == front.status()["spool_files"]
    info = store.stat(spooled[0].key)
    assert ("COMPLIANCE", True, spooled[0].digests.sha256) == (
        info.lock_mode, info.legal_hold, info.sha256)
    with store.open(spooled[0].key) as fh:
        assert late == fh.read()
    assert False is front.primary_down()


def test_a_full_spool_refuses_with_what_to_do(server, store, tmp_path):
    front = spooling(store, tmp_path, max_bytes=10_000)
    front.mark_down("test")
    front.put(reader(os.urandom(6000)), retain_until=soon())
    assert any("full" in w for w in front.spool_warnings())
    with pytest.raises(StoreUnavailable, match="store.spool.max_gib"):
        front.put(reader(os.urandom(6000)), retain_until=soon())


CHILD = textwrap.dedent("""
    import io, random, sys, time
    from datetime import datetime, timedelta, timezone
    from minio import Minio
    from evidock.daemon.hashing import HashingReader
    from evidock.daemon.store.s3 import S3WormStore

    class Stalls(io.RawIOBase):
        def __init__(self, data):
            self.buf = io.BytesIO(data)
        def read(self, n=-1):
            if self.buf.tell() >= 12 << 20:
                print("parts sent", flush=True)
                time.sleep(600)
            return self.buf.read(n)

    endpoint, ak, sk = sys.argv[1:4]
    data = random.Random(7).randbytes(20 << 20)
    store = S3WormStore(Minio(endpoint, ak, sk, secure=False, region="us-east-1"), "outage",
                        station="outage", part_size=5 << 20, concurrency=2)
    store.put(HashingReader(Stalls(data), len(data)),
              retain_until=datetime.now(timezone.utc) + timedelta(minutes=5))
""")


def test_kill_9_during_a_multipart_upload_loses_nothing_and_leaves_no_duplicate(store, up):
    import random

    child = subprocess.Popen([sys.executable, "-c", CHILD, up.endpoint, up.access_key,
                              up.secret_key], stdout=subprocess.PIPE, cwd=ROOT)
    try:
        assert b"parts sent" in child.stdout.readline()
    finally:
        child.kill()
        child.wait()
    assert 1 <= store.recover()  # the open upload is aborted at the next start
    data = random.Random(7).randbytes(20 << 20)
    from evidock.daemon.hashing import digest_file
    from evidock.daemon.store.keys import object_key

    with pytest.raises(ObjectMissing):
        store.stat(object_key(digest_file(io.BytesIO(data))))
    got = store.put(reader(data), retain_until=soon())
    assert 1 == len(versions(store.client, got.key))


def test_the_daemon_hands_over_to_the_spool_while_s3_is_down_and_the_ledger_follows_the_move(
        server, tmp_path, monkeypatch):
    """Done-when of issue 4: with S3 stopped, docked recordings are still handed over (to the
    spool) and reach S3 bit-exact after it returns; the ledger records where each one is."""
    import sqlite3

    import structlog

    from evidock.daemon import config as config_mod
    from evidock.daemon.cli.main import main
    from evidock.daemon.ledger.sqlite import SqliteLedger
    from evidock.daemon.wiring import Wiring

    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
    monkeypatch.setenv("EVIDOCK_S3_ACCESS_KEY", server.access_key)
    monkeypatch.setenv("EVIDOCK_S3_SECRET_KEY", server.secret_key)
    config_file = tmp_path / "evidock.toml"
    config_file.write_text(
        f'[station]\nid = "st2"\ndata_dir = "{tmp_path / "data"}"\n[ingest]\n'
        f'retry_base_seconds = 0.2\n[store]\ntype = "s3"\nendpoint = "http://{server.endpoint}"\n'
        f'bucket = "outage"\npart_size_mib = 5\ntimeout_seconds = 5\n')
    watch = tmp_path / "watch" / "CAM0002"
    watch.mkdir(parents=True)
    clips = [os.urandom(6 * MiB), os.urandom(5000)]
    for n, data in enumerate(clips):
        (watch / f"clip{n}.mp4").write_bytes(data)
    (watch / "copy-of-clip1.mp4").write_bytes(clips[1])  # same bytes: one spooled object
    server.stop(signal.SIGKILL)
    try:
        assert 0 == main(["run", "--config", str(config_file), "--watch", str(watch.parent),
                          "--settle", "0", "--until-idle"])
    finally:
        structlog.reset_defaults()
    db = sqlite3.connect(tmp_path / "data" / "ledger.sqlite3")
    stores = db.execute("SELECT state, store FROM media").fetchall()
    assert [("verified", f"spool:{tmp_path / 'data' / 'spool'}")] * 3 == stores

    server.start()
    config = config_mod.load(config_file)
    ledger = SqliteLedger(config.ledger_path, station="st2")
    front = Wiring(config).store
    assert 2 == Drainer(front, ledger).drain_once()
    assert {("verified", "s3:outage")} == set(db.execute("SELECT state, store FROM media"))
    assert ledger.verify().ok
    for (key,) in db.execute("SELECT object_key FROM media"):
        assert 1 == len(versions(front.primary.client, key))
        with front.open(key) as fh:
            assert fh.read() in clips
    assert 0 == front.status()["spool_files"]


def test_refused_credentials_also_send_recordings_to_the_spool(up, tmp_path):
    """Expired or wrong keys must not keep recordings on their devices past the deadline."""
    from minio import Minio

    wrong = S3WormStore(Minio(up.endpoint, up.access_key, "wrong-secret", secure=False,
                              region="us-east-1"), "outage", station="outage")
    front = spooling(wrong, tmp_path)
    with pytest.raises(StoreUnavailable, match="AccessDenied|SignatureDoesNotMatch"):
        front.put(reader(os.urandom(100)), retain_until=soon())
    assert True is front.put(reader(os.urandom(100)), retain_until=soon()).details["spooled"]
    assert Drainer(front).drain_once() is None  # still refused: stays spooled, S3 stays "down"
    assert (1, True) == (front.status()["spool_files"], front.primary_down())
    wrong.close()
