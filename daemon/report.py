"""The annual figures (R11): published each year by 31 January for the year before.

Counted from the ledger for recordings made in the year (station time in UTC): recordings by
kind and their bytes, devices that recorded, recordings handed over late (with the officers
and devices concerned), cases by type and how many closed, evidence links, and alerts raised
by rule.  Hours of footage add up the durations the probe (daemon/probe.py) recorded; the
report says how many recordings have none yet rather than guess.
"""

from __future__ import annotations

from datetime import UTC, datetime

from evidock.daemon.ledger.sqlite import SqliteLedger


def _hours(conn, span) -> dict:
    """Hours of footage from the probed durations, saying how many recordings are not in it."""
    total, probed, seconds = conn.execute(
        "SELECT COUNT(*), COUNT(p.duration_s), COALESCE(SUM(p.duration_s), 0) FROM media m "
        "LEFT JOIN media_probe p ON p.media_id = m.id WHERE m.kind IN ('video', 'audio') "
        "AND m.recorded_at >= ? AND m.recorded_at < ?", span).fetchone()
    note = ("" if probed == total else
            f"{total - probed} of {total} video/audio recordings have no probed duration yet "
            "and are not counted")
    return {"hours": round(seconds / 3600, 2), "footage_seconds": round(seconds, 1),
            "hours_note": note}


def annual(ledger: SqliteLedger, year: int) -> dict:
    start = f"{year:04d}-01-01T00:00:00.000000Z"
    end = f"{year + 1:04d}-01-01T00:00:00.000000Z"
    conn = ledger.reader()
    span = (start, end)

    def rows(sql: str, params=span) -> list[dict]:
        return [dict(r) for r in conn.execute(sql, params)]

    media = rows("SELECT kind, COUNT(*) AS recordings, COALESCE(SUM(size), 0) AS bytes, "
                 "SUM(state = 'verified') AS handed_over FROM media WHERE recorded_at >= ? "
                 "AND recorded_at < ? GROUP BY kind ORDER BY kind")
    # from the media rows themselves, so the figure holds even if no handover check ran
    late = [{**r, "worst_seconds": r["worst_days"] * 86400.0} for r in rows(
        "SELECT officer_id, device_serial, COUNT(*) AS recordings, "
        "MAX(julianday(ingested_at) - julianday(deadline_at)) AS worst_days FROM media "
        "WHERE state = 'verified' AND ingested_at > deadline_at AND recorded_at >= ? "
        "AND recorded_at < ? GROUP BY officer_id, device_serial ORDER BY recordings DESC")]
    cases = rows("SELECT type, COUNT(*) AS cases, SUM(status = 'closed') AS closed FROM cases "
                 "WHERE start_at >= ? AND start_at < ? GROUP BY type ORDER BY type")
    alerts = rows("SELECT rule, severity, COUNT(*) AS raised FROM alerts WHERE raised_at >= ? "
                  "AND raised_at < ? GROUP BY rule, severity ORDER BY rule, severity")
    devices = conn.execute("SELECT COUNT(DISTINCT device_serial) FROM media WHERE "
                           "recorded_at >= ? AND recorded_at < ?", span).fetchone()[0]
    evidence = conn.execute(
        "SELECT COUNT(DISTINCT l.media_id) FROM case_links l JOIN media m ON m.id = l.media_id "
        "WHERE l.kind = 'evidence' AND l.unlinked_at IS NULL AND m.recorded_at >= ? "
        "AND m.recorded_at < ?", span).fetchone()[0]
    return {
        "year": year, "station": ledger.station,
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "recordings": sum(m["recordings"] for m in media),
        "bytes": sum(m["bytes"] for m in media),
        "handed_over": sum(m["handed_over"] for m in media),
        "by_kind": media,
        **_hours(conn, span),
        "devices": devices,
        "late_handovers": sum(x["recordings"] for x in late),
        "late_by_officer_and_device": late,
        "cases": sum(c["cases"] for c in cases),
        "cases_by_type": cases,
        "evidence_recordings": evidence,
        "alerts_by_rule": alerts,
    }
