"""Failure paths of the pipeline's workers: a full ledger disk inside the failure path, a
full store, a worker thread that dies, a worker stuck on one file.  No worker dies unseen,
no recording is given up on for the station's own trouble, and work resumes by itself."""

from __future__ import annotations

import os
import threading
import time

import pytest

from evidock.daemon.ingest import Ingestor, RetryPolicy
from evidock.daemon.ledger.sqlite import SqliteLedger
from evidock.daemon.pipeline import Pipeline
from evidock.daemon.store.local import LocalWormStore
from evidock.drivers.base import DeviceIdentity, MediaItem
from tests.daemon_proc import wait_for
from tests.small_fs import small_fs

from .test_ingest import T0

CAM = DeviceIdentity("CAM7", source="watch")


def drop(device, name: str, size: int = 50_000) -> MediaItem:
    path = device / name
    path.write_bytes(os.urandom(size))
    st = path.stat()
    return MediaItem(CAM, str(device), name, st.st_size, st.st_mtime_ns, T0, "video")


def pipeline_for(ledger, store, *, attempts: int = 2, **kw) -> Pipeline:
    ingestor = Ingestor(ledger, store, retention_days=730, chunk_size=4096,
                        retry=RetryPolicy(attempts, 0.05, 0.2))
    return Pipeline(ledger, ingestor, workers=kw.pop("workers", 1), handover_hours=24,
                    pause_base_seconds=0.1, pause_max_seconds=0.3, **kw)


class HookedStore(LocalWormStore):
    """A local store that runs ``hook`` (once) when a put has read its stream."""

    def __init__(self, root, hook=None) -> None:
        super().__init__(root)
        self.hook = hook

    def put(self, stream, **kw):
        stored = super().put(stream, **kw)
        hook, self.hook = self.hook, None
        if hook is not None:
            hook()
        return stored


def test_a_ledger_disk_that_fills_mid_ingest_pauses_the_pipeline_and_it_resumes(tmp_path):
    """The ledger's disk fills between the store write and the ledger commit: recording the
    failure fails too (what killed a worker before).  The worker lives, the pipeline pauses
    (nothing new is taken), status says why; when space returns both files are handed over
    and the late failure is in the ledger."""
    with small_fs(tmp_path / "ledgerfs") as fs:
        ledger = SqliteLedger(fs.root / "ledger.sqlite3", station="st")
        store = HookedStore(tmp_path / "store", hook=fs.fill)
        pipeline = pipeline_for(ledger, store)
        (tmp_path / "dev").mkdir()
        pipeline.start()
        try:
            pipeline.media_found(drop(tmp_path / "dev", "a.mp4"))
            pipeline.media_found(drop(tmp_path / "dev", "b.mp4"))
            paused = wait_for(lambda: pipeline.status()["paused"], 20, what="a pause")
            assert "ledger" == paused["cause"]
            time.sleep(0.5)  # probes fail while the disk is full; nothing else is taken
            status = pipeline.status()
            assert 0 == status["handed_over"] and status["paused"]
            assert all(w["alive"] for w in status["workers"])
            assert pipeline.healthy()
            fs.free()
            wait_for(lambda: ledger.counts() == {"verified": 2}, 20, what="both handed over")
            assert pipeline.status()["paused"] is None
        finally:
            pipeline.stop(grace_seconds=2)
        kinds = [e.kind for e in ledger.events()]
        assert {"attempt_failed", "ingest_resumed"} <= set(kinds)
        assert ledger.verify().ok
        ledger.close()


def test_a_full_store_never_uses_up_a_files_attempts_and_it_goes_when_space_returns(tmp_path):
    with small_fs(tmp_path / "storefs") as fs:
        ledger = SqliteLedger(tmp_path / "ledger.sqlite3", station="st")
        store = LocalWormStore(fs.root / "store")
        pipeline = pipeline_for(ledger, store, attempts=2)
        (tmp_path / "dev").mkdir()
        fs.fill()
        pipeline.start()
        try:
            item = drop(tmp_path / "dev", "a.mp4")
            pipeline.media_found(item)
            wait_for(lambda: ledger.list_media()[0].attempts >= 5, 20, what="five attempts")
            media = ledger.list_media()[0]  # failed and waiting, or being tried again now
            assert media.state == "copying" or (media.state, media.retry_at is not None) == (
                "failed", True)
            assert "free space" in media.last_error
            assert 0 == pipeline.status()["quarantined"]
            fs.free()
            wait_for(lambda: ledger.counts() == {"verified": 1}, 20, what="handed over")
        finally:
            pipeline.stop(grace_seconds=2)


