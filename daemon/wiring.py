"""The composition root: the one module that builds the station's objects from its configuration.

Every other module receives what it needs.  :class:`Wiring` builds each part on first use
(``functools.cached_property``), so a command gets exactly what it asks for and nothing more:

    config ─> ledger                                      (every command; nothing else for reads)
          └─> store ─> spool + drainer                    (S3: secrets read here, not before)
          └─> retry ─> ingestor ─> pipeline               (the daemon)
                                   └─> prober, deriver    (below ingest, on the scheduler)
          └─> sinks ─> compliance: holds, cases, exemptions, alerts, checks ─> scheduler

``evidock ledger list`` opens the ledger only; ``evidock cases show`` builds the case book, whose
hold keeper gets the store *when it first uses it* (:class:`_StoreWhenUsed`), so no S3 client
is made and no secret is read unless a hold is placed.  A command that only reads never creates
a ledger: a mistyped ``--data-dir`` is an error, not a new empty ledger reported as fine.

Start-up with a broken store: wrong credentials, missing credentials or S3 down do not stop
the daemon.  The S3 store starts marked away, recordings go to the spool, and the drainer
proves the bucket's Object Lock set-up once S3 answers before it uploads anything.  Only a
configuration that can never hold evidence stops the daemon: a bucket found without Object
Lock at start-up (found later, S3 uploads stop for good and the spool keeps taking recordings).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from functools import cached_property
from pathlib import Path
from zoneinfo import ZoneInfo

import structlog

from evidock.daemon.alerts.book import AlertBook
from evidock.daemon.alerts.sinks import LogSink, WebhookSender, WebhookSink
from evidock.daemon.cases.book import CaseBook
from evidock.daemon.cases.holds import HoldKeeper
from evidock.daemon.checks.anchor import AnchorCheck
from evidock.daemon.checks.archive import ArchiveCheck
from evidock.daemon.checks.devices import DevicesCheck
from evidock.daemon.checks.fixity import FixityCheck
from evidock.daemon.checks.handover import HandoverCheck
from evidock.daemon.checks.inventory import InventoryCheck
from evidock.daemon.checks.retention import RetentionCheck
from evidock.daemon.checks.runner import CheckRunner
from evidock.daemon.checks.workers import WorkersCheck
from evidock.daemon.config import Config, S3StoreConfig
from evidock.daemon.errors import StoreMisconfigured
from evidock.daemon.exemptions import Exemptions
from evidock.daemon.ledger.anchor import Anchorer
from evidock.daemon.ledger.base import Ledger
from evidock.daemon.ledger.sqlite import SqliteLedger
from evidock.daemon.retry import RetryPolicy

log = structlog.get_logger("evidock.wiring")

#: when each check last ran and ran through, in the run directory (read by /metrics)
CHECKS_STATE = "checks.json"


@dataclass
class Compliance:
    holds: HoldKeeper
    cases: CaseBook
    exemptions: Exemptions
    alerts: AlertBook
    runner: CheckRunner
    time_zone: ZoneInfo
    anchorer: Anchorer


def build_compliance(config: Config, ledger: SqliteLedger, store, *, sinks: list,
                     repair: bool = True, release_store=None) -> Compliance:
    """Cases, holds, exemptions, alerts and the checks, on ``ledger`` and ``store``
    (``release_store``: the store as the custodian's credential sees it, for hold release)."""
    policy, checks, cases_cfg = config.policy, config.checks, config.cases
    holds = HoldKeeper(ledger, store, release_store=release_store,
                       retention_days=policy.retention_days,
                       retention_days_by_type=cases_cfg.retention_days_by_type,
                       synonyms=cases_cfg.type_synonyms)
    cases = CaseBook(ledger, holds, auto_link=cases_cfg.auto_link,
                     synonyms=cases_cfg.type_synonyms)
    exemptions = Exemptions(ledger, handover_hours=policy.handover_hours,
                            reasons=checks.exemption_reasons)
    alerts = AlertBook(ledger, sinks)
    anchorer = Anchorer(ledger, store, station=config.station.id,
                        retention_days=policy.retention_days, clock=ledger.clock)
    runner = CheckRunner(ledger, alerts, {
        "handover": HandoverCheck(ledger, exemptions, lead_hours=checks.handover_lead_hours,
                                  handover_hours=policy.handover_hours),
        "retention": RetentionCheck(ledger, store, holds, lead_days=checks.retention_lead_days,
                                    repair=repair),
        "fixity": FixityCheck(ledger, store, cycle_days=checks.fixity_cycle_days),
        "archive": ArchiveCheck(ledger, archive_days=cases_cfg.archive_days,
                                full_process_types=cases_cfg.full_process_types,
                                handover_hours=policy.handover_hours,
                                synonyms=cases_cfg.type_synonyms),
        "devices": DevicesCheck(ledger, lookback_hours=checks.device_lookback_hours),
        "anchor": AnchorCheck(anchorer),
        "inventory": InventoryCheck(ledger, store, station=config.station.id),
        "workers": WorkersCheck(config.run_dir / "status.json"),
    }, cases=cases, clock=ledger.clock, state_path=config.run_dir / CHECKS_STATE)
    return Compliance(holds, cases, exemptions, alerts, runner, ZoneInfo(cases_cfg.time_zone),
                      anchorer)


def webhook_sink(config: Config) -> WebhookSink | None:
    """The configured webhook (its signing secret read now), or None."""
    alerts = config.alerts
    if not alerts.webhook_url:
        return None
    return WebhookSink(alerts.webhook_url, station=config.station.id,
                       retries=alerts.webhook_retries, timeout=alerts.webhook_timeout_seconds,
                       backoff=alerts.webhook_backoff_seconds,
                       secret=alerts.webhook_secret or None)


class _SecretsProvider:
    """S3 credentials read from systemd credentials or the environment at each request, so
    that secrets are read only when S3 is talked to, and credentials fixed (or given) later
    are taken without a restart.  Missing ones raise ``StoreMisconfigured``: S3 is away."""

    def __init__(self, cfg: S3StoreConfig, custodian: bool = False) -> None:
        self.cfg = cfg
        self.custodian = custodian

    def retrieve(self):
        from minio.credentials import Credentials

        return Credentials(*self.cfg.credentials(custodian=self.custodian))


def make_s3_client(cfg: S3StoreConfig, *, custodian: bool = False):
    """A minio client for the configured endpoint; it talks to no one until it is used.
    ``custodian``: signed with the custodian's credential (hold release only)."""
    from minio import Minio

    from evidock.daemon.store.s3_wire import http_client

    host, tls = cfg.host_and_tls()
    return Minio(host, credentials=_SecretsProvider(cfg, custodian), secure=tls,
                 region=cfg.region,
                 http_client=http_client(ca_bundle=str(cfg.ca_bundle) if cfg.ca_bundle else None,
                                         timeout=cfg.timeout_seconds,
                                         pool_size=cfg.concurrency * 2 + 2))


class _StoreWhenUsed:
    """Stands for the store until something uses it: the compliance objects of a command
    that only reads (``cases show``) hold a store they never call, and building it could mean
    an S3 client, secrets and a network round trip."""

    def __init__(self, build) -> None:
        self._build = build

    def __getattr__(self, name: str):
        return getattr(self._build(), name)


class Wiring:
    """The station's parts, each built from ``config`` on first use.

    ``ledger_may_be_new``: only the daemon and the commands that register something
    (``devices assign|import``, ``cases import``, ``exemptions add``) may create the ledger;
    every other command needs one that exists.  ``background_alerts``: the daemon delivers
    webhook alerts from a sender thread; commands deliver them before they end.  ``sinks``
    replaces the configured alert sinks (tests).
    """

    def __init__(self, config: Config, *, ledger_may_be_new: bool = False,
                 background_alerts: bool = False, sinks: list | None = None,
                 repair: bool = True) -> None:
        self.config = config
        self.ledger_may_be_new = ledger_may_be_new
        self.background_alerts = background_alerts
        self.repair = repair
        self._sinks = sinks

    # -- the ledger --------------------------------------------------------------------------

    @cached_property
    def ledger(self) -> Ledger:
        """SQLite (this station's file) or PostgreSQL (the fleet's), as ``[ledger] type``
        says.  A command that may not create the ledger gets ``LedgerMissing`` ("no ledger
        at PATH") for a mistyped data directory or schema, and nothing is created."""
        cfg = self.config.ledger
        if cfg.type == "postgres":
            from evidock.daemon.ledger.postgres import PostgresLedger

            return PostgresLedger(cfg.dsn, password=cfg.password(), schema=cfg.schema_name,
                                  station=self.config.station.id, create=self.ledger_may_be_new,
                                  busy_timeout=cfg.busy_timeout_seconds, pool_size=cfg.pool_size,
                                  lease_seconds=cfg.lease_seconds)
        return SqliteLedger(self.config.ledger_path, station=self.config.station.id,
                            create=self.ledger_may_be_new,
                            migrate_schema=self.ledger_may_be_new)

    # -- the store ---------------------------------------------------------------------------

    @cached_property
    def s3_client(self):
        if self.config.store.type != "s3":
            raise AssertionError("no S3 client for a local store")
        return make_s3_client(self.config.store)

    @cached_property
    def primary(self):
        """The store recordings are meant to end up in (for S3: without the spool)."""
        cfg = self.config.store
        if cfg.type == "local":
            from evidock.daemon.store.local import LocalWormStore

            return LocalWormStore(self.config.store_path,
                                  verify_after_write=cfg.verify_after_write)
        from evidock.daemon.store.s3 import S3WormStore
        from evidock.daemon.store.s3_wire import MiB

        return S3WormStore(self.s3_client, cfg.bucket, station=self.config.station.id,
                           part_size=cfg.part_size_mib * MiB, concurrency=cfg.concurrency,
                           staging_retention=timedelta(hours=cfg.staging_retention_hours),
                           min_lock_days=self.config.policy.retention_days)

    @cached_property
    def store(self):
        """The store the station writes to: local, or S3 behind its spool."""
        cfg = self.config.store
        if cfg.type == "local":
            return self.primary
        from evidock.daemon.store.s3_doctor import object_lock_enabled
        from evidock.daemon.store.spool import Spool, SpoolingStore, SpoolLimits

        spool = cfg.spool
        limits = SpoolLimits(int(spool.max_gib * (1 << 30)), spool.warn_fraction,
                             spool.max_age_hours * 3600,
                             timedelta(minutes=spool.deadline_margin_minutes))

        def fit() -> bool:
            """Can the bucket hold evidence?  Raises while S3 cannot be asked."""
            locked = object_lock_enabled(self.s3_client, cfg.bucket)
            if not locked and cfg.allow_unlocked_bucket:
                log.warning("store_without_object_lock", store=self.primary.name)
            return locked or cfg.allow_unlocked_bucket

        return SpoolingStore(self.primary, Spool(self.config.spool_path), limits,
                             check_primary=fit)

    def start_store(self):
        """The store as the daemon starts it: the spool claimed for this daemon's lifetime
        and the bucket's set-up proven if S3 answers.  Refuses (``StoreMisconfigured``) only
        a bucket found without Object Lock; S3 away, or refusing the credentials, is no
        reason to stop: the spool takes the recordings meanwhile."""
        store = self.store
        if self.config.store.type == "local":
            return store
        store.spool.claim()
        if store.start() is False:
            cfg = self.config.store
            raise StoreMisconfigured(
                f"bucket {cfg.bucket!r} has no Object Lock: recordings stored there could be "
                "deleted or overwritten, so evidock will not start",
                hint="create a bucket with Object Lock enabled (run `evidock doctor`), or for a "
                "test set store.allow_unlocked_bucket = true")
        return store

    @cached_property
    def drainer(self):
        """The thread that moves spooled recordings to S3 (None for a local store)."""
        if self.config.store.type == "local":
            return None
        from evidock.daemon.store.spool import Drainer

        spool = self.config.store.spool
        return Drainer(self.store, self.ledger, interval=spool.drain_interval_seconds,
                       max_backoff=spool.retry_max_seconds, alerts=self.compliance.alerts)

    def _store_when_used(self):
        if "store" in self.__dict__:
            return self.store
        return _StoreWhenUsed(lambda: self.store)

    # -- ingest ------------------------------------------------------------------------------

    @cached_property
    def retry(self) -> RetryPolicy:
        ingest = self.config.ingest
        return RetryPolicy(ingest.max_attempts, ingest.retry_base_seconds,
                           ingest.retry_max_seconds)

    @cached_property
    def ingestor(self):
        from evidock.daemon.ingest import Ingestor

        return Ingestor(self.ledger, self.store, retention_days=self.config.policy.retention_days,
                        retry=self.retry, chunk_size=self.config.ingest.chunk_size,
                        group_verify=True)

    @cached_property
    def pipeline(self):
        from evidock.daemon.pipeline import Pipeline

        ingest = self.config.ingest
        return Pipeline(self.ledger, self.ingestor, workers=ingest.workers,
                        handover_hours=self.config.policy.handover_hours,
                        adjust_deadline=self.compliance.exemptions.adjust,
                        stuck_seconds=ingest.stuck_seconds,
                        pause_base_seconds=ingest.retry_base_seconds,
                        pause_max_seconds=min(ingest.retry_max_seconds, 60.0),
                        linger_seconds=self.config.station.undocked_linger_seconds)

    @cached_property
    def prober(self):
        from evidock.daemon.probe import Prober

        return Prober(self.ledger, self.store) if self.config.ingest.probe else None

    @cached_property
    def deriver(self):
        """The derivative queue's worker (None when ``derivatives.enabled`` is false): below
        ingest, it starts nothing and pauses its ffmpeg while a device is being read."""
        cfg = self.config.derivatives
        if not cfg.enabled:
            return None
        from evidock.daemon.derivatives.queue import Deriver

        pipeline = self.pipeline
        return Deriver(self.ledger, self.store, cfg, work_dir=self.config.data_dir / "derive",
                       busy=lambda: pipeline.status()["active"] > 0)

    # -- compliance --------------------------------------------------------------------------

    @cached_property
    def alert_sender(self) -> WebhookSender | None:
        """The daemon's webhook thread (None without a webhook, or for a command)."""
        hook = webhook_sink(self.config)
        if hook is None or not self.background_alerts:
            return None
        return WebhookSender(AlertBook(self.ledger, [hook]))

    @cached_property
    def sinks(self) -> list:
        if self._sinks is not None:
            return list(self._sinks)
        sinks: list = [LogSink()] if self.config.alerts.log else []
        if self.alert_sender is not None:
            sinks.append(self.alert_sender.handoff)
        elif (hook := webhook_sink(self.config)) is not None:
            sinks.append(hook)
        return sinks

    @cached_property
    def compliance(self) -> Compliance:
        cfg = self.config.store
        release = None
        if cfg.type == "s3" and cfg.custodian_releases_holds:
            release = _StoreWhenUsed(lambda: self.custodian_store)
        return build_compliance(self.config, self.ledger, self._store_when_used(),
                                sinks=self.sinks, repair=self.repair, release_store=release)

    @cached_property
    def custodian_store(self):
        """The bucket as the custodian's credential reaches it: legal holds are released
        through it alone when ``[store] custodian_releases_holds``."""
        from evidock.daemon.store.s3 import S3WormStore

        cfg = self.config.store
        return S3WormStore(make_s3_client(cfg, custodian=True), cfg.bucket,
                           station=self.config.station.id)

    # -- custody -----------------------------------------------------------------------------

    @cached_property
    def custody(self):
        """Who may see what (daemon/custody/): the registry, clearance and access requests."""
        from evidock.daemon.custody.access import Custody

        return Custody(self.ledger, self.config.custody)

    @cached_property
    def stamper(self):
        from evidock.daemon.custody.tsa import Stamper

        return Stamper(self.ledger, self.config.timestamps)

    @cached_property
    def exporter(self):
        from evidock.daemon.custody.bag import Exporter

        return Exporter(self.ledger, self.store, self.custody, self.stamper)

    def review_room(self, kiosk):
        """The review room's handlers (daemon/web/review.py) over this station's ledger,
        store, custody check, case book and exporter, worded like ``kiosk`` (its templates
        and language: one catalogue for both); and the key that signs its sessions."""
        from evidock.daemon.web.auth import session_key
        from evidock.daemon.web.review import Review

        config = self.config
        review = Review(ledger=self.ledger, store=self.store, custody=self.custody,
                        cases=self.compliance.cases, exporter=self.exporter,
                        export_dir=config.data_dir / "exports", templates=kiosk.templates,
                        language=kiosk.words.language, zone=config.display_zone)
        return review, session_key(config.data_dir)

    @cached_property
    def scheduler(self):
        from apscheduler.schedulers.background import BackgroundScheduler
        from apscheduler.triggers.interval import IntervalTrigger

        from evidock.daemon.checks.schedule import add_jobs

        scheduler = BackgroundScheduler(daemon=True)
        add_jobs(scheduler, self.compliance.runner, self.config.checks)
        if self.stamper.configured:
            from evidock.daemon.custody.tsa import stamp_job

            # looked at often, stamped only when due or after a failed try (tsa.stamp_job)
            minutes = min(self.config.timestamps.every_hours * 60, 15)
            scheduler.add_job(stamp_job(self.stamper), IntervalTrigger(minutes=minutes),
                              id="timestamp", max_instances=1, coalesce=True)
        if self.prober is not None:
            pipeline = self.pipeline
            # below ingest: probes only while no device is being read, and stops when one is
            scheduler.add_job(
                self.prober.run, IntervalTrigger(seconds=15),
                kwargs={"keep_going": lambda: pipeline.status()["active"] == 0},
                id="probe", max_instances=1, coalesce=True)
        if self.deriver is not None:
            pipeline = self.pipeline
            scheduler.add_job(
                self.deriver.run, IntervalTrigger(seconds=15),
                kwargs={"keep_going": lambda: pipeline.status()["active"] == 0},
                id="derivatives", max_instances=1, coalesce=True)
        return scheduler

    # -- drivers -----------------------------------------------------------------------------

    def drivers(self, *, on_unknown) -> tuple[list, object | None]:
        """The configured device drivers, and the USB one among them (or None).
        ``on_unknown`` receives the USB disks and cameras evidock does not take."""
        config = self.config
        drivers: list = []
        from evidock.drivers.profiles import load_profiles

        folder = config.usb.profiles_dir
        if folder is None and config.source not in ("embedded defaults", ""):
            folder = Path(config.source).parent / "profiles"
        if config.watch.folders:
            from evidock.drivers.watchfolder import WatchFolderDriver

            drivers.append(WatchFolderDriver(
                config.watch.folders, settle_seconds=config.watch.settle_seconds,
                rescan_seconds=config.watch.rescan_seconds, ignore=config.watch.ignore,
                profile=self._watch_profile(load_profiles(folder), folder)))
        usb = None
        if config.usb.enabled:
            from evidock.drivers.usb import UsbDriver

            usb = UsbDriver(config.data_dir, load_profiles(folder),
                            allow_generic=config.usb.generic_cameras, on_unknown=on_unknown)
            drivers.append(usb)
        return drivers, usb

    def _watch_profile(self, profiles: list, folder):
        name = self.config.watch.profile
        for profile in profiles:
            if profile.name == name:
                return profile
        from evidock.daemon.errors import ConfigError

        raise ConfigError(f"[watch] profile = {name!r}: no device profile of that name in "
                          f"{folder or '(no profiles folder)'}",
                          hint="name a profile from the profiles folder, or 'generic'")

    def releaser(self, usb):
        """The thread that clears (if configured) and unmounts handed-over devices, off the
        main loop that pings the watchdog; None without USB docking."""
        if usb is None:
            return None
        from evidock.daemon.releaser import Releaser

        return Releaser(usb, self.ledger)

    def close(self) -> None:
        """Stop the threads the wiring started itself (the webhook sender)."""
        if self.__dict__.get("alert_sender") is not None:
            self.alert_sender.stop()
