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
import sys
import threading
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import structlog
from apscheduler.events import EVENT_JOB_ERROR

from evidock.daemon import config as config_mod
from evidock.daemon import metrics
from evidock.daemon.config import Config
from evidock.daemon.errors import ConfigError, EvidockError, ExitCode
from evidock.daemon.logging import configure
from evidock.daemon.sdnotify import Notifier
from evidock.daemon.wiring import Wiring

UNKNOWN_PROPS = ("ID_VENDOR", "ID_MODEL", "ID_VENDOR_ID", "ID_MODEL_ID", "ID_SERIAL_SHORT",
                 "ID_FS_TYPE", "ID_FS_LABEL")

log = structlog.get_logger("evidock.service")

STATUS_FILE = "status.json"


def check_sources(config: Config, *, until_idle: bool) -> None:
    """The sources must be there and, for a one-shot run, named: a folder that does not
    exist is a configuration error (a typo would otherwise watch nothing and exit 0), and a
    one-shot run with no folder and no ``--usb`` would read nothing, or every USB disk."""
    where = f"watch.folders in {config.source}"
    for folder in config.watch.folders:
        if not folder.is_dir():
            state = "is not a folder" if folder.exists() else "does not exist"
            raise ConfigError(f"watch folder {folder} {state} ({where})",
                              hint="create it, mount it, or correct the path")
    if until_idle and not config.watch.folders and not config.usb.enabled:
        raise ConfigError(
            "a one-shot run (--until-idle) has no source to read",
            hint="name a folder with --watch DIR (or [watch] folders), and add --usb to "
                 "take cameras docked over USB")


