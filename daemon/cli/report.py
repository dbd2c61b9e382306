"""``evidock report annual``: the figures agencies publish by 31 January (R11)."""

from __future__ import annotations

from datetime import date

from evidock.daemon.cli.common import open_ledger, wiring
from evidock.daemon.cli.output import human_bytes, json_lines, local_time, make_console, table
from evidock.daemon.config import Config
from evidock.daemon.report import annual


def add_parsers(sub, common) -> None:
    p = sub.add_parser("report", parents=[common], help="reports from the ledger")
    rsub = p.add_subparsers(dest="report_command", required=True, metavar="COMMAND")
    ap = rsub.add_parser("annual", parents=[common], help="a year's figures (R11)")
    ap.add_argument("--year", type=int, help="calendar year (default: last year, said so)")
    ap.add_argument("--json", action="store_true")
    ap.set_defaults(func=cmd_annual)
    xp = rsub.add_parser("access", parents=[common],
                         help="who saw and exported what, under which approval (R8)")
    xp.add_argument("--year", type=int, help="calendar year (default: every year)")
    xp.add_argument("--case", help="one case only")
    xp.add_argument("--as", dest="as_", metavar="PERSON", help="who asks (an auditor, approver "
                    "or admin; default: the login's person)")
    xp.add_argument("--json", action="store_true")
    xp.set_defaults(func=cmd_access)


def cmd_annual(args, config: Config) -> int:
    ledger = open_ledger(config)
    year = date.today().year - 1 if args.year is None else args.year
    doc = annual(ledger, year)
    note = _year_note(ledger, doc, defaulted=args.year is None)
    if args.json:
        json_lines([{**doc, "note": note}])
        return 0
    console = make_console()
    console.print(f"[bold]evidock annual report {doc['year']}[/bold], station {doc['station']}"
                  + (" (last year: the default; --year YYYY for another)"
                     if args.year is None else ""))
    if note:
        console.print(f"[yellow]{note}[/]", highlight=False)
    console.print(f"recordings: {doc['recordings']} ({human_bytes(doc['bytes'])}), handed over: "
                  f"{doc['handed_over']}, devices: {doc['devices']}, late handovers: "
                  f"{doc['late_handovers']}, cases: {doc['cases']}, recordings used as "
                  f"evidence: {doc['evidence_recordings']}")
    console.print(f"hours of footage: {doc['hours']}"
                  + (f" ({doc['hours_note']})" if doc["hours_note"] else ""))
    table("recordings by kind", ["kind", "recordings", "size", "handed over"],
          ([m["kind"], m["recordings"], human_bytes(m["bytes"]), m["handed_over"]]
           for m in doc["by_kind"]), console=console)
    table("late handovers", ["officer", "device", "recordings", "worst (h)"],
          ([x["officer_id"], x["device_serial"], x["recordings"],
            f"{x['worst_seconds'] / 3600:.1f}"] for x in doc["late_by_officer_and_device"]),
          console=console)
    table("late handovers per officer", ["officer", "recordings", "worst (h)"],
          ([x["officer_id"], x["recordings"], f"{x['worst_seconds'] / 3600:.1f}"]
           for x in doc["late_by_officer"]), console=console)
    table("late handovers per device", ["device", "recordings", "worst (h)"],
          ([x["device_serial"], x["recordings"], f"{x['worst_seconds'] / 3600:.1f}"]
           for x in doc["late_by_device"]), console=console)
    console.print(f"late handovers acknowledged by a supervisor: {doc['late_acknowledged']}")
    table("cases by type", ["type", "cases", "closed"],
          ([c["type"], c["cases"], c["closed"]] for c in doc["cases_by_type"]), console=console)
    table("full-process cases without footage (R10), with the reason recorded",
          ["case", "type", "reason", "by", "approver"],
          ([n["case_id"], n["type"], n["reason"], n["recorded_by"], n["approver"]]
           for n in doc["no_footage_records"]), console=console)
    a = doc["access"]
    console.print(f"access (R8): {a['requests']} request(s), {a['approved']} approved, "
                  f"{a['denied']} denied, {a['late_approvals']} decided late; {a['views']} "
                  f"view(s), {a['exports']} export(s), {a['refusals']} refusal(s)")
    table("alerts raised", ["rule", "severity", "raised"],
          ([a["rule"], a["severity"], a["raised"]] for a in doc["alerts_by_rule"]),
          console=console)
    return 0


def _year_note(ledger, doc: dict, *, defaulted: bool) -> str | None:
    """A year with no recordings says so, and which years have some: an empty report must
    not pass for a quiet year when the year asked for was the wrong one."""
    if doc["recordings"]:
        return None
    first = ledger.list_media(limit=1)
    if not first:
        return "the ledger holds no recordings yet"
    since = int(first[0].recorded_at[:4])
    return (f"no recordings in {doc['year']}" + (" (the default year)" if defaulted else "")
            + f"; the ledger has recordings from {since} on: use --year")
def cmd_access(args, config: Config) -> int:
    from evidock.daemon.custody.access import AUDITORS
    from evidock.daemon.custody.report import access_figures

    parts = wiring(config)
    custody = parts.custody
    person = custody.people.resolve(args.as_)
    custody.require_role(person, AUDITORS, "read the access report", case_id=args.case)
    doc = access_figures(parts.ledger, year=args.year, case_id=args.case)
    if args.json:
        json_lines([doc])
        return 0
    console = make_console()
    scope = (f"{doc['year']}" if doc["year"] else "every year") + (
        f", case {doc['case_id']}" if doc["case_id"] else "")
    console.print(f"[bold]evidock access report[/bold] ({scope}), station {doc['station']}")
    console.print(f"requests: {doc['requests']}, approved: {doc['approved']}, denied: "
                  f"{doc['denied']}, decided later than {doc['late_hours']:g} h: "
                  f"{doc['late_approvals']}; views: {doc['views']}, exports: {doc['exports']}, "
                  f"refusals: {doc['refusals']} {doc['refusals_by_action'] or ''}")
    table("who saw and exported what", ["at", "what", "person", "case", "recordings",
                                        "request", "approved by"],
          ([local_time(u["at"], config.display_zone), u["kind"], u["person"], u["case_id"],
            ",".join(map(str, u["media_ids"])), u["request_id"], u["approved_by"]]
           for u in doc["uses"]), console=console)
    return 0
