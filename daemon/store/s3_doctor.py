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


def _rules(client: Minio, bucket: str) -> list:
    try:
        config = client.get_bucket_lifecycle(bucket)
    except S3Error:
        config = None
    return list(config.rules) if config else []


def _prefix(rule) -> str:
    return ((rule.rule_filter.prefix if rule.rule_filter else None) or "")


def _deletes(rule) -> bool:
    """Does the rule expire current objects or remove versions (not only abort uploads)?"""
    return bool(rule.expiration or rule.noncurrent_version_expiration)


def _lifecycle(client: Minio, bucket: str) -> Finding:
    rules = [r for r in _rules(client, bucket) if r.status == "Enabled"]
    outside = [r for r in rules if _deletes(r) and not _prefix(r).startswith("staging/")]
    if outside:
        names = ", ".join(f"{r.rule_id or '(no id)'} on {_prefix(r) or 'the whole bucket'}"
                          for r in outside)
        return Finding(FAIL, "lifecycle", f"lifecycle rule(s) that expire or remove objects "
                       f"outside staging/: {names}. Object Lock keeps locked versions, but such "
                       "a rule hides recordings behind delete markers and removes them once "
                       "their lock ends: remove it, keep only the staging/ rule "
                       "(config/s3-lifecycle.json)")
    for rule in rules:
        if "staging/".startswith(_prefix(rule)) and rule.expiration:
            return Finding(OK, "staging_lifecycle", "a lifecycle rule clears staging/")
    return Finding(WARN, "staging_lifecycle",
                   f"no lifecycle rule for staging/: {STAGING_RULE_HINT}")


def bucket_settings(client: Minio, bucket: str) -> dict:
    """The bucket's protection as plain data (compared run to run by the retention audit)."""
    try:
        versioning = client.get_bucket_versioning(bucket).status
        try:
            lock = client.get_object_lock_config(bucket)
            lock_text = {"enabled": True, "mode": lock.mode, "days": _lock_days(lock)}
        except S3Error as exc:
            if exc.code not in NO_LOCK:
                raise
            lock_text = {"enabled": False, "mode": None, "days": None}
        rules = sorted(({
            "id": r.rule_id, "status": r.status, "prefix": _prefix(r),
            "expiration_days": r.expiration.days if r.expiration else None,
            "noncurrent_days": (r.noncurrent_version_expiration.noncurrent_days
                                if r.noncurrent_version_expiration else None),
        } for r in _rules(client, bucket)), key=lambda r: (r["prefix"], str(r["id"])))
    except StoreError:
        raise
    except Exception as exc:
        raise store_error(exc, f"reading the protection settings of bucket {bucket}") from exc
    return {"versioning": versioning, "object_lock": lock_text, "lifecycle": rules}


#: What a SeaweedFS login can do, measured on the server the tests run (4.48): Object Lock
#: calls (put with retention or legal hold, read the lock settings) need the Admin action, and
#: an Admin login can also release legal holds, add delete markers, write over keys and change
#: lifecycle rules; an identity without Admin cannot lock anything at all.  No finer policy
#: exists there, so the daemon's audit, not the server, catches those changes.
SEAWEEDFS_LIMITS = (
    "this is a SeaweedFS server: its identities cannot be restricted to the least-privilege "
    "policy (config/s3-policy.json). Setting Object Lock needs its Admin action, which also "
    "allows releasing legal holds, delete markers, new versions over existing keys and "
    "lifecycle changes. evidock's own writes are conditional (If-None-Match) and its "
    "retention audit alerts on every such change and repairs holds, but the server does not "
    "prevent them: keep the daemon's login to this station, and use AWS S3 or MinIO with the "
    "policy where the policy must be enforced")


def server_kind(client: Minio, bucket: str) -> str | None:
    """``seaweedfs`` when the server says so in its ``Server`` header, else None."""
    try:
        response = client._execute("GET", bucket, query_params={"versioning": ""})
    except Exception:  # noqa: BLE001 - only a hint for the doctor's message
        return None
    server = (response.headers.get("Server") or "").lower()
    return "seaweedfs" if "seaweed" in server else None


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
    if server_kind(client, bucket) == "seaweedfs":
        found.append(Finding(WARN, "least_privilege", SEAWEEDFS_LIMITS))
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

