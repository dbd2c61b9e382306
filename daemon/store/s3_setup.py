"""Build the S3 store from configuration: client, Object Lock check, spool in front."""

from __future__ import annotations

from datetime import timedelta

import structlog
from minio import Minio

from evidock.daemon.config import Config, S3StoreConfig
from evidock.daemon.errors import StoreMisconfigured, StoreUnavailable
from evidock.daemon.store.s3 import S3WormStore
from evidock.daemon.store.s3_doctor import object_lock_enabled
from evidock.daemon.store.s3_wire import MiB, http_client
from evidock.daemon.store.spool import Spool, SpoolingStore, SpoolLimits

log = structlog.get_logger("evidock.store")


def make_client(cfg: S3StoreConfig) -> Minio:
    host, tls = cfg.host_and_tls()
    access, secret = cfg.credentials()
    return Minio(host, access_key=access, secret_key=secret, secure=tls, region=cfg.region,
                 http_client=http_client(ca_bundle=str(cfg.ca_bundle) if cfg.ca_bundle else None,
                                         timeout=cfg.timeout_seconds,
                                         pool_size=cfg.concurrency * 2 + 2))


def make_s3_store(cfg: S3StoreConfig, station: str) -> S3WormStore:
    return S3WormStore(make_client(cfg), cfg.bucket, station=station,
                       part_size=cfg.part_size_mib * MiB, concurrency=cfg.concurrency,
                       staging_retention=timedelta(hours=cfg.staging_retention_hours))


def open_s3(config: Config) -> SpoolingStore:
    """The S3 store behind its spool.  Refuses a bucket without Object Lock unless the config
    says ``allow_unlocked_bucket``; an unreachable S3 is no reason to refuse (the spool holds)."""
    cfg = config.store
    primary = make_s3_store(cfg, config.station.id)
    try:
        locked = object_lock_enabled(primary.client, cfg.bucket)
    except StoreUnavailable as exc:
        log.warning("store_unreachable_at_start", store=primary.name, error=str(exc))
        locked = True  # checked again by the drainer's puts, which verify every lock
    if not locked:
        if not cfg.allow_unlocked_bucket:
            raise StoreMisconfigured(
                f"bucket {cfg.bucket!r} has no Object Lock: recordings stored there could be "
                "deleted or overwritten, so evidock will not start",
                hint="create a bucket with Object Lock enabled (run `evidock doctor`), or for a "
                "test set store.allow_unlocked_bucket = true")
        log.warning("store_without_object_lock", store=primary.name)
    limits = SpoolLimits(int(cfg.spool.max_gib * (1 << 30)), cfg.spool.warn_fraction,
                         cfg.spool.max_age_hours * 3600,
                         timedelta(minutes=cfg.spool.deadline_margin_minutes))
    return SpoolingStore(primary, Spool(config.spool_path), limits)
