"""The S3 side of the retention audit (R3, R4): what the daemon's own credentials could do
to weaken protection, noticed on schedule.

* The bucket's settings (versioning, Object Lock and its default rule, lifecycle rules) are
  compared with the last ones observed; any change is a ``store_settings_changed`` event and
  an alert naming before and after.
* Every content key's versions are compared with the one version the ledger recorded for it:
  a version written over it (junk, or a forgery carrying our metadata and its own lock) or a
  delete marker is an alert.  Reads, audits and exports address the recorded version, so such
  a version changes nothing evidock reads; but a plain GET of the key returns it.
* A lock the audit had to put back (a released legal hold, a shortened retention) is a
  ``store_repaired`` event and an alert.

These alerts are about something that happened: they stay open until a person acknowledges
them with a reason (``evidock alerts ack ID --by NAME --reason TEXT``), which closes them.
"""

from __future__ import annotations

import json

import structlog

from evidock.daemon.alerts.book import Finding
from evidock.daemon.errors import StoreError
from evidock.daemon.ledger.base import Ledger
from evidock.daemon.store.keys import PREFIX

log = structlog.get_logger("evidock.checks")

SETTINGS_KINDS = ("store_settings_observed", "store_settings_changed")
INCIDENT = "retention:incident:"


def record_repair(ledger: Ledger, *, media_id: int, object_key: str, version_id: str | None,
                  what: str, found: str, done: str) -> None:
    """A lock the store did not hold any more, put back: in the ledger, for an alert."""
    ledger.record("store_repaired", f"media:{media_id}", {
        "media_id": media_id, "object_key": object_key, "version_id": version_id,
        "what": what, "found": found, "done": done, "at": ledger.now()})
    log.warning("store_repaired", media_id=media_id, object_key=object_key, what=what,
                found=found)


class BucketAudit:
    def __init__(self, ledger: Ledger, protection, *, store_name: str) -> None:
        self.ledger = ledger
        self.s3 = protection
        self.store_name = store_name

    def run(self) -> list[Finding]:
        findings: list[Finding] = []
        if self.s3 is not None:
            try:
                findings = self._settings() + self._versions()
            except StoreError as exc:  # S3 away: said, and the rest of the audit goes on
                findings = [Finding(
                    f"retention:unaudited:{self.store_name}", "R4", "warning",
                    f"store:{self.store_name}",
                    f"the bucket's settings and versions could not be audited: {exc}. They "
                    "are checked again at the next run; check the connection and `evidock "
                    "doctor`.")]
        return findings + self._incidents()

    # -- bucket settings -----------------------------------------------------------------------

    def _settings(self) -> list[Finding]:
        now = self.s3.settings()
        subject = f"store:{self.store_name}"
        last = None
        for ev in self.ledger.events(subject=subject, kinds=SETTINGS_KINDS):
            last = json.loads(ev.data)["settings"]
        if last is None:
            self.ledger.record("store_settings_observed", subject, {"settings": now})
        elif last != now:
            self.ledger.record("store_settings_changed", subject,
                               {"settings": now, "before": last})
            log.warning("store_settings_changed", store=self.store_name, before=last,
                        after=now)
        return []  # the alerts come from the events (_incidents)

    # -- versions of every content key ---------------------------------------------------------

    def _versions(self) -> list[Finding]:
        expected = self.ledger.object_versions(self.store_name)
        out = []
        for key, versions in sorted(self.s3.versions(f"{PREFIX}/").items()):
            if key not in expected:
                continue  # the store-to-ledger inventory names objects the ledger lacks
            wanted = expected[key]
            real = sorted((v for v in versions if not v.is_delete_marker),
                          key=lambda v: v.last_modified)
            if None in wanted and real:  # recorded before version ids: the first is ours
                wanted = (wanted - {None}) | {real[0].version_id}
            for v in versions:
                if v.version_id in wanted and not v.is_delete_marker:
                    continue
                what = "a delete marker" if v.is_delete_marker else "a version"
                hidden = ("Plain reads of the key now return other bytes or nothing; "
                          if v.is_latest else "")
                ours = ", ".join(sorted(str(w) for w in wanted))
                out.append(Finding(
                    f"{INCIDENT}version:{key}:{v.version_id}", "R4", "critical",
                    f"object:{key}",
                    f"S3 {self.store_name} {key} has {what} the ledger did not record "
                    f"(version {v.version_id}, written {v.last_modified:%Y-%m-%d %H:%M:%S}). "
                    f"{hidden}evidock reads the recorded version(s) {ours}. Find who wrote "
                    "it (server logs, which credentials), then acknowledge with the reason "
                    "('evidock alerts ack ID --by NAME --reason TEXT')."))
        return out

    # -- what happened -------------------------------------------------------------------------

    def _incidents(self) -> list[Finding]:
        out = []
        for ev in self.ledger.events(kinds=("store_repaired", "store_settings_changed")):
            d = json.loads(ev.data)
            if ev.kind == "store_repaired":
                out.append(Finding(
                    f"{INCIDENT}repair:{ev.seq}", "R3", "critical", ev.subject,
                    f"the audit found {d['found']} on recording {d['media_id']} "
                    f"({d['object_key']}, version {d['version_id']}) and {d['done']} at "
                    f"{ev.at[:19]}. Something with write access to the store changed it: "
                    "check who holds the store's credentials, then acknowledge with the "
                    "reason."))
            else:
                after, before = d["settings"], d["before"]
                changed = sorted(k for k in after if after[k] != before.get(k))
                was = json.dumps({k: before.get(k) for k in changed}, ensure_ascii=False)
                now = json.dumps({k: after[k] for k in changed}, ensure_ascii=False)
                out.append(Finding(
                    f"{INCIDENT}settings:{ev.seq}", "R4", "critical", ev.subject,
                    f"the protection settings of {ev.subject.split(':', 1)[1]} changed "
                    f"({', '.join(changed)}) before {ev.at[:19]}: was {was}, now {now}. Put "
                    "the bucket back (run 'evidock doctor'), find who changed it, then "
                    "acknowledge with the reason."))
        return out
