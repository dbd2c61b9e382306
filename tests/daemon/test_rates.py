"""Read rates in ``status`` and ``/metrics``: what each device (and the station) reads now."""

from __future__ import annotations

import os
import urllib.request

from prometheus_client.parser import text_string_to_metric_families

from evidock.daemon.ingest import Ingestor
from evidock.daemon.ledger.sqlite import SqliteLedger
from evidock.daemon.metrics import StationCollector, registry_for, serve
from evidock.daemon.pipeline import Pipeline
from evidock.daemon.rate import RecentRate
from evidock.daemon.retry import RetryPolicy
from evidock.daemon.store.local import LocalWormStore
from evidock.daemon.timeutil import utcnow
from evidock.drivers.base import DeviceIdentity, MediaItem
from tests.daemon_proc import wait_for


class FakeClock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def test_the_rate_is_the_last_seconds_not_the_average_since_docking():
    clock = FakeClock()
    meter = RecentRate(window=5.0, clock=clock)
    for _ in range(20):  # 2 s at 10 MB/s
        clock.t += 0.1
        meter.add(1_000_000)
    assert 9e6 < meter.bytes_per_second() < 11e6
    clock.t += 6.0  # a stall: nothing read for a whole window (and its 1-s bucket)
    assert 0.0 == meter.bytes_per_second()
    for _ in range(10):  # then 1 s at 1 MB/s: the old burst does not count
        clock.t += 0.1
        meter.add(100_000)
    assert 0.8e6 < meter.bytes_per_second() < 1.2e6
    assert 21_000_000 == meter.total


def test_status_and_metrics_give_each_device_and_the_total(tmp_path):
    ledger = SqliteLedger(tmp_path / "ledger.sqlite3", station="st")
    ingestor = Ingestor(ledger, LocalWormStore(tmp_path / "store"), retention_days=730,
                        retry=RetryPolicy(3, 0.05, 0.2), chunk_size=1 << 16)
    pipeline = Pipeline(ledger, ingestor, workers=2, handover_hours=24)
    sizes = {"CAM-A": [300_000, 200_000], "CAM-B": [700_000]}
    pipeline.start()
    try:
        for serial, files in sizes.items():
            pipeline.device_docked(DeviceIdentity(serial=serial, source="watch"), "watch:x")
            folder = tmp_path / serial
            folder.mkdir()
            for n, size in enumerate(files):
                (folder / f"{n}.mp4").write_bytes(os.urandom(size))
                st = (folder / f"{n}.mp4").stat()
                pipeline.media_found(MediaItem(
                    DeviceIdentity(serial=serial, source="watch"), str(folder), f"{n}.mp4",
                    st.st_size, st.st_mtime_ns, utcnow(), "video"))
        wait_for(lambda: ledger.counts() == {"verified": 3}, 30, what="handed over")
        live = pipeline.status()
        read = {d["serial"]: d["bytes_read"] for d in live["devices"]}
        assert {"CAM-A": 500_000, "CAM-B": 700_000} == read
        assert 1_200_000 == live["bytes_read"]
        assert {"rate_bps"} <= set(live) and all("rate_bps" in d for d in live["devices"])
        collector = StationCollector(ledger, _NoAlerts(), status=pipeline.status)
        server, _ = serve(registry_for(collector), bind="127.0.0.1", port=0)
        try:
            url = f"http://127.0.0.1:{server.server_address[1]}/metrics"
            with urllib.request.urlopen(url, timeout=5) as resp:
                text = resp.read().decode()
        finally:
            server.shutdown()
            server.server_close()
        got = {(s.name, s.labels.get("device")): s.value
               for fam in text_string_to_metric_families(text) for s in fam.samples}
        assert (500_000, 700_000, 1_200_000) == tuple(
            got[("evidock_read_bytes_total", d)] for d in ("CAM-A", "CAM-B", ""))
        assert all(("evidock_read_rate_bytes_per_second", d) in got
                   for d in ("CAM-A", "CAM-B", ""))
    finally:
        pipeline.stop(grace_seconds=2)


class _NoAlerts:
    def open_counts(self) -> dict:
        return {}


def test_two_stalled_devices_do_not_hold_back_a_third(tmp_path):
    """Two default workers, two devices whose reads hang: the third device still gets a
    reader of its own and is handed over while the others wait."""
    import threading

    release = threading.Event()

    class StallsSlowDevices(LocalWormStore):
        def put(self, stream, **kw):
            if "SLOW" in stream.name:
                release.wait(30)  # a device that answers nothing
            return super().put(stream, **kw)

    ledger = SqliteLedger(tmp_path / "ledger.sqlite3", station="st")
    ingestor = Ingestor(ledger, StallsSlowDevices(tmp_path / "store"), retention_days=730,
                        retry=RetryPolicy(3, 0.05, 0.2), chunk_size=1 << 16)
    pipeline = Pipeline(ledger, ingestor, workers=2, handover_hours=24)
    pipeline.start()
    try:
        for serial in ("SLOW-1", "SLOW-2", "FAST"):
            device = DeviceIdentity(serial=serial, source="watch")
            pipeline.device_docked(device, "watch:x")
            folder = tmp_path / serial
            folder.mkdir()
            (folder / f"{serial}.mp4").write_bytes(os.urandom(100_000))
            st = (folder / f"{serial}.mp4").stat()
            pipeline.media_found(MediaItem(device, str(folder), f"{serial}.mp4", st.st_size,
                                           st.st_mtime_ns, utcnow(), "video"))
        wait_for(lambda: ledger.counts().get("verified") == 1, 20,
                 what="the fast device handed over beside two stalled ones")
        assert ["FAST"] == [m.device_serial for m in ledger.list_media(state="verified")]
        assert 3 == len(pipeline.status()["workers"])
        release.set()
        wait_for(lambda: ledger.counts() == {"verified": 3}, 20, what="all handed over")
    finally:
        release.set()
        pipeline.stop(grace_seconds=2)