class Station:
    def __init__(self, config: Config, *, until_idle: bool = False,
                 wiring: Wiring | None = None,
                 reload: Callable[[], Config] | None = None) -> None:
        self.config = config
        self.until_idle = until_idle
        self._reload = reload  # reads the configuration again as the command line did
        self._hup = threading.Event()
        self.stop_requested = threading.Event()
        self.notifier = Notifier()
        check_sources(config, until_idle=until_idle)  # before anything is created
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
        self.web = None  # the kiosk page's server ([web]), started with the monitoring
        self._last_status: dict | None = None  # what the main loop last wrote: the kiosk's
        self.drivers, self.usb = self.wiring.drivers(on_unknown=self._unknown)
        self.releaser = self.wiring.releaser(self.usb)
        self._anchored: set[tuple] = set()  # (device, files done) whose handover was anchored
        self._status_failed = 0.0  # when a status write last failed (monotonic), 0: fine

    def _unknown(self, event) -> None:
        """A USB disk that is not a camera evidock takes, or a camera that could not be read
        (mount failed): a ledger event a later alert uses."""
        if event.kind == "undocked":  # a disk that was not read left: off the screen
            self.pipeline.port_undocked(event.port)
            return
        unreadable = event.kind == "unreadable_device"
        self.pipeline.port_problem(event.port, "unreadable" if unreadable else "unknown",
                                   event.reason, vendor=event.props.get("ID_VENDOR"),
                                   model=event.props.get("ID_MODEL"))
        kind = "device_unreadable" if unreadable else "unknown_device_docked"
        try:
            self.ledger.record(kind, f"port:{event.port}", {
                "port": event.port, "devname": event.devname, "reason": event.reason,
                **{k.lower(): event.props[k] for k in UNKNOWN_PROPS if k in event.props}})
        except Exception as exc:  # noqa: BLE001 - called from a driver thread's failure path
            log.error("ledger_event_unrecorded", kind=kind, port=event.port, error=str(exc))

    @staticmethod
    def _take_lock(path: Path) -> int:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o640)
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
        signal.signal(signal.SIGHUP, lambda _signum, _frame: self._hup.set())

    def reload_config(self) -> None:
        """SIGHUP (``systemctl reload evidock``): read the file again and apply what can
        change live (:data:`LIVE`); name the changes that need a restart.  A file that no
        longer validates changes nothing: the daemon keeps its running configuration."""
        if self._reload is None:
            log.warning("config_reload_unsupported", hint="restart evidock to apply changes")
            return
        try:
            new = self._reload()
        except EvidockError as exc:
            log.error("config_reload_failed", error=exc.message,
                      hint="the running configuration stays; fix the file and reload again")
            return
        changed = _changed_keys(config_mod.effective(self.config), config_mod.effective(new))
        applied = [k for k in changed if k.split(".")[0] in LIVE]
        restart = [k for k in changed if k not in applied]
        configure(new.log.level, new.log.format)
        self.config = self.config.model_copy(update={"log": new.log})
        log.info("config_reloaded", file=new.source, applied=applied, restart_needed=restart)
        self.ledger.record("config_reloaded", f"station:{self.config.station.id}", {
            "file": new.source, "applied": applied, "restart_needed": restart})

    def run(self) -> int:
        self._signals()
        leftovers = self.store.recover()
        if leftovers:
            log.warning("store_leftovers_removed", count=leftovers)
        for problem in self.store.check():
            log.warning("store_problem", problem=problem)
        self._adopt_store()
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
                 folders=[str(f) for f in self.config.watch.folders])
        self.notifier.ready("taking recordings")
        idle_ticks = 0
        try:
            # --until-idle ticks faster so a one-shot run ends soon after its last file
            tick = 0.1 if self.until_idle else 0.5
            while not self.stop_requested.wait(tick):
                if self._hup.is_set():
                    self._hup.clear()
                    self._safely(self.reload_config)
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
        if self.until_idle:
            left = self.left_behind()
            for media in left:
                log.error("media_left_behind", media_id=media.id,
                          device_serial=media.device_serial, file=media.source_path,
                          state=media.state, attempts=media.attempts, error=media.last_error)
            if left:
                print(_left_behind_message(left, self.config), file=sys.stderr)
                return ExitCode.FAILED
        return ExitCode.FAILED if failed else ExitCode.OK

    def left_behind(self) -> list:
        """Every recording of the devices (folders) this run read that is not handed over:
        quarantined or failed ones, and rows never attempted in this run (found by an
        earlier run whose file has changed or gone since)."""
        serials = {d["serial"] for d in self.pipeline.status()["devices"]}
        # one query for the unfinished rows: the devices' handed-over rows (100,000 on a
        # camera docked again) are never loaded
        left = [m for m in self.ledger.pending_media() if m.device_serial in serials]
        return sorted(left, key=lambda m: (m.device_serial, m.recorded_at, m.id))

    def _adopt_store(self) -> None:
        """A local store found at another path than last time (the data directory moved or
        restored elsewhere) keeps answering for its former name; the move goes in the ledger."""
        local = getattr(self.store, "primary", self.store)
        adopt = getattr(local, "adopt", None)
        if adopt is None:
            return
        former = adopt()
        if former:
            log.warning("store_moved", store=local.name, before=former)
            self.ledger.record("store_moved", f"station:{self.config.station.id}", {
                "from": former, "to": local.name})

    def _safely(self, job) -> None:
        """Run ``job`` from the main loop; whatever it raises, the loop goes on."""
        try:
            job()
        except Exception as exc:  # noqa: BLE001 - the main loop must not end but by a signal
            log.exception("main_loop_failed", error=str(exc))

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
            from evidock.daemon.checks.runner import read_state
            from evidock.daemon.wiring import CHECKS_STATE

            state = self.config.run_dir / CHECKS_STATE
            collector = metrics.StationCollector(
                self.ledger, self.compliance.alerts, status=self.pipeline.status,
                spool_bytes=metrics.spool_reader(self.store),
                checks_state=lambda: read_state(state))
            where = {"bind": self.config.metrics.bind, "port": self.config.metrics.port}
            try:
                self.metrics_server, _ = metrics.serve(metrics.registry_for(collector), **where)
            except OSError as exc:  # ingest matters more than metrics: keep going, say so
                log.error("metrics_unavailable", error=str(exc), **where)
                self.ledger.record("metrics_unavailable", f"station:{self.config.station.id}",
                                   {**where, "error": str(exc)})
            else:
                log.info("metrics_serving", **where)
        if self.config.web.enabled:
            self._start_web()

    def _start_web(self) -> None:
        """The kiosk page and the review room; a port in use is said and recorded, and
        ingest goes on."""
        from evidock.daemon.web.app import Kiosk, make_app
        from evidock.daemon.web.server import WebServer

        station, cfg = self.config.station, self.config.web
        stopping = threading.Event()
        where = {"bind": cfg.bind, "port": cfg.port}
        try:
            kiosk = Kiosk(lambda: self._last_status, station_name=station.display_name,
                          language=station.language, slots=station.slots, stopping=stopping)
            review, secret = self._review_room(kiosk) if cfg.review else (None, None)
            self.web = WebServer(make_app(kiosk, review, session_secret=secret),
                                 stopping=stopping, **where)
        except Exception as exc:  # noqa: BLE001 - the kiosk must never stop ingest
            log.error("web_unavailable", error=str(exc), **where)
            self.ledger.record("web_unavailable", f"station:{station.id}",
                               {**where, "error": str(exc)})
            return
        self.web.start()
        log.info("web_serving", url=f"{self.web.url}/station", **where)

    def _review_room(self, kiosk):
        """The review room, or (None, None) when it cannot be built (a broken session key):
        said and recorded, and the kiosk is served without it (``/review`` answers 503)."""
        try:
            return self.wiring.review_room(kiosk)
        except Exception as exc:  # noqa: BLE001 - the room must never take the kiosk down
            log.error("review_unavailable", error=str(exc))
            self.ledger.record("review_unavailable", f"station:{self.config.station.id}",
                               {"error": str(exc)})
            return None, None

    def shutdown(self) -> None:
        self.notifier.stopping()
        if self.web is not None:  # first: the screen says "not running" from now on
            self.web.stop()
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
        if self.web is not None:  # not part of health: a dead page must not restart ingest
            status["web"] = {"url": f"{self.web.url}/station", "alive": self.web.alive()}
        if self.releaser is not None:
            self.releaser.offer(status)
        self._last_status = status
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


