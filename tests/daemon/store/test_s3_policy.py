"""The least-privilege policy, tried on the server we test with (SeaweedFS 4.48).

SeaweedFS has no bucket policies: its identities get coarse actions.  What it enforces and
what it does not is measured here, so `doctor` and the README can say it plainly: a login
without Admin cannot set Object Lock at all (so the daemon needs Admin), yet such a login can
still hide a recording behind a delete marker; conditional writes (If-None-Match) are honoured,
and evidock's own commits use them; hold release goes through the custodian's credential."""

from __future__ import annotations

import io
import os
from datetime import UTC, datetime, timedelta

import pytest
from minio import Minio
from minio.error import S3Error

from evidock.daemon.config import Config
from evidock.daemon.errors import StoreMisconfigured
from evidock.daemon.store.s3 import S3WormStore
from evidock.daemon.store.s3_doctor import diagnose
from evidock.daemon.store.s3_wire import lock_headers, put_whole
from evidock.daemon.wiring import Wiring

from ...s3_fixture import load_tool
from ..checks.test_s3_protection import Station
from .contract import reader

pytestmark = pytest.mark.s3
MiB = 1 << 20
BUCKET = "policy-test"
LIMITED = ("LIMITEDKEY00000000", "limited-secret-0000000000")
CUSTODIAN = ("CUSTODIANKEY000000", "custodian-secret-00000000")


def identity(name: str, keys: tuple[str, str], actions: list[str]) -> dict:
    return {"name": name, "credentials": [{"accessKey": keys[0], "secretKey": keys[1]}],
            "actions": actions}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    tool = load_tool()  # the same skip (fail in CI) rule as tests/s3_fixture.py
    try:
        tool.find_weed()
    except FileNotFoundError as exc:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(f"CI must run the S3 tests: {exc}")
        pytest.skip(str(exc))
    srv = tool.TestServer(tmp_path_factory.mktemp("policy"))
    srv.extra_identities = [
        identity("limited", LIMITED, [f"Read:{BUCKET}", f"Write:{BUCKET}", f"List:{BUCKET}",
                                      f"Tagging:{BUCKET}"]),
        identity("custodian", CUSTODIAN, ["Admin", "Read", "Write", "List"])]
    srv.start()
    srv.make_lock_bucket(BUCKET, default_days=730)
    yield srv
    srv.stop(timeout=5)


def client(server, keys) -> Minio:
    return Minio(server.endpoint, access_key=keys[0], secret_key=keys[1], secure=False,
                 region="us-east-1")


def test_a_login_without_admin_cannot_lock_but_can_still_hide_a_recording(server):
    limited = S3WormStore(client(server, LIMITED), BUCKET, station="st", part_size=5 * MiB)
    try:
        with pytest.raises(StoreMisconfigured, match="AccessDenied"):
            limited.put(reader(os.urandom(1000)), retain_until=datetime.now(UTC)
                        + timedelta(minutes=2))
    finally:
        limited.close()
    admin = server.client()
    admin.put_object(BUCKET, "media/b3/zz/zz/probe", io.BytesIO(b"x"), 1)
    client(server, LIMITED).remove_object(BUCKET, "media/b3/zz/zz/probe")  # not refused
    with pytest.raises(S3Error):
        admin.stat_object(BUCKET, "media/b3/zz/zz/probe")  # hidden behind a delete marker


def test_doctor_says_the_server_cannot_enforce_the_policy(server):
    found = {f.check: f for f in diagnose(server.client(), BUCKET, station="st",
                                          min_days=730, write_probe=False)}
    assert "warning" == found["least_privilege"].level
    assert "SeaweedFS" in found["least_privilege"].message
    assert "Admin" in found["least_privilege"].message


def test_evidocks_commit_is_conditional_and_the_server_refuses_it_over_a_key(server):
    """Both ways a recording reaches its key carry ``If-None-Match: *``: the server-side
    copy from staging (a recording of several parts) and the single PUT (one part)."""
    store = S3WormStore(server.client(), BUCKET, station="st", part_size=5 * MiB)
    retain = datetime.now(UTC) + timedelta(minutes=2)
    try:
        data = os.urandom(5 * MiB + 3000)
        got = store.put(reader(data), retain_until=retain)
        staged = got.details["staging_key"]
        with pytest.raises(S3Error) as refused:
            store._copy(staged, None, got.key, {}, retain, False, "0" * 64, only_if_new=True,
                        size=len(data))
        assert "PreconditionFailed" == refused.value.code
        assert 1 == len([v for v in store.versions(got.key)[got.key]])

        small = os.urandom(3000)
        one = store.put(reader(small), retain_until=retain)
        assert "staging_key" not in one.details  # one PUT straight to its key
        with pytest.raises(S3Error) as refused:
            put_whole(store.client, BUCKET, one.key, small, one.digests.sha256,
                      {**lock_headers(retain), "If-None-Match": "*"})
        assert "PreconditionFailed" == refused.value.code
        assert 1 == len([v for v in store.versions(one.key)[one.key]])
    finally:
        store.close()


def test_hold_release_goes_through_the_custodians_credential(server, tmp_path, monkeypatch):
    station = Station(tmp_path, server.client(), BUCKET)
    media = station.handed_over()
    station.ledger.import_cases([{
        "case_id": "C-1", "type": "听证", "officers": '["110001"]', "subject": "",
        "start_at": media.recorded_at, "end_at": media.recorded_at, "status": "open",
        "closed_at": None, "sensitivity": "normal"}], by="li", source="t")
    station.c.cases.link("C-1", [media.id], kind="evidence", note="n", by="li")
    station.c.cases.unlink("C-1", media.id, by="li", reason="wrong case", release_hold=False)
    config = Config.model_validate({
        "station": {"id": "st-s3", "data_dir": str(tmp_path / "data")},
        "store": {"type": "s3", "endpoint": f"http://{server.endpoint}", "bucket": BUCKET,
                  "custodian_releases_holds": True}})
    monkeypatch.setenv("EVIDOCK_S3_ACCESS_KEY", server.access_key)
    monkeypatch.setenv("EVIDOCK_S3_SECRET_KEY", server.secret_key)
    monkeypatch.delenv("EVIDOCK_S3_CUSTODIAN_ACCESS_KEY", raising=False)
    wiring = Wiring(config)
    wiring.__dict__["ledger"] = station.ledger  # the station's ledger, at its own path
    with pytest.raises(StoreMisconfigured, match="custodian credentials not found"):
        wiring.compliance.holds.release(media.id, "custodian Wu", "case closed")
    assert station.store.stat(media.object_key, version_id=media.version_id).legal_hold
    monkeypatch.setenv("EVIDOCK_S3_CUSTODIAN_ACCESS_KEY", CUSTODIAN[0])
    monkeypatch.setenv("EVIDOCK_S3_CUSTODIAN_SECRET_KEY", CUSTODIAN[1])
    wiring.compliance.holds.release(media.id, "custodian Wu", "case closed")
    assert not station.store.stat(media.object_key, version_id=media.version_id).legal_hold
    station.close()
