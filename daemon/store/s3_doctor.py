"""Is this bucket fit to hold evidence, and are the daemon's credentials what they should be?

``bucket_problems`` reads the bucket's set-up only; ``diagnose`` also writes a small probe object
under ``staging/<station>/doctor-*`` to prove the credentials can write and set retention, and tries
to hide it behind a delete marker to show whether they can delete (they should not).  The probe is
locked for the staging period like any staged upload and cleared by the same lifecycle rule.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from minio import Minio
from minio.commonconfig import COMPLIANCE
from minio.error import S3Error
from minio.objectlockconfig import DAYS, YEARS
from minio.retention import Retention

from evidock.daemon.errors import StoreError
from evidock.daemon.store.s3_wire import lock_headers, store_error

OK, WARN, FAIL = "ok", "warning", "problem"
NO_LOCK = ("ObjectLockConfigurationNotFoundError", "NoSuchObjectLockConfiguration")
STAGING_RULE_HINT = (
    "add a lifecycle rule that expires objects under staging/ after 2 days, deletes noncurrent "
    "versions after 1 day and aborts incomplete multipart uploads after 1 day (see "
    "config/s3-lifecycle.json); staged uploads otherwise accumulate")


@dataclass(frozen=True)
class Finding:
    level: str  # ok, warning, problem
    check: str
    message: str


def _lock_days(config) -> int | None:
    amount, unit = config.duration, (config.duration_unit or "").upper()
    if amount is None:
        return None
    return amount * 365 if unit == YEARS.upper() else amount if unit == DAYS.upper() else None


def inspect_bucket(client: Minio, bucket: str, *, min_days: int | None = None) -> list[Finding]:
    """Versioning, Object Lock, the default rule and the staging lifecycle rule."""
    out = []
    try:
        if not client.bucket_exists(bucket):
            return [Finding(FAIL, "bucket", f"bucket {bucket!r} does not exist: create it with "
                            "Object Lock enabled (it cannot be enabled later on most servers)")]
        out.append(Finding(OK, "bucket", f"bucket {bucket!r} exists"))
        status = client.get_bucket_versioning(bucket).status
        out.append(Finding(OK, "versioning", "versioning is enabled") if status == "Enabled" else
                   Finding(FAIL, "versioning", f"versioning is {status or 'off'}: Object Lock "
                           "needs it; recreate the bucket with Object Lock enabled"))
        try:
            lock = client.get_object_lock_config(bucket)
        except S3Error as exc:
            if exc.code not in NO_LOCK:
                raise
            return out + [Finding(FAIL, "object_lock", f"Object Lock is not enabled on {bucket!r}: "
                                  "recordings could be deleted; create a new bucket with Object "
                                  "Lock enabled and point the daemon at it")]
        out.append(Finding(OK, "object_lock", "Object Lock is enabled"))
        days = _lock_days(lock)
        if lock.mode is None:
            out.append(Finding(WARN, "default_rule", "no default retention rule: evidock sets "
                               "COMPLIANCE retention on every object itself, but a default "
                               f"COMPLIANCE rule of {min_days or 730} days is a backstop"))
        elif lock.mode != COMPLIANCE:
            out.append(Finding(FAIL, "default_rule", f"the default rule is {lock.mode}: "
                               "GOVERNANCE can be bypassed; set a COMPLIANCE default rule"))
        elif min_days and days is not None and days < min_days:
            out.append(Finding(FAIL, "default_rule", f"the default COMPLIANCE rule is {days} "
                               f"day(s), policy needs at least {min_days}: raise it"))
        else:
            out.append(Finding(OK, "default_rule", f"default COMPLIANCE rule of {days} day(s)"))
        out.append(_lifecycle(client, bucket))
    except StoreError:
        raise
    except Exception as exc:
        raise store_error(exc, f"inspecting bucket {bucket}") from exc
    return out


def _lifecycle(client: Minio, bucket: str) -> Finding:
    try:
        config = client.get_bucket_lifecycle(bucket)
    except S3Error:
        config = None
    for rule in (config.rules if config else []):
        prefix = (rule.rule_filter.prefix if rule.rule_filter else None) or ""
        if rule.status == "Enabled" and "staging/".startswith(prefix) and rule.expiration:
            return Finding(OK, "staging_lifecycle", "a lifecycle rule clears staging/")
    return Finding(WARN, "staging_lifecycle",
                   f"no lifecycle rule for staging/: {STAGING_RULE_HINT}")


def probe_credentials(client: Minio, bucket: str, station: str) -> list[Finding]:
    """Write a probe, extend its retention, then see whether a delete marker can hide it."""
    key = f"staging/{station}/doctor-{uuid.uuid4().hex}"
    until = datetime.now(UTC) + timedelta(hours=1)
    try:
        client._put_object(bucket, key, b"evidock doctor probe",
                           {**lock_headers(until), "Content-MD5": _md5(b"evidock doctor probe")})
    except S3Error as exc:
        return [Finding(FAIL, "write", f"the credentials cannot write with retention to {bucket!r} "
                        f"({exc.code}): allow s3:PutObject and s3:PutObjectRetention")]
    found = [Finding(OK, "write", "the credentials can write objects with COMPLIANCE retention")]
    try:
        client.set_object_retention(bucket, key, Retention(COMPLIANCE, until + timedelta(hours=1)))
        found.append(Finding(OK, "retention", "the credentials can extend retention"))
    except S3Error as exc:
        found.append(Finding(FAIL, "retention", f"the credentials cannot set retention "
                             f"({exc.code}): allow s3:PutObjectRetention and "
                             "s3:GetObjectRetention"))
    try:
        client.remove_object(bucket, key)
        found.append(Finding(FAIL, "delete", "the credentials can delete (a delete marker now "
                             f"hides {key}): remove s3:DeleteObject and s3:DeleteObjectVersion "
                             "from the daemon's policy (config/s3-policy.json)"))
    except S3Error:
        found.append(Finding(OK, "delete", "the credentials cannot delete, as it should be"))
    return found


def _md5(data: bytes) -> str:
    from minio.helpers import md5sum_hash

    return md5sum_hash(data)


def diagnose(client: Minio, bucket: str, *, station: str, min_days: int | None = None,
             write_probe: bool = True) -> list[Finding]:
    found = inspect_bucket(client, bucket, min_days=min_days)
    unusable = any(f.level == FAIL and f.check in ("bucket", "versioning", "object_lock")
                   for f in found)
    if write_probe and not unusable:
        try:
            found += probe_credentials(client, bucket, station)
        except Exception as exc:
            raise store_error(exc, f"probing the credentials on {bucket}") from exc
    return found


def bucket_problems(client: Minio, bucket: str, min_days: int | None = None) -> list[str]:
    """The set-up problems as messages (``WormStore.check``): nothing is written."""
    return [f.message for f in inspect_bucket(client, bucket, min_days=min_days) if f.level != OK]


def object_lock_enabled(client: Minio, bucket: str) -> bool:
    try:
        client.get_object_lock_config(bucket)
    except S3Error as exc:
        if exc.code in NO_LOCK:
            return False
        raise store_error(exc, f"reading the Object Lock set-up of {bucket}") from exc
    except Exception as exc:
        raise store_error(exc, f"reading the Object Lock set-up of {bucket}") from exc
    return True

