"""Prometheus metrics at ``/metrics``, read from the ledger (and the running pipeline) at
scrape time, so they are right after a restart and cost nothing between scrapes.

Every name starts with ``evidock_``; config/grafana-dashboard.json shows them.
"""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import start_http_server
from prometheus_client.core import CollectorRegistry, CounterMetricFamily, GaugeMetricFamily

from evidock.daemon.alerts.book import AlertBook
from evidock.daemon.ledger.base import Ledger
from evidock.daemon.timeutil import Clock, parse, stamp, utcnow


class StationCollector:
    def __init__(self, ledger: Ledger, alerts: AlertBook, *,
                 status: Callable[[], dict] | None = None,
                 spool_bytes: Callable[[], int | None] | None = None,
                 checks_state: Callable[[], dict] | None = None,
                 clock: Clock = utcnow) -> None:
        self.ledger = ledger
        self.checks_state = checks_state
        self.alerts = alerts
        self.status = status
        self.spool_bytes = spool_bytes
        self.clock = clock

    def collect(self):
        figures = self.ledger.station_figures()
        files = CounterMetricFamily("evidock_handed_over_files",
                                    "Recordings handed over (verified copy in the store)")
        files.add_metric([], figures["files"])
        size = CounterMetricFamily("evidock_handed_over_bytes", "Bytes handed over")
        size.add_metric([], figures["bytes"])
        yield files
        yield size

        states = GaugeMetricFamily("evidock_media", "Recordings in the ledger by state",
                                   labels=["state"])
        counts = self.ledger.counts()
        for state in ("seen", "copying", "stored", "verified", "failed", "superseded"):
            states.add_metric([state], counts.get(state, 0))
        yield states

        live = self.status() if self.status else None
        # the ledger's count, whether or not their device is docked now: the pipeline's own
        # queue holds only what can be read at this moment (0 with two overdue recordings on
        # devices that are away)
        queue = GaugeMetricFamily("evidock_queue_depth",
                                  "Recordings not yet handed over (any state but verified, "
                                  "docked or not)")
        queue.add_metric([], sum(n for s, n in counts.items() if s != "verified"))
        yield queue
        overdue = GaugeMetricFamily("evidock_overdue_recordings",
                                    "Recordings not handed over past their handover deadline")
        overdue.add_metric([], len(self.ledger.pending_media(deadline_before=stamp(self.clock()))))
        yield overdue
        if live is not None:
            ready = GaugeMetricFamily("evidock_pipeline_files",
                                      "Files in the running daemon's pipeline: ready to read "
                                      "(queued), waiting to retry, being read (active)",
                                      labels=["state"])
            for state in ("queued", "retrying", "active"):
                ready.add_metric([state], live.get(state, 0))
            yield ready

        oldest = figures["oldest_pending"]
        age = GaugeMetricFamily("evidock_oldest_pending_recording_age_seconds",
                                "Age of the oldest recording not yet handed over (0: none)")
        age.add_metric([], (self.clock() - parse(oldest)).total_seconds() if oldest else 0)
        yield age

        derived = self.ledger.derivative_counts()
        dstates = GaugeMetricFamily("evidock_derivatives",
                                    "Review derivatives (proxies, posters ...) by state",
                                    labels=["state"])
        for state in ("pending", "running", "done", "failed"):
            dstates.add_metric([state], derived[state])
        yield dstates
        dold = derived["oldest_pending"]
        dage = GaugeMetricFamily("evidock_oldest_pending_derivative_age_seconds",
                                 "Age of the oldest derivative not yet made (0: none)")
        dage.add_metric([], (self.clock() - parse(dold)).total_seconds() if dold else 0)
        yield dage

        first = figures["first_deadline"]
        if first:
            nxt = GaugeMetricFamily("evidock_next_handover_deadline_seconds",
                                    "Seconds until the earliest handover deadline of a recording "
                                    "not yet handed over (negative: overdue)")
            nxt.add_metric([], (parse(first) - self.clock()).total_seconds())
            yield nxt

        late = CounterMetricFamily("evidock_late_handovers", "Recordings handed over late (R1)")
        late.add_metric([], figures["late_handovers"])
        yield late

        yield self._devices(live)

        open_alerts = GaugeMetricFamily("evidock_alerts_open",
                                        "Open alerts (raised or acknowledged)",
                                        labels=["rule", "severity"])
        for (rule, severity), n in sorted(self.alerts.open_counts().items()):
            open_alerts.add_metric([rule, severity], n)
        yield open_alerts

        if live is not None:
            yield from _workers(live)
            yield from _rates(live)

        if self.checks_state is not None:
            yield from _checks(self.checks_state())

        spool = self.spool_bytes() if self.spool_bytes else None
        if spool is not None:
            g = GaugeMetricFamily("evidock_spool_bytes",
                                  "Bytes in the local spool waiting for the store")
            g.add_metric([], spool)
            yield g

    def _devices(self, live: dict | None):
        """1 for the device's current state: docked, away, or unknown (never seen to leave)."""
        g = GaugeMetricFamily("evidock_device_state", "Device state (1 = current state)",
                              labels=["serial", "state"])
        docked_now = {d["serial"] for d in (live or {}).get("devices", []) if d.get("docked")}
        for device in self.ledger.devices():
            if device.serial in docked_now or (
                    device.last_dock_at and (not device.last_undock_at
                                             or device.last_dock_at > device.last_undock_at)):
                state = "docked"
            elif device.last_undock_at:
                state = "away"
            else:
                state = "unknown"
            for s in ("docked", "away", "unknown"):
                g.add_metric([device.serial, s], 1 if s == state else 0)
        return g


