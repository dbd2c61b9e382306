"""``evidock alerts list|ack``, ``evidock check NAME`` and ``evidock exemptions add|list``."""

from __future__ import annotations

from datetime import datetime

from evidock.daemon.checks.runner import NAMES
from evidock.daemon.cli.common import open_compliance, person
from evidock.daemon.cli.output import json_lines, local_time, table
from evidock.daemon.config import Config
from evidock.daemon.errors import EvidockError

#: ``evidock check``: the check ran and found nothing open / left alerts open / failed.
CHECK_OK, CHECK_OPEN_ALERTS, CHECK_FAILED = 0, 1, 8


def add_parsers(sub, common) -> None:
    p = sub.add_parser("alerts", parents=[common],
                        help="alerts raised by the checks")
    asub = p.add_subparsers(dest="alerts_command", required=True, metavar="COMMAND")
    lp = asub.add_parser("list", parents=[common], help="open alerts (raised or acknowledged)")
    lp.add_argument("--all", action="store_true", help="resolved ones too")
    lp.add_argument("--json", action="store_true")
    lp.set_defaults(func=cmd_list)
    ap = asub.add_parser("ack", parents=[common], help="acknowledge an alert by name")
    ap.add_argument("id", type=int, metavar="ID")
    ap.add_argument("--by", required=True)
    ap.add_argument("--reason", help="why; required for (and closes) an alert about something "
                    "that happened: a late handover, a repaired lock, a bucket change")
    ap.set_defaults(func=cmd_ack)

    cp = sub.add_parser("check", parents=[common],
                        help="run one compliance check now (for cron and archivists)")
    cp.add_argument("name", choices=NAMES)
    cp.add_argument("--no-repair", action="store_true",
                    help="retention: only report, do not extend retention or place holds")
    cp.add_argument("--json", action="store_true")
    cp.set_defaults(func=cmd_check)

    ep = sub.add_parser("exemptions", parents=[common],
                        help="duty exemptions from the 24-hour handover (R2)")
    esub = ep.add_subparsers(dest="exemptions_command", required=True, metavar="COMMAND")
    xp = esub.add_parser("add", parents=[common], help="register a duty exemption")
    xp.add_argument("--officer", help="badge number (警号)")
    xp.add_argument("--device", help="device serial")
    xp.add_argument("--from", dest="start", required=True,
                    help="ISO 8601; without an offset, in [cases] time_zone")
    xp.add_argument("--until", dest="end", required=True, help="ISO 8601, likewise")
    xp.add_argument("--reason", required=True,
                    help="continuous_duty, away_from_unit, remote_area (or as configured)")
    xp.add_argument("--note", default="")
    xp.add_argument("--by", required=True)
    xp.set_defaults(func=cmd_exempt_add)
    xl = esub.add_parser("list", parents=[common], help="registered exemptions")
    xl.add_argument("--all", action="store_true", help="withdrawn ones too")
    xl.add_argument("--json", action="store_true")
    xl.set_defaults(func=cmd_exempt_list)
    xw = esub.add_parser("withdraw", parents=[common],
                         help="withdraw an exemption registered in error; deadlines are "
                              "computed again")
    xw.add_argument("id", type=int, metavar="ID")
    xw.add_argument("--by", required=True)
    xw.add_argument("--reason", required=True)
    xw.set_defaults(func=cmd_exempt_withdraw)
    xc = esub.add_parser("correct", parents=[common],
                         help="correct an exemption's span, officer, device, reason or note; "
                              "deadlines are computed again")
    xc.add_argument("id", type=int, metavar="ID")
    xc.add_argument("--officer")
    xc.add_argument("--device")
    xc.add_argument("--from", dest="start", help="ISO 8601; without an offset, in [cases] "
                                                 "time_zone")
    xc.add_argument("--until", dest="end")
    xc.add_argument("--reason", dest="exemption_reason", help="the exemption's reason")
    xc.add_argument("--note")
    xc.add_argument("--by", required=True)
    xc.add_argument("--why", required=True, help="why it is corrected")
    xc.set_defaults(func=cmd_exempt_correct)


def _print_alerts(alerts, zone) -> None:
    table(f"{len(alerts)} alert(s)", ["id", "state", "severity", "rule", "subject", "raised",
                                      "ack by", "message"],
          ([a.id, a.state, a.severity, a.rule, a.subject, local_time(a.raised_at, zone),
            a.acknowledged_by, a.message] for a in alerts))


def cmd_list(args, config: Config) -> int:
    _, c = open_compliance(config)
    alerts = c.alerts.list(open_only=not args.all)
    if args.json:
        json_lines(a.as_dict() for a in alerts)
    else:
        _print_alerts(alerts, config.display_zone)
    return 0


