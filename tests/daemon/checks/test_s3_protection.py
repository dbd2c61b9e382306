"""R3/R4 on the real S3 server (SeaweedFS with Object Lock): what the daemon's own
credentials can do to weaken protection is noticed by the scheduled audit, repaired where
it can be, and always an alert and a ledger event; reads address the recorded version."""

from __future__ import annotations

import io
import json
import os
from datetime import UTC, datetime, timedelta

import pytest
from minio.commonconfig import COMPLIANCE, ENABLED, Filter
from minio.lifecycleconfig import Expiration, LifecycleConfig, Rule
from minio.objectlockconfig import DAYS, ObjectLockConfig
from minio.retention import Retention

from evidock.daemon.config import Config
from evidock.daemon.errors import EvidockError
from evidock.daemon.ingest import Ingestor, RetryPolicy
from evidock.daemon.ledger.sqlite import SqliteLedger
from evidock.daemon.store.s3 import S3WormStore
from evidock.daemon.wiring import build_compliance
from evidock.drivers.base import DeviceIdentity, MediaItem

pytestmark = pytest.mark.s3
MiB = 1 << 20


class Station:
    """A real ledger, the S3 store on a fresh Object Lock bucket, and the compliance checks."""

    def __init__(self, root, client, bucket: str) -> None:
        self.client, self.bucket = client, bucket
        self.config = Config.model_validate({"station": {"id": "st-s3",
                                                          "data_dir": str(root / "data")}})
        self.ledger = SqliteLedger(root / "ledger.sqlite3", station="st-s3")
        self.store = S3WormStore(client, bucket, station="st-s3", part_size=5 * MiB,
                                 concurrency=2, min_lock_days=730)
        self.c = build_compliance(self.config, self.ledger, self.store, sinks=[])
        self.ingestor = Ingestor(self.ledger, self.store, retention_days=730, retry=RetryPolicy())
        self.root = root
        self.n = 0

    def handed_over(self, data: bytes | None = None):
        self.n += 1
        folder = self.root / "dev"
        folder.mkdir(exist_ok=True)
        name = f"REC{self.n}.MP4"
        (folder / name).write_bytes(data or os.urandom(4096))
        st = os.stat(folder / name)
        self.ledger.ensure_device("DSJ-1", source="watch", officer_id="110001")
        media, _ = self.ledger.register_media(
            device_serial="DSJ-1", source_path=name, size=st.st_size, mtime_ns=st.st_mtime_ns,
            kind="video", recorded_at=datetime.now(UTC) - timedelta(hours=1), handover_hours=24,
            officer_id="110001")
        item = MediaItem(DeviceIdentity("DSJ-1", officer_id="110001"), str(folder), name,
                         st.st_size, st.st_mtime_ns, datetime.now(UTC), "video")
        assert "verified" == self.ingestor.ingest(media, item).state
        return self.ledger.media(media.id)

    def audit(self):
        self.c.runner.run("retention")
        return {a.key: a for a in self.c.alerts.list(open_only=True, check="retention")}

    def close(self):
        self.store.close()
        self.ledger.close()


@pytest.fixture
def station(tmp_path, s3_server, s3_client):
    bucket = s3_server.make_lock_bucket(f"prot-{os.urandom(4).hex()}", default_days=730)
    s = Station(tmp_path, s3_client, bucket)
    yield s
    s.close()


def incident(alerts: dict, kind: str):
    found = [a for k, a in alerts.items() if k.startswith(f"retention:incident:{kind}")]
    assert len(found) == 1, sorted(alerts)
    return found[0]


def test_the_ledger_records_the_version_and_a_forged_one_over_it_changes_no_read(station):
    media = station.handed_over()
    assert media.version_id
    # a forgery: other bytes, our hash metadata copied, its own lock
    head = station.client.stat_object(station.bucket, media.object_key).metadata
    meta = {k[len("x-amz-meta-"):]: v for k, v in head.items()
            if k.lower().startswith("x-amz-meta-")}
    station.client.put_object(station.bucket, media.object_key, io.BytesIO(b"forged"), 6,
                              metadata=meta, retention=Retention(
                                  COMPLIANCE, datetime.now(UTC) + timedelta(minutes=5)))
    with station.client.get_object(station.bucket, media.object_key) as plain:
        assert b"forged" == plain.read()  # what a plain GET gives now
    station.c.runner.run("fixity")
    assert [] == station.c.alerts.list(open_only=True, check="fixity")  # read by version
    alert = incident(station.audit(), "version")
    assert ("R4", "critical", f"object:{media.object_key}") == (alert.rule, alert.severity,
                                                                 alert.subject)
    assert media.version_id in alert.message and "Plain reads" in alert.message
    with pytest.raises(EvidockError, match="needs a reason"):
        station.c.alerts.acknowledge(alert.id, "custodian Wu")
    station.c.alerts.acknowledge(alert.id, "custodian Wu", "test forgery, server log checked")
    assert not [k for k in station.audit() if k.startswith("retention:incident:version")]
    station.ledger.verify()


