"""The bucket and credential checks behind ``evidock doctor``, against a real server."""

from __future__ import annotations

import pytest
from minio.commonconfig import COMPLIANCE, ENABLED, Filter
from minio.lifecycleconfig import Expiration, LifecycleConfig, Rule
from minio.objectlockconfig import DAYS, ObjectLockConfig

from evidock.daemon.store.s3_doctor import FAIL, OK, WARN, diagnose, object_lock_enabled

pytestmark = pytest.mark.s3


def levels(findings):
    return {f.check: f.level for f in findings}


def test_a_bucket_without_object_lock_is_a_problem(s3_server, s3_client):
    s3_client.make_bucket("doctor-plain")
    got = levels(diagnose(s3_client, "doctor-plain", station="t"))
    assert FAIL == got["object_lock"]
    assert False is object_lock_enabled(s3_client, "doctor-plain")


def test_a_missing_bucket_is_a_problem_that_says_what_to_do(s3_client):
    (finding,) = diagnose(s3_client, "doctor-missing", station="t")
    assert (FAIL, "bucket") == (finding.level, finding.check)
    assert "Object Lock enabled" in finding.message


def test_a_lock_bucket_without_default_rule_or_lifecycle_gets_warnings(s3_server, s3_client):
    bucket = s3_server.make_lock_bucket("doctor-lock")
    got = levels(diagnose(s3_client, bucket, station="t", write_probe=False))
    # least_privilege: this is SeaweedFS, which cannot enforce the daemon's policy
    assert {"bucket": OK, "versioning": OK, "object_lock": OK, "default_rule": WARN,
            "staging_lifecycle": WARN, "least_privilege": WARN} == got


def test_a_default_rule_shorter_than_policy_is_a_problem(s3_server, s3_client):
    bucket = s3_server.make_lock_bucket("doctor-short", default_days=30)
    assert FAIL == levels(diagnose(s3_client, bucket, station="t", min_days=730))["default_rule"]
    s3_client.set_object_lock_config(bucket, ObjectLockConfig(COMPLIANCE, 800, DAYS))
    s3_client.set_bucket_lifecycle(bucket, LifecycleConfig([Rule(
        ENABLED, rule_filter=Filter(prefix="staging/"), rule_id="staging",
        expiration=Expiration(days=2))]))
    got = levels(diagnose(s3_client, bucket, station="t", min_days=730, write_probe=False))
    assert (OK, OK) == (got["default_rule"], got["staging_lifecycle"])


def test_credentials_that_can_delete_are_reported(s3_server, s3_client):
    """The test server's admin user may delete: the probe must notice."""
    bucket = s3_server.make_lock_bucket("doctor-admin")
    got = levels(diagnose(s3_client, bucket, station="t"))
    assert (OK, OK, FAIL) == (got["write"], got["retention"], got["delete"])
