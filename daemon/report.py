"""The annual figures (R11): published each year by 31 January for the year before.

Counted from the ledger for recordings made in the year (station time in UTC): recordings by
kind and their bytes, devices that recorded, recordings handed over late (with the officers
and devices concerned), cases by type and how many closed, evidence links, and alerts raised
by rule.  Hours of footage add up the durations the probe (daemon/probe.py) recorded; the
report says how many recordings have none yet rather than guess.
"""

from __future__ import annotations

from datetime import UTC, datetime

from evidock.daemon.ledger.base import Ledger


def _hours(footage: dict) -> dict:
    """Hours of footage from the probed durations, saying how many recordings are not in it."""
    total, probed, seconds = footage["total"], footage["probed"], footage["seconds"]
    note = ("" if probed == total else
            f"{total - probed} of {total} video/audio recordings have no probed duration yet "
            "and are not counted")
    return {"hours": round(seconds / 3600, 2), "footage_seconds": round(seconds, 1),
            "hours_note": note}


def _late_by(late: list[dict], field: str) -> list[dict]:
    """The late handovers added up per officer or per device."""
    out: dict = {}
    for row in late:
        entry = out.setdefault(row[field], {field: row[field], "recordings": 0,
                                            "worst_seconds": 0.0})
        entry["recordings"] += row["recordings"]
        entry["worst_seconds"] = max(entry["worst_seconds"], row["worst_seconds"])
    return sorted(out.values(), key=lambda x: (-x["recordings"], str(x[field])))


def annual(ledger: Ledger, year: int) -> dict:
    start = f"{year:04d}-01-01T00:00:00.000000Z"
    end = f"{year + 1:04d}-01-01T00:00:00.000000Z"
    # late handovers from the media rows themselves, so the figure holds even if no
    # handover check ran
    f = ledger.annual_figures(start, end)
    media, late, cases = f["by_kind"], f["late"], f["cases_by_type"]
    from evidock.daemon.custody.report import access_figures

    access = access_figures(ledger, year=year)
    return {
        "year": year, "station": ledger.station,
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "recordings": sum(m["recordings"] for m in media),
        "bytes": sum(m["bytes"] for m in media),
        "handed_over": sum(m["handed_over"] for m in media),
        "by_kind": media,
        **_hours(f["footage"]),
        "devices": f["devices"],
        "late_handovers": sum(x["recordings"] for x in late),
        "late_by_officer_and_device": late,
        "late_by_officer": _late_by(late, "officer_id"),
        "late_by_device": _late_by(late, "device_serial"),
        "late_acknowledged": f["late_acknowledged"],
        "cases": sum(c["cases"] for c in cases),
        "cases_by_type": cases,
        "full_process_without_footage": len(f["no_footage"]),
        "no_footage_records": f["no_footage"],
        "evidence_recordings": f["evidence_recordings"],
        "alerts_by_rule": f["alerts_by_rule"],
        # R8: the year's access figures (custody/report.py), counts only
        "access": {k: access[k] for k in ("requests", "approved", "denied", "views",
                                          "exports", "refusals", "late_approvals")},
    }
