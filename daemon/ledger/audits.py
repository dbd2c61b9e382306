"""Fixity, late handovers, probes and the figures of metrics and reports (part of
SqliteLedger).  Aggregates are computed here in one query each, never a query per row."""

from __future__ import annotations

import json

from evidock.daemon.ledger.projection import PROBE_FIELDS_13
from evidock.daemon.ledger.records import FINISHED_SQL
from evidock.daemon.timeutil import parse

_PROBE_FIELDS = ("duration_s", "container", "video_codec", "width", "height", "audio_codec",
                 "error", *PROBE_FIELDS_13)


def _marks(values) -> str:
    return ",".join("?" * len(values))


class AuditsMixin:
    # -- recordings given up on --------------------------------------------------------------

    def given_up(self) -> list[dict]:
        """Failed recordings with no retry time, per device and officer: count, earliest
        deadline (``first``), an error (``error``)."""
        return [dict(r) for r in self._rows(
            "SELECT device_serial, officer_id, COUNT(*) AS n, MIN(deadline_at) AS first, "
            "MAX(last_error) AS error FROM media WHERE state = 'failed' AND retry_at IS NULL "
            "GROUP BY device_serial, officer_id ORDER BY device_serial")]

    # -- fixity ------------------------------------------------------------------------------

    def fixity_sample(self, stores: list[str], share: int | None = None) -> tuple[int, list[int]]:
        """``(verified recordings in these stores, the ids to check now)``: ``share`` of them
        checked longest ago (never checked first), plus every one whose last check failed.
        ``share`` None: the caller gets only the count and failures."""
        stores = sorted(stores)
        total = self._one("SELECT COUNT(*) AS n FROM media WHERE state = 'verified' AND "
                          f"store IN ({_marks(stores)})", stores)["n"]
        due = [] if not share else self._rows(
            "SELECT m.id FROM media m LEFT JOIN fixity f ON f.media_id = m.id "
            f"WHERE m.state = 'verified' AND m.store IN ({_marks(stores)}) "
            "ORDER BY CASE WHEN f.checked_at IS NULL THEN 0 ELSE 1 END, f.checked_at, m.id "
            "LIMIT ?", (*stores, share))
        failed = self._rows("SELECT media_id FROM fixity WHERE ok = 0")
        return total, sorted({r[0] for r in due} | {r[0] for r in failed})

    def record_fixity(self, media_id: int, *, ok: bool, detail: str) -> None:
        with self._transaction() as conn:
            self._emit(conn, "fixity_checked", f"media:{media_id}", {
                "media_id": media_id, "ok": ok, "detail": detail, "checked_at": self.now()})

    def fixity_failures(self) -> list[dict]:
        return [dict(r) for r in self._rows(
            "SELECT f.media_id, f.checked_at, f.detail, m.object_key, m.size, m.sha256 "
            "FROM fixity f JOIN media m ON m.id = f.media_id WHERE f.ok = 0 "
            "ORDER BY f.media_id")]

    def fixity_behind(self, stores: list[str], before: str) -> int:
        """Verified recordings in these stores not checked (or ingested) since ``before``."""
        stores = sorted(stores)
        return self._one(
            "SELECT COUNT(*) AS n FROM media m LEFT JOIN fixity f ON f.media_id = m.id "
            f"WHERE m.state = 'verified' AND m.store IN ({_marks(stores)}) "
            "AND COALESCE(f.checked_at, m.ingested_at) < ?", (*stores, before))["n"]

    def object_versions(self, store: str) -> dict[str, set]:
        """Content key -> the version ids the ledger recorded for it in ``store`` (None for a
        recording stored before version ids were recorded, and for derivatives)."""
        out: dict[str, set] = {}
        for r in self._rows("SELECT object_key, version_id FROM media WHERE store = ? AND "
                            "object_key IS NOT NULL", (store,)):
            out.setdefault(r["object_key"], set()).add(r["version_id"])
        for r in self._rows("SELECT object_key FROM derivatives WHERE store = ? AND "
                            "object_key IS NOT NULL", (store,)):
            out.setdefault(r["object_key"], set()).add(None)
        return out

    # -- late handovers ----------------------------------------------------------------------

    def unrecorded_late(self) -> list[dict]:
        """Recordings handed over after their deadline and not yet in ``late_handovers``."""
        return [dict(r) for r in self._rows(
            "SELECT id, device_serial, officer_id, deadline_at, ingested_at FROM media "
            "WHERE state = 'verified' AND ingested_at > deadline_at AND id NOT IN "
            "(SELECT media_id FROM late_handovers) ORDER BY id")]

    def late_unacknowledged(self) -> list[dict]:
        """Late handovers no supervisor has acknowledged yet, with the recording's path."""
        return [dict(r) for r in self._rows(
            "SELECT l.media_id, l.device_serial, l.officer_id, l.deadline_at, "
            "l.handed_over_at, l.late_seconds, m.source_path FROM late_handovers l "
            "JOIN media m ON m.id = l.media_id WHERE l.acknowledged_at IS NULL "
            "ORDER BY l.media_id")]

    def record_late(self, items: list[dict]) -> int:
        """Record late handovers (media_id, device_serial, officer_id, deadline_at,
        handed_over_at, late_seconds) in one transaction, each once; returns how many."""
        done = 0
        with self._transaction() as conn:
            for item in items:
                if conn.execute("SELECT 1 FROM late_handovers WHERE media_id = ?",
                                (item["media_id"],)).fetchone():
                    continue
                self._emit(conn, "handover_late", f"media:{item['media_id']}", dict(item))
                done += 1
        return done

    # -- probes ------------------------------------------------------------------------------

    def unprobed(self, stores: list[str], limit: int = 50) -> list[tuple[int, str]]:
        """Verified video and audio in these stores with no probe yet: ``(id, object_key)``."""
        stores = sorted(stores)
        return [(r["id"], r["object_key"]) for r in self._rows(
            "SELECT m.id, m.object_key FROM media m LEFT JOIN media_probe p ON p.media_id = m.id "
            "WHERE m.state = 'verified' AND p.media_id IS NULL AND m.kind IN ('video', 'audio') "
            f"AND m.store IN ({_marks(stores)}) ORDER BY m.id LIMIT ?", (*stores, limit))]

    def record_probe(self, media_id: int, probe: dict) -> None:
        """What ffprobe said of the stored copy (the fields of ``media_probe``)."""
        self.record_probes([(media_id, probe)])

    def record_probes(self, results: list[tuple[int, dict]]) -> None:
        """Several probes in one transaction: one synced commit for the batch."""
        with self._transaction() as conn:
            for media_id, probe in results:
                self._emit(conn, "media_probed", f"media:{media_id}", {
                    "media_id": media_id, **{k: probe.get(k) for k in _PROBE_FIELDS},
                    "probed_at": self.now()})

    def probe(self, media_id: int) -> dict | None:
        row = self._one(f"SELECT probed_at, {', '.join(_PROBE_FIELDS)} FROM media_probe "
                        "WHERE media_id = ?", (media_id,))
        if not row:
            return None
        found = dict(row)
        if found["time_sources"]:
            found["time_sources"] = json.loads(found["time_sources"])
        if found["time_disagree"] is not None:
            found["time_disagree"] = bool(found["time_disagree"])
        return found

    # -- figures -----------------------------------------------------------------------------

    def station_figures(self) -> dict:
        """For /metrics: handed-over files and bytes, the oldest pending recording time and
        earliest pending deadline, late handovers recorded."""
        row = self._one(
            "SELECT COALESCE(SUM(CASE WHEN state = 'verified' THEN 1 ELSE 0 END), 0) AS files, "
            "COALESCE(SUM(CASE WHEN state = 'verified' THEN size ELSE 0 END), 0) AS bytes, "
            f"MIN(CASE WHEN state NOT IN {FINISHED_SQL} THEN recorded_at END) AS oldest_pending, "
            f"MIN(CASE WHEN state NOT IN {FINISHED_SQL} THEN deadline_at END) AS first_deadline "
            "FROM media")
        late = self._one("SELECT COUNT(*) AS n FROM late_handovers")["n"]
        return {**dict(row), "late_handovers": late}

    def annual_figures(self, start: str, end: str) -> dict:
        """The counts of the annual report for recordings made in ``[start, end)``."""
        span = (start, end)
        media = [dict(r) for r in self._rows(
            "SELECT kind, COUNT(*) AS recordings, COALESCE(SUM(size), 0) AS bytes, "
            "SUM(CASE WHEN state = 'verified' THEN 1 ELSE 0 END) AS handed_over FROM media "
            "WHERE recorded_at >= ? AND recorded_at < ? GROUP BY kind ORDER BY kind", span)]
        late: dict[tuple, dict] = {}
        for r in self._rows(
                "SELECT officer_id, device_serial, deadline_at, ingested_at FROM media "
                "WHERE state = 'verified' AND ingested_at > deadline_at AND recorded_at >= ? "
                "AND recorded_at < ?", span):
            seconds = (parse(r["ingested_at"]) - parse(r["deadline_at"])).total_seconds()
            entry = late.setdefault((r["officer_id"], r["device_serial"]), {
                "officer_id": r["officer_id"], "device_serial": r["device_serial"],
                "recordings": 0, "worst_seconds": 0.0})
            entry["recordings"] += 1
            entry["worst_seconds"] = max(entry["worst_seconds"], seconds)
            entry["worst_days"] = entry["worst_seconds"] / 86400  # as the report gave it
        acknowledged = self._one(
            "SELECT COUNT(*) AS n FROM late_handovers l JOIN media m ON m.id = l.media_id "
            "WHERE l.acknowledged_at IS NOT NULL AND m.recorded_at >= ? AND m.recorded_at < ?",
            span)["n"]
        cases = [dict(r) for r in self._rows(
            "SELECT type, COUNT(*) AS cases, SUM(CASE WHEN status = 'closed' THEN 1 ELSE 0 END) "
            "AS closed FROM cases WHERE start_at >= ? AND start_at < ? GROUP BY type "
            "ORDER BY type", span)]
        no_footage = [dict(r) for r in self._rows(
            "SELECT c.case_id, c.type, n.reason, n.recorded_by, n.approver, n.recorded_at "
            "FROM case_no_footage n JOIN cases c ON c.case_id = n.case_id "
            "WHERE c.start_at >= ? AND c.start_at < ? ORDER BY c.case_id", span)]
        alerts = [dict(r) for r in self._rows(
            "SELECT rule, severity, COUNT(*) AS raised FROM alerts WHERE raised_at >= ? "
            "AND raised_at < ? GROUP BY rule, severity ORDER BY rule, severity", span)]
        devices = self._one("SELECT COUNT(DISTINCT device_serial) AS n FROM media WHERE "
                            "recorded_at >= ? AND recorded_at < ?", span)["n"]
        evidence = self._one(
            "SELECT COUNT(DISTINCT l.media_id) AS n FROM case_links l JOIN media m ON "
            "m.id = l.media_id WHERE l.kind = 'evidence' AND l.unlinked_at IS NULL AND "
            "m.recorded_at >= ? AND m.recorded_at < ?", span)["n"]
        hours = self._one(
            "SELECT COUNT(*) AS total, COUNT(p.duration_s) AS probed, "
            "COALESCE(SUM(p.duration_s), 0) AS seconds FROM media m LEFT JOIN media_probe p "
            "ON p.media_id = m.id WHERE m.kind IN ('video', 'audio') AND m.recorded_at >= ? "
            "AND m.recorded_at < ?", span)
        return {"by_kind": media,
                "late": sorted(late.values(), key=lambda x: -x["recordings"]),
                "late_acknowledged": acknowledged, "no_footage": no_footage,
                "cases_by_type": cases, "alerts_by_rule": alerts, "devices": devices,
                "evidence_recordings": evidence, "footage": dict(hours)}