def _rates(live: dict):
    """The read rate now (last 5 s) per device and for the station, and bytes read so far."""
    rate = GaugeMetricFamily("evidock_read_rate_bytes_per_second",
                             "Bytes per second read off devices over the last 5 s "
                             "(device=\"\" : every device together)", labels=["device"])
    read = CounterMetricFamily("evidock_read_bytes", "Bytes read off devices since start",
                               labels=["device"])
    for d in live.get("devices", []):
        rate.add_metric([d["serial"]], d.get("rate_bps", 0))
        read.add_metric([d["serial"]], d.get("bytes_read", 0))
    rate.add_metric([""], live.get("rate_bps", 0))
    read.add_metric([""], live.get("bytes_read", 0))
    yield rate
    yield read


def _workers(live: dict):
    """The ingest workers as the pipeline sees them: a dead or stuck one is an alert."""
    workers = live.get("workers", [])
    by_state = GaugeMetricFamily("evidock_workers", "Ingest worker threads by state",
                                 labels=["state"])
    by_state.add_metric(["alive"], sum(1 for w in workers if w["alive"]))
    by_state.add_metric(["dead"], sum(1 for w in workers if not w["alive"]))
    by_state.add_metric(["stuck"], sum(1 for w in workers if w["stuck"]))
    yield by_state
    age = GaugeMetricFamily("evidock_worker_heartbeat_age_seconds",
                            "Seconds since each ingest worker last showed progress",
                            labels=["worker"])
    for w in workers:
        age.add_metric([w["name"]], w["last_beat_age_s"])
    yield age
    paused = GaugeMetricFamily("evidock_ingest_paused",
                               "1 while ingest is paused for a cause (ledger, store)",
                               labels=["cause"])
    cause = (live.get("paused") or {}).get("cause")
    for c in ("ledger", "store", "other"):
        paused.add_metric([c], 1 if c == cause else 0)
    yield paused


def _checks(state: dict):
    """When each check last ran and last ran through (``evidock check`` from cron counts too):
    a check that stopped running, or keeps failing, shows as an old timestamp."""
    ran = GaugeMetricFamily("evidock_check_last_run_timestamp_seconds",
                            "Unix time each compliance check last ran", labels=["check"])
    ok = GaugeMetricFamily("evidock_check_last_success_timestamp_seconds",
                           "Unix time each compliance check last ran through", labels=["check"])
    for name, entry in sorted(state.items()):
        if entry.get("last_run"):
            ran.add_metric([name], entry["last_run"])
        if entry.get("last_success"):
            ok.add_metric([name], entry["last_success"])
    yield ran
    yield ok


def build_info() -> GaugeMetricFamily:
    import platform
    from importlib import metadata

    try:
        version = metadata.version("evidock")
    except metadata.PackageNotFoundError:
        version = "unknown"
    info = GaugeMetricFamily("evidock_build_info", "Always 1: the running evidock's version",
                             labels=["version", "python"])
    info.add_metric([version, platform.python_version()], 1)
    return info


class _BuildInfo:
    def collect(self):
        yield build_info()


def spool_reader(store) -> Callable[[], int | None] | None:
    """Bytes waiting in the store's spool, for stores that have one (``status()``)."""
    status = getattr(store, "status", None)
    if not callable(status):
        return None
    return lambda: status().get("spool_bytes")


def registry_for(collector: StationCollector) -> CollectorRegistry:
    """The station's metrics, its version and the process's own (CPU, memory, open files:
    ``process_*``, ``python_*``), as Prometheus' client libraries conventionally serve them."""
    from prometheus_client import PlatformCollector, ProcessCollector
    from prometheus_client.gc_collector import GCCollector

    registry = CollectorRegistry(auto_describe=True)
    registry.register(collector)
    registry.register(_BuildInfo())
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    GCCollector(registry=registry)
    return registry


def serve(registry: CollectorRegistry, *, bind: str, port: int):
    """Start the HTTP endpoint in a daemon thread; returns ``(server, thread)``."""
    return start_http_server(port, addr=bind, registry=registry)
