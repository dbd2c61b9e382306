"""The access figures (R8): who saw and exported what, under which approval.

From the access log in the chain for one year (or one case): requests made, approved, denied;
views and exports with the request and approver they used; refusals by reason; and *late
approvals*: requests decided more than ``late_hours`` after they were made.  The annual
report (R11) carries the counts.
"""

from __future__ import annotations

from collections import Counter

from evidock.daemon.timeutil import parse

LATE_HOURS = 72


def access_figures(ledger, *, year: int | None = None, case_id: str | None = None,
                   late_hours: float = LATE_HOURS) -> dict:
    start = end = None
    if year is not None:
        start, end = f"{year:04d}-01-01T00:00:00.000000Z", f"{year + 1:04d}-01-01T00:00:00.000000Z"
    rows = [e for e in ledger.access_events(since=start)
            if (end is None or e["at"] < end) and (case_id is None or e.get("case_id") == case_id)]
    requests = {r["id"]: r for r in ledger.access_requests(case_id=case_id)}
    late = []
    for e in rows:
        if e["kind"] in ("access_approved", "access_denied"):
            req = requests.get(e["request_id"])
            if req is None:
                continue
            waited = (parse(e["decided_at"]) - parse(req["requested_at"])).total_seconds() / 3600
            if waited > late_hours:
                late.append({"request_id": req["id"], "case_id": req["case_id"],
                             "hours": round(waited, 1), "decision": e["kind"][7:]})
    uses = [{"at": e["at"], "kind": "export" if e["kind"] == "case_exported" else "view",
             "person": e["person"], "case_id": e["case_id"], "media_ids": e["media_ids"],
             "request_id": e["request_id"], "approved_by": e.get("approved_by")}
            for e in rows if e["kind"] in ("access_viewed", "case_exported")]
    refusals = [e for e in rows if e["kind"] == "access_refused"]
    kinds = Counter(e["kind"] for e in rows)
    return {
        "year": year, "case_id": case_id, "station": ledger.station,
        "requests": kinds["access_requested"], "approved": kinds["access_approved"],
        "denied": kinds["access_denied"], "views": kinds["access_viewed"],
        "exports": kinds["case_exported"], "refusals": len(refusals),
        "refusals_by_action": dict(sorted(Counter(e["action"] for e in refusals).items())),
        "late_approvals": len(late), "late_hours": late_hours, "late": late, "uses": uses,
    }