#: configuration sections a reload applies while running; the rest need a restart
LIVE = ("log",)


def _changed_keys(old: dict, new: dict, prefix: str = "") -> list[str]:
    keys = []
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key), new.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            keys += _changed_keys(a, b, f"{prefix}{key}.")
        elif a != b:
            keys.append(f"{prefix}{key}")
    return keys


def _left_behind_message(left: list, config: Config) -> str:
    shown = left[:20]
    lines = [f"evidock: error: {len(left)} recording(s) found were not handed over:"]
    for m in shown:
        why = f": {m.last_error}" if m.last_error else (
            ", never attempted (its file changed or went away since it was found)"
            if m.attempts == 0 else "")
        lines.append(f"  media {m.id} {m.device_serial}/{m.source_path}: {m.state}, "
                     f"{m.attempts} attempt(s){why}")
    if len(left) > len(shown):
        lines.append(f"  ... and {len(left) - len(shown)} more")
    lines.append("evidock: what to do: see `evidock ledger list --data-dir "
                 f"{config.data_dir} --device SERIAL` and `evidock ledger show ID`")
    return "\n".join(lines)


def _summary(status: dict) -> str:
    text = (f"{status['active']} reading, {status['queued']} queued, "
            f"{status['handed_over']} handed over")
    if status.get("paused"):
        text += f"; paused: {status['paused']['cause']} ({status['paused']['error']})"
    if not status.get("healthy", True):
        text += "; a worker is dead or stuck"
    return text
