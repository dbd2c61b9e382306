"""``evidock run``: keep the station going, with the parts daemon/wiring.py builds.

The main thread writes the status
snapshot, pings systemd's watchdog and waits for a signal; drivers and ingest workers run in
their own threads.  SIGTERM/SIGINT let files in flight finish for a grace period, then park
the rest (they are read again at the next start: nothing is lost or stored twice).
"""

from __future__ import annotations

import fcntl
import json
import os
import signal
import threading
import time
from pathlib import Path

import structlog

from evidock.daemon import metrics
from evidock.daemon.config import Config
from evidock.daemon.errors import EvidockError
from evidock.daemon.ledger import devices as registry
from evidock.daemon.sdnotify import Notifier
from evidock.daemon.wiring import Wiring

UNKNOWN_PROPS = ("ID_VENDOR", "ID_MODEL", "ID_VENDOR_ID", "ID_MODEL_ID", "ID_SERIAL_SHORT",
                 "ID_FS_TYPE", "ID_FS_LABEL")

log = structlog.get_logger("evidock.service")

STATUS_FILE = "status.json"


class Station:
    def __init__(self, config: Config, *, until_idle: bool = False,
                 wiring: Wiring | None = None) -> None:
        self.config = config
        self.until_idle = until_idle
        self.stop_requested = threading.Event()
        self.notifier = Notifier()
        config.run_dir.mkdir(parents=True, exist_ok=True)
        self._lock_fd = self._take_lock(config.run_dir / "daemon.lock")
        self.wiring = wiring or Wiring(config, ledger_may_be_new=True, background_alerts=True)
        self.ledger = self.wiring.ledger
        self.store = self.wiring.start_store()  # S3 away: spools; no Object Lock: refuses
        self.drainer = self.wiring.drainer
        self.ingestor = self.wiring.ingestor
        self.compliance = self.wiring.compliance
        self.pipeline = self.wiring.pipeline
        self.scheduler = self.wiring.scheduler
        self.prober = self.wiring.prober
        self.metrics_server = None
        self.drivers, self.usb = self.wiring.drivers(on_unknown=self._unknown)

    def _unknown(self, event) -> None:
        """A USB disk that is not a camera evidock takes, or a camera that could not be read
        (mount failed): a ledger event a later alert uses."""
        kind = "device_unreadable" if event.kind == "unreadable_device" else "unknown_device_docked"
        self.ledger.record(kind, f"port:{event.port}", {
            "port": event.port, "devname": event.devname, "reason": event.reason,
            **{k.lower(): event.props[k] for k in UNKNOWN_PROPS if k in event.props}})

    def _release_done(self, status: dict) -> None:
        """Unmount devices whose recordings are all handed over; only an unmounted device is
        shown as safe to pull."""
        if self.usb is None:
            return
        for device in status["devices"]:
            serial = device["serial"]
            if device["docked"] and device["safe_to_undock"] and self.usb.mounted(serial):
                try:
                    cleared = self.usb.clear_handed_over(
                        serial, lambda item: registry.verified_sha256(
                            self.ledger, item.device.serial, item.relpath, item.size,
                            item.mtime_ns))
                    if cleared:
                        registry.record_cleared(self.ledger, serial, cleared)
                except EvidockError as exc:  # the device keeps its files; reading is done
                    log.error("device_clear_failed", device_serial=serial, error=str(exc))
                self.usb.release(serial)
            device["safe_to_undock"] = device["safe_to_undock"] and not self.usb.mounted(
                device["serial"])

    @staticmethod
    def _take_lock(path: Path) -> int:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise EvidockError(
                f"another evidock is already running on {path.parent.parent}",
                hint="stop it first (systemctl stop evidock), or give this one its own --data-dir",
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        return fd

    def _signals(self) -> None:
        def handle(signum, _frame):
            log.info("stop_requested", signal=signal.Signals(signum).name)
            self.stop_requested.set()

        signal.signal(signal.SIGTERM, handle)
        signal.signal(signal.SIGINT, handle)

    def run(self) -> int:
        self._signals()
        leftovers = self.store.recover()
        if leftovers:
            log.warning("store_leftovers_removed", count=leftovers)
        for problem in self.store.check():
            log.warning("store_problem", problem=problem)
        self.ledger.record("daemon_started", f"station:{self.config.station.id}", {
            "pid": os.getpid(), "custodian": self.config.station.custodian,
            "config": self.config.source, "store": self.store.name})
        self.pipeline.start()
        if self.drainer is not None:
            self.drainer.start()
        self._start_monitoring()
        for driver in self.drivers:
            driver.start(self.pipeline)
        log.info("daemon_started", station=self.config.station.id, store=self.store.name,
                 ledger=str(self.config.ledger_path),
                 watch=[str(f) for f in self.config.watch.folders])
        self.notifier.ready("taking recordings")
        idle_ticks = 0
        try:
            # --until-idle ticks faster so a one-shot run ends soon after its last file
            tick = 0.1 if self.until_idle else 0.5
            while not self.stop_requested.wait(tick):
                status = self._write_status()
                self.notifier.watchdog()
                self.notifier.status(
                    f"{status['active']} reading, {status['queued']} queued, "
                    f"{status['handed_over']} handed over")
                if self.until_idle:
                    idle = self.pipeline.idle() and all(d.idle() for d in self.drivers)
                    idle_ticks = idle_ticks + 1 if idle else 0
                    if idle_ticks >= 3:  # idle for three ticks in a row: nothing about to land
                        if self.prober is not None:  # a one-shot run leaves nothing unprobed
                            self.prober.run(limit=1_000_000,
                                            keep_going=lambda: not self.stop_requested.is_set())
                        break
        finally:
            self.shutdown()
        failed = len(self.pipeline.quarantined)
        log.info("daemon_stopped", handed_over=self.pipeline.handed_over, failed=failed)
        return 1 if failed else 0

    def _start_monitoring(self) -> None:
        """The compliance checks on their schedule, and /metrics if enabled."""
        if self.until_idle:
            return  # a one-shot run: the checks run from cron ('evidock check') instead
        self.scheduler.start()
        if self.config.metrics.enabled:
            collector = metrics.StationCollector(
                self.ledger, self.compliance.alerts, status=self.pipeline.status,
                spool_bytes=metrics.spool_reader(self.store))
            where = {"bind": self.config.metrics.bind, "port": self.config.metrics.port}
            try:
                self.metrics_server, _ = metrics.serve(metrics.registry_for(collector), **where)
            except OSError as exc:  # ingest matters more than metrics: keep going, say so
                log.error("metrics_unavailable", error=str(exc), **where)
                self.ledger.record("metrics_unavailable", f"station:{self.config.station.id}",
                                   {**where, "error": str(exc)})
            else:
                log.info("metrics_serving", **where)

    def shutdown(self) -> None:
        self.notifier.stopping()
        if self.scheduler.running:
            self.scheduler.shutdown(wait=True)
        self.wiring.close()  # the webhook sender: what the checks raised goes out first
        if self.metrics_server is not None:
            self.metrics_server.shutdown()
            self.metrics_server.server_close()
        for driver in self.drivers:
            driver.stop()
        self.pipeline.stop(grace_seconds=10.0)
        if self.drainer is not None:
            self.drainer.stop()
        self._write_status()
        self.ledger.record("daemon_stopped", f"station:{self.config.station.id}", {
            "pid": os.getpid(), "handed_over": self.pipeline.handed_over,
            "failed": len(self.pipeline.quarantined)})

    def _write_status(self) -> dict:
        status = {"station": self.config.station.id, "pid": os.getpid(),
                  "updated": time.time(), **self.pipeline.status()}
        if hasattr(self.store, "status"):
            status["store"] = self.store.status()
        self._release_done(status)
        path = self.config.run_dir / STATUS_FILE
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(status))
        os.replace(tmp, path)
        return status