class DiesOnce(Ingestor):
    """An ingest that takes the worker thread down once (what no ``except Exception`` catches)."""

    died = False

    def ingest(self, media, item, progress=None):
        if not self.died:
            DiesOnce.died = True
            raise SystemExit("worker killed")
        return super().ingest(media, item, progress)


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_a_dead_worker_shows_and_is_started_again_and_its_file_is_not_lost(tmp_path):
    ledger = SqliteLedger(tmp_path / "ledger.sqlite3", station="st")
    ingestor = DiesOnce(ledger, LocalWormStore(tmp_path / "store"), retention_days=730,
                        retry=RetryPolicy(3, 0.05, 0.2), chunk_size=4096)
    pipeline = Pipeline(ledger, ingestor, workers=1, handover_hours=24,
                        pause_base_seconds=0.1)
    (tmp_path / "dev").mkdir()
    pipeline.start()
    try:
        pipeline.media_found(drop(tmp_path / "dev", "a.mp4"))
        wait_for(lambda: not pipeline.healthy(), 10, what="the dead worker seen")
        assert [False] == [w["alive"] for w in pipeline.status()["workers"]]
        assert ["ingest-0"] == pipeline.supervise()
        wait_for(lambda: ledger.counts() == {"verified": 1}, 20, what="handed over")
        worker = pipeline.status()["workers"][0]
        assert (True, 1) == (worker["alive"], worker["restarts"])
        assert pipeline.healthy()
    finally:
        pipeline.stop(grace_seconds=2)
    assert "worker_died" in [e.kind for e in ledger.events()]


def test_a_worker_that_reads_nothing_for_too_long_is_stuck_until_it_moves(tmp_path):
    release = threading.Event()

    class Hangs(LocalWormStore):
        def put(self, stream, **kw):
            read = stream.read

            def hang(n=-1):
                release.wait(30)  # a device read that does not come back
                return read(n)
            stream.read = hang
            return super().put(stream, **kw)

    ledger = SqliteLedger(tmp_path / "ledger.sqlite3", station="st")
    pipeline = pipeline_for(ledger, Hangs(tmp_path / "store"), stuck_seconds=0.5)
    (tmp_path / "dev").mkdir()
    pipeline.start()
    try:
        pipeline.media_found(drop(tmp_path / "dev", "a.mp4"))
        wait_for(lambda: not pipeline.healthy(), 10, what="the worker stuck")
        worker = pipeline.status()["workers"][0]
        assert (True, True, "reading") == (worker["alive"], worker["stuck"], worker["state"])
        release.set()
        wait_for(lambda: ledger.counts() == {"verified": 1}, 20)
        wait_for(pipeline.healthy, 5, what="healthy again")
    finally:
        release.set()
        pipeline.stop(grace_seconds=2)


@pytest.mark.parametrize("bug", [RuntimeError("a bug"), KeyError("media")])
def test_an_ingest_that_raises_leaves_the_worker_alive_and_the_file_queued(tmp_path, bug):
    ledger = SqliteLedger(tmp_path / "ledger.sqlite3", station="st")
    calls = []

    class Raises(Ingestor):
        def ingest(self, media, item, progress=None):
            calls.append(media.id)
            if len(calls) == 1:
                raise bug
            return super().ingest(media, item, progress)

    ingestor = Raises(ledger, LocalWormStore(tmp_path / "store"), retention_days=730,
                      retry=RetryPolicy(3, 0.05, 0.2), chunk_size=4096)
    pipeline = Pipeline(ledger, ingestor, workers=1, handover_hours=24, pause_base_seconds=0.1)
    (tmp_path / "dev").mkdir()
    pipeline.start()
    try:
        pipeline.media_found(drop(tmp_path / "dev", "a.mp4"))
        wait_for(lambda: ledger.counts() == {"verified": 1}, 20)
        assert pipeline.healthy() and 2 == len(calls)
    finally:
        pipeline.stop(grace_seconds=2)


def test_a_cause_that_comes_back_right_after_a_resume_keeps_backing_off():
    """A probe that passes while the trouble is not really gone (a store that answers its
    check but refuses puts) must not make the pipeline retry at full speed."""
    from evidock.daemon.workers import Pause

    now = [100.0]
    pause = Pause(1.0, 60.0, clock=lambda: now[0])
    delays = []
    for _ in range(4):
        pause.trip("store", "InvalidAccessKeyId")
        delays.append(pause.next_probe - now[0])
        now[0] = pause.next_probe
        pause.probed(True)  # and the next attempt fails again at once
    assert delays == sorted(delays) and delays[-1] > delays[0]
    now[0] += 120  # long after: a new trouble starts from the first delay again
    pause.trip("ledger", "database or disk is full")
    assert 1.0 == pause.next_probe - now[0]