def test_a_released_hold_is_put_back_as_a_ledger_event_and_an_alert(station):
    media = station.handed_over()
    station.ledger.import_cases([{
        "case_id": "C-1", "type": "查封扣押", "officers": '["110001"]', "subject": "",
        "start_at": media.recorded_at, "end_at": media.recorded_at, "status": "open",
        "closed_at": None, "sensitivity": "normal"}], by="li", source="t")
    station.c.cases.link("C-1", [media.id], kind="evidence", note="n", by="li")
    station.client.disable_object_legal_hold(station.bucket, media.object_key,
                                             version_id=media.version_id)
    alert = incident(station.audit(), "repair")
    assert ("R3", "critical", f"media:{media.id}") == (alert.rule, alert.severity,
                                                        alert.subject)
    assert "no legal hold" in alert.message and "put the legal hold back" in alert.message
    assert station.store.stat(media.object_key, version_id=media.version_id).legal_hold
    [event] = [e for e in station.ledger.events(kinds=["store_repaired"])]
    assert ("legal_hold", media.version_id) == (json.loads(event.data)["what"],
                                                json.loads(event.data)["version_id"])
    station.c.alerts.acknowledge(alert.id, "custodian Wu", "released by a test login")
    assert not [k for k in station.audit() if k.startswith("retention:incident:repair")]


def test_a_cut_default_rule_and_a_deleting_lifecycle_rule_alert_at_the_scheduled_audit(station):
    station.handed_over()
    assert not [k for k in station.audit() if "incident" in k]  # the settings as first seen
    station.client.set_object_lock_config(station.bucket, ObjectLockConfig(COMPLIANCE, 1, DAYS))
    station.client.set_bucket_lifecycle(station.bucket, LifecycleConfig([Rule(
        ENABLED, rule_filter=Filter(prefix="media/"), rule_id="purge",
        expiration=Expiration(days=1))]))
    alerts = station.audit()
    changed = incident(alerts, "settings")
    assert "lifecycle" in changed.message and "object_lock" in changed.message
    problems = " | ".join(a.message for a in alerts.values())
    assert "the default COMPLIANCE rule is 1 day(s), policy needs at least 730" in problems
    assert "purge on media/" in problems
    station.c.alerts.acknowledge(changed.id, "custodian Wu", "test of the audit")
    station.client.set_object_lock_config(station.bucket,
                                          ObjectLockConfig(COMPLIANCE, 730, DAYS))
    station.client.delete_bucket_lifecycle(station.bucket)
    # putting it back is a change too: seen, alerted, closed by a person
    assert 1 == len([k for k in station.audit() if k.startswith("retention:incident:settings")])


def test_junk_written_over_a_content_key_first_never_strands_the_recording(station, tmp_path):
    data = os.urandom(8192)
    from evidock.daemon.hashing import digest_file
    from evidock.daemon.store.keys import object_key

    key = object_key(digest_file(io.BytesIO(data)))
    station.client.put_object(station.bucket, key, io.BytesIO(b"junk"), 4)
    media = station.handed_over(data)  # the drainer and ingest put alike
    assert "verified" == media.state
    with station.store.open(key, version_id=media.version_id) as fh:
        assert data == fh.read()
    alert = incident(station.audit(), "version")
    assert "Plain reads" not in alert.message  # ours is the latest; the junk stays below it


def test_a_spooled_recording_drains_past_junk_written_over_its_key_meanwhile(station, tmp_path):
    """The spool case: while S3 was away, something wrote junk under the recording's content
    key; the drain still moves the recording (its own version, by id), empties the spool, and
    the audit names the junk."""
    from evidock.daemon.hashing import digest_file
    from evidock.daemon.store.keys import object_key
    from evidock.daemon.store.spool import Drainer, Spool, SpoolingStore, SpoolLimits

    front = SpoolingStore(station.store, Spool(tmp_path / "spool"), SpoolLimits(1 << 30, 0.5))
    station.ingestor = Ingestor(station.ledger, front, retention_days=730, retry=RetryPolicy())
    front.mark_down("test: S3 away")
    data = os.urandom(6000)
    media = station.handed_over(data)
    assert media.store.startswith("spool:")
    key = object_key(digest_file(io.BytesIO(data)))
    station.client.put_object(station.bucket, key, io.BytesIO(b"junk"), 4)
    front.mark_up()
    assert 1 == Drainer(front, station.ledger).drain_once()
    moved = station.ledger.media(media.id)
    assert (station.store.name, key) == (moved.store, moved.object_key)
    with station.store.open(key, version_id=moved.version_id) as fh:
        assert data == fh.read()
    assert [] == list(front.spool.entries())
    station.c = build_compliance(station.config, station.ledger, front, sinks=[])
    alert = incident(station.audit(), "version")
    assert key in alert.message
    station.ledger.verify()


def test_a_delete_marker_over_a_recording_is_an_alert_and_reads_still_reach_it(station):
    media = station.handed_over()
    station.client.remove_object(station.bucket, media.object_key)  # the daemon's login may
    alert = incident(station.audit(), "version")
    assert "a delete marker" in alert.message
    assert [] == [a for a in station.c.alerts.list(open_only=True, check="retention")
                  if a.key.startswith("retention:missing")]
    with station.store.open(media.object_key, version_id=media.version_id) as fh:
        assert media.size == len(fh.read())
