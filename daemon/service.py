"""``evidock run``: keep the station going, with the parts daemon/wiring.py builds.

The main thread writes the status
snapshot, restarts a dead worker, pings systemd's watchdog and waits for a signal; drivers,
ingest workers, the spool drainer and device release (clear, unmount:
:mod:`evidock.daemon.releaser`) run in their own threads.  The watchdog is pinged only while
every worker is alive and none is stuck, so a daemon that cannot recover by itself is
restarted by systemd.  Nothing the main loop does can end it but a signal: a status file that
cannot be written (full data directory) is logged and written again at the next tick.
SIGTERM/SIGINT let files in flight finish for a grace period, then park the rest (they are
read again at the next start: nothing is lost or stored twice).
"""

from __future__ import annotations

import fcntl
import json
import os
import signal
import threading
import time
from datetime import datetime
from pathlib import Path

import structlog
from apscheduler.events import EVENT_JOB_ERROR

from evidock.daemon import metrics
from evidock.daemon.config import Config
from evidock.daemon.errors import EvidockError, ExitCode
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
        self.deriver = self.wiring.deriver
        self.metrics_server = None
        self.drivers, self.usb = self.wiring.drivers(on_unknown=self._unknown)
        self.releaser = self.wiring.releaser(self.usb)
        self._anchored: set[tuple] = set()  # (device, files done) whose handover was anchored
        self._status_failed = 0.0  # when a status write last failed (monotonic), 0: fine

    def _unknown(self, event) -> None:
        """A USB disk that is not a camera evidock takes, or a camera that could not be read
        (mount failed): a ledger event a later alert uses."""
        kind = "device_unreadable" if event.kind == "unreadable_device" else "unknown_device_docked"
        try:
            self.ledger.record(kind, f"port:{event.port}", {
                "port": event.port, "devname": event.devname, "reason": event.reason,
                **{k.lower(): event.props[k] for k in UNKNOWN_PROPS if k in event.props}})
        except Exception as exc:  # noqa: BLE001 - called from a driver thread's failure path
            log.error("ledger_event_unrecorded", kind=kind, port=event.port, error=str(exc))

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
        if self.deriver is not None:
            self.deriver.recover()  # interrupted derivatives back to pending
        self.pipeline.start()
        if self.drainer is not None:
            self.drainer.start()
        if self.releaser is not None:
            self.releaser.start()
        self._start_monitoring()
        for driver in self.drivers:
            driver.start(self.pipeline)
        log.info("daemon_started", station=self.config.station.id, store=self.store.name,
                 ledger=self.config.ledger_name,
                 watch=[str(f) for f in self.config.watch.folders])
        self.notifier.ready("taking recordings")
        idle_ticks = 0
        try:
            # --until-idle ticks faster so a one-shot run ends soon after its last file
            tick = 0.1 if self.until_idle else 0.5
            while not self.stop_requested.wait(tick):
                status = self._tick()
                if status["healthy"]:
                    self.notifier.watchdog()
                self.notifier.status(_summary(status))
                if self.until_idle:
                    idle = self.pipeline.idle() and all(d.idle() for d in self.drivers)
                    idle_ticks = idle_ticks + 1 if idle else 0
                    if idle_ticks >= 3:  # idle for three ticks in a row: nothing about to land
                        if self.prober is not None:  # a one-shot run leaves nothing unprobed
                            self.prober.run(limit=1_000_000, parallel=os.cpu_count() or 1,
                                            batch=64,
                                            keep_going=lambda: not self.stop_requested.is_set())
                        if self.deriver is not None:  # nor without its derivatives
                            self.deriver.run(keep_going=lambda: not self.stop_requested.is_set())
                        break
        finally:
            self.shutdown()
        failed = len(self.pipeline.quarantined)
        log.info("daemon_stopped", handed_over=self.pipeline.handed_over, failed=failed)
        return ExitCode.FAILED if failed else ExitCode.OK

    def _tick(self) -> dict:
        """One turn of the main loop; never raises (its top)."""
        try:
            self.pipeline.supervise()
            return self._write_status()
        except Exception as exc:  # noqa: BLE001 - the main loop must not end but by a signal
            log.exception("main_loop_failed", error=str(exc))
            return {"active": 0, "queued": 0, "handed_over": 0, "healthy": False}

    def _threads(self) -> dict[str, bool]:
        """Every long-running thread but the ingest workers (those are in ``workers``)."""
        threads = {}
        if self.drainer is not None and getattr(self.drainer, "_thread", None) is not None:
            threads["spool-drainer"] = self.drainer._thread.is_alive()
        if self.releaser is not None:
            threads["device-release"] = self.releaser.alive()
        for driver in self.drivers:
            alive = getattr(driver, "alive", None)
            if alive is not None:
                threads[f"driver-{driver.name}"] = alive()
        return threads

    def _job_failed(self, event) -> None:
        """A scheduler job raised past its own top: record it; the scheduler goes on."""
        log.error("job_crashed", job=event.job_id, error=repr(event.exception))
        try:
            self.ledger.record("job_crashed", f"job:{event.job_id}", {
                "job": event.job_id, "error": repr(event.exception)[:2000]})
        except Exception as exc:  # noqa: BLE001 - the ledger may be what failed
            log.error("ledger_event_unrecorded", kind="job_crashed", error=str(exc))

    def _start_monitoring(self) -> None:
        """The compliance checks on their schedule, and /metrics if enabled."""
        if self.until_idle:
            return  # a one-shot run: the checks run from cron ('evidock check') instead
        self.scheduler.add_listener(self._job_failed, EVENT_JOB_ERROR)
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
        if self.deriver is not None:
            self.deriver.stop()  # a transcode in flight ends now, back to pending
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
        if self.releaser is not None:
            self.releaser.stop()
        self._tick()
        try:
            self.ledger.record("daemon_stopped", f"station:{self.config.station.id}", {
                "pid": os.getpid(), "handed_over": self.pipeline.handed_over,
                "failed": len(self.pipeline.quarantined)})
        except Exception as exc:  # noqa: BLE001 - stopping anyway; the log has it
            log.error("ledger_event_unrecorded", kind="daemon_stopped", error=str(exc))
        self._anchor_now("stop")

    def _anchor_now(self, reason: str) -> None:
        """Anchor the ledger's head in the store now (the scheduler does it on its interval)."""
        try:
            key = self.compliance.runner.run("anchor").error
        except Exception as exc:  # noqa: BLE001 - stopping must not fail for an anchor
            key = f"{type(exc).__name__}: {exc}"
        if key:
            log.error("anchor_failed", reason=reason, error=key)

    def _anchor_handed_over(self, status: dict) -> None:
        """A device whose files are all handed over gets its history anchored soon, by the
        scheduler's thread (never this one, which pings the watchdog)."""
        done = {(d["serial"], d["files_done"]) for d in status["devices"] if d["safe_to_undock"]}
        if done - self._anchored and self.scheduler.running:
            self.scheduler.modify_job("anchor", next_run_time=datetime.now().astimezone())
        self._anchored = done

    def _write_status(self) -> dict:
        status = {"station": self.config.station.id, "pid": os.getpid(),
                  "updated": time.time(), **self.pipeline.status()}
        if hasattr(self.store, "status"):
            status["store"] = self.store.status()
        status["threads"] = self._threads()
        status["healthy"] = self.pipeline.healthy() and all(status["threads"].values())
        if self.releaser is not None:
            self.releaser.offer(status)
        self._anchor_handed_over(status)
        path = self.config.run_dir / STATUS_FILE
        tmp = path.with_suffix(".tmp")
        try:
            tmp.write_text(json.dumps(status))
            os.replace(tmp, path)
        except OSError as exc:  # a full data directory: say so now and then, keep going
            if time.monotonic() - self._status_failed > 60:
                log.error("status_write_failed", file=str(path), error=str(exc),
                          hint="free space in the data directory; the daemon keeps running")
            self._status_failed = time.monotonic()
            try:
                tmp.unlink()
            except OSError:
                pass
        else:
            if self._status_failed:
                log.info("status_write_recovered", file=str(path))
            self._status_failed = 0.0
        return status


def _summary(status: dict) -> str:
    text = (f"{status['active']} reading, {status['queued']} queued, "
            f"{status['handed_over']} handed over")
    if status.get("paused"):
        text += f"; paused: {status['paused']['cause']} ({status['paused']['error']})"
    if not status.get("healthy", True):
        text += "; a worker is dead or stuck"
    return text