def cmd_ack(args, config: Config) -> int:
    _, c = open_compliance(config)
    alert = c.alerts.acknowledge(args.id, person(args.by), args.reason)
    if alert.state == "resolved":
        print(f"alert {alert.id} acknowledged by {alert.acknowledged_by} and closed: "
              f"{alert.acknowledged_reason}")
    else:
        print(f"alert {alert.id} acknowledged by {alert.acknowledged_by}; it resolves when "
              "its cause is gone")
    return 0


def cmd_check(args, config: Config) -> int:
    _, c = open_compliance(config, repair=not args.no_repair)
    result = c.runner.run(args.name)
    still = c.alerts.list(open_only=True, check=args.name) + \
        c.alerts.list(open_only=True, check=f"job:{args.name}")
    if args.json:
        json_lines([{"check": args.name, "ok": result.ok, "error": result.error,
                     "changes": [{"change": ch, "alert_id": a.id} for ch, a in result.changes],
                     "open": [a.as_dict() for a in still]}])
    else:
        for change, alert in result.changes:
            print(f"alert {alert.id} {change}: [{alert.severity} {alert.rule}] {alert.message}")
        if result.ok:
            print(f"check {args.name}: done, {len(still)} open alert(s)")
        else:
            print(f"check {args.name}: FAILED: {result.error}")
    if not result.ok:
        return CHECK_FAILED
    return CHECK_OPEN_ALERTS if still else CHECK_OK


def _time(text: str, tz) -> datetime:
    try:
        dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise EvidockError(f"{text!r} is not an ISO 8601 time",
                           hint="write it like 2026-03-01T08:00 or 2026-03-01T08:00+08:00",
                           ) from None
    return dt if dt.tzinfo else dt.replace(tzinfo=tz)


def cmd_exempt_add(args, config: Config) -> int:
    _, c = open_compliance(config, ledger_may_be_new=True)
    ex = c.exemptions.add(officer_id=args.officer, device_serial=args.device,
                          start=_time(args.start, c.time_zone), end=_time(args.end, c.time_zone),
                          reason=args.reason, note=args.note, by=args.by)
    print(f"exemption {ex.id} registered: {ex.officer_id or ex.device_serial} "
          f"{ex.start_at} .. {ex.end_at} ({ex.reason}); deadlines of recordings made in the "
          "span now start at the first dock after it")
    return 0


def _changed(e, zone) -> str:
    if e.withdrawn_at:
        return (f"withdrawn {local_time(e.withdrawn_at, zone)} by {e.withdrawn_by}: "
                f"{e.withdraw_reason}")
    if e.corrected_at:
        return (f"corrected {local_time(e.corrected_at, zone)} by {e.corrected_by}: "
                f"{e.correct_reason}")
    return ""


def cmd_exempt_withdraw(args, config: Config) -> int:
    _, c = open_compliance(config)
    ex, moved = c.exemptions.withdraw(args.id, by=person(args.by), reason=args.reason)
    print(f"exemption {ex.id} withdrawn by {ex.withdrawn_by}: {ex.withdraw_reason}; "
          f"{moved} deadline(s) computed again")
    return 0


def cmd_exempt_correct(args, config: Config) -> int:
    _, c = open_compliance(config)
    ex, changed, moved = c.exemptions.correct(
        args.id, by=person(args.by), reason=args.why, officer_id=args.officer,
        device_serial=args.device, start=_time(args.start, c.time_zone) if args.start else None,
        end=_time(args.end, c.time_zone) if args.end else None,
        exemption_reason=args.exemption_reason, note=args.note)
    if not changed:
        print(f"exemption {ex.id}: nothing to correct")
        return 0
    print(f"exemption {ex.id} corrected by {ex.corrected_by} ({', '.join(sorted(changed))}): "
          f"{ex.start_at} .. {ex.end_at}; {moved} deadline(s) computed again")
    return 0


def cmd_exempt_list(args, config: Config) -> int:
    _, c = open_compliance(config)
    rows = c.exemptions.list(include_withdrawn=args.all)
    if args.json:
        json_lines(vars(e) for e in rows)
        return 0
    z = config.display_zone
    table(f"{len(rows)} exemption(s)", ["id", "officer", "device", "from", "until", "reason",
                                        "note", "by", "registered", "changed"],
          ([e.id, e.officer_id, e.device_serial, local_time(e.start_at, z),
            local_time(e.end_at, z), e.reason, e.note, e.registered_by,
            local_time(e.registered_at, z), _changed(e, z)] for e in rows))
    return 0
