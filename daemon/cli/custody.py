"""``evidock people|access|sensitivity``: who uses the station, access requests (R8) and
sensitivity marks (R9).  The rules are in daemon/custody/; this module only parses and prints."""

from __future__ import annotations

from evidock.daemon.cli.common import wiring
from evidock.daemon.cli.output import json_lines, local_time, table
from evidock.daemon.config import ROLES, Config
from evidock.daemon.custody.access import AUDITORS, CURATORS


def add_parsers(sub, common) -> None:
    p = sub.add_parser("people", help="the people who use the station and the archive")
    psub = p.add_subparsers(dest="people_command", required=True, metavar="COMMAND")
    ap = psub.add_parser("add", parents=[common],
                         help="register a person, or change one (admins only; the first "
                              "person of a station must be an admin)")
    ap.add_argument("person_id", metavar="BADGE", help="badge or staff number (警号)")
    ap.add_argument("--name", required=True)
    ap.add_argument("--role", required=True, choices=ROLES)
    ap.add_argument("--unit")
    ap.add_argument("--os-user", help="the login that runs commands as this person")
    ap.add_argument("--clearance", default="",
                    help="sensitivity labels beyond the role's, comma separated")
    ap.add_argument("--inactive", action="store_true", help="no longer allowed to act")
    ap.add_argument("--by", help="the admin who registers (default: the login's person)")
    ap.set_defaults(func=cmd_people_add)
    lp = psub.add_parser("list", parents=[common], help="the registry")
    lp.add_argument("--json", action="store_true")
    lp.set_defaults(func=cmd_people_list)
    pp = psub.add_parser("password", parents=[common],
                         help="set a person's password for the review room (/review): an "
                              "admin for anyone, or a person for themselves")
    pp.add_argument("person_id", metavar="BADGE", help="badge or staff number, or exact name")
    pp.add_argument("--by", help="who sets it (default: the login's person)")
    pp.add_argument("--stdin", action="store_true",
                    help="read the password from the first line of standard input (scripts) "
                         "instead of asking twice on the terminal")
    pp.set_defaults(func=cmd_people_password)

    p = sub.add_parser("access", help="access requests and the access log (R8)")
    asub = p.add_subparsers(dest="access_command", required=True, metavar="COMMAND")
    rp = asub.add_parser("request", parents=[common],
                         help="ask to view or export a case's footage")
    rp.add_argument("case", metavar="CASE")
    rp.add_argument("--by", required=True, help="who asks (a registered person)")
    rp.add_argument("--purpose", required=True, help="why (goes to the approver and the log)")
    rp.add_argument("--scope", choices=["view", "export"], default="export")
    rp.add_argument("--media", nargs="+", metavar="MEDIA",
                    help="only these recordings (id or hash; default: all linked to the case)")
    rp.set_defaults(func=cmd_request)
    for verb in ("approve", "deny"):
        dp = asub.add_parser(verb, parents=[common], help=f"{verb} a pending request "
                             "(an approver, never for their own request)")
        dp.add_argument("request", metavar="REQUEST", type=int)
        dp.add_argument("--by", required=True, help="the approver")
        dp.add_argument("--reason", required=verb == "deny", default="",
                        help="why (required to deny)")
        if verb == "approve":
            dp.add_argument("--days", type=float,
                            help="valid this many days (default custody.approval_days)")
        dp.set_defaults(func=cmd_decide, approve=verb == "approve")
    gp = asub.add_parser("log", parents=[common],
                         help="every request, decision, view, export and refusal")
    gp.add_argument("--case")
    gp.add_argument("--person")
    gp.add_argument("--as", dest="as_", metavar="PERSON",
                    help="who reads it (an auditor, approver or admin; default: the login)")
    gp.add_argument("--json", action="store_true")
    gp.set_defaults(func=cmd_log)

    p = sub.add_parser("sensitivity", help="mark recordings and cases sensitive (R9)")
    ssub = p.add_subparsers(dest="sensitivity_command", required=True, metavar="COMMAND")
    sp = ssub.add_parser("set", parents=[common], help="set the label of recordings or a case")
    sp.add_argument("label", metavar="LABEL", help="one of custody.labels (or an alias)")
    target = sp.add_mutually_exclusive_group(required=True)
    target.add_argument("--media", nargs="+", metavar="MEDIA")
    target.add_argument("--case")
    sp.add_argument("--by", required=True, help="an archivist or approver")
    sp.add_argument("--reason", required=True)
    sp.set_defaults(func=cmd_sensitivity)


def cmd_people_add(args, config: Config) -> int:
    custody = wiring(config, ledger_may_be_new=True).custody
    clearance = [config.custody.label(x.strip()) for x in args.clearance.split(",")
                 if x.strip()]
    changed = custody.people.register(
        person_id=args.person_id, name=args.name, role=args.role, unit=args.unit,
        os_user=args.os_user, clearance=clearance, by=args.by, active=not args.inactive)
    print(f"{args.person_id} ({args.name}, {args.role}): "
          + ("registered" if changed else "already registered as given"))
    return 0


def cmd_people_password(args, config: Config) -> int:
    import getpass
    import sys

    from evidock.daemon.errors import EvidockError

    if args.stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = getpass.getpass("new password: ")
        if getpass.getpass("again: ") != password:
            raise EvidockError("the two passwords differ", hint="run the command again")
    custody = wiring(config).custody
    try:
        person = custody.people.set_password(args.person_id, password, by=args.by)
    except ValueError as exc:
        raise EvidockError(str(exc), hint="choose a longer password") from None
    print(f"{person}: password set; they log in at /review of the station's web pages")
    return 0


def cmd_people_list(args, config: Config) -> int:
    custody = wiring(config).custody
    rows = [{**p.__dict__, "clearance": sorted(custody.clearance(p))}
            for p in custody.people.directory.all()]
    if args.json:
        json_lines(rows)
        return 0
    table(f"{len(rows)} people", ["badge", "name", "role", "unit", "login", "clearance",
                                  "active"],
          ([r["person_id"], r["name"], r["role"], r["unit"], r["os_user"],
            ",".join(r["clearance"]), "yes" if r["active"] else "no"] for r in rows))
    return 0


def cmd_request(args, config: Config) -> int:
    parts = wiring(config)
    custody = parts.custody
    person = custody.people.resolve(args.by)
    media = [custody.find(person, ref).id for ref in args.media] if args.media else None
    rid = custody.request(person, args.case, scope=args.scope, purpose=args.purpose,
                          media=media)
    print(f"access request {rid}: {args.scope} of case {args.case} "
          f"({'recordings ' + ','.join(map(str, media)) if media else 'all its recordings'}) "
          f"by {person}, pending; an approver decides: evidock access approve {rid} --by NAME")
    return 0


def cmd_decide(args, config: Config) -> int:
    custody = wiring(config).custody
    approver = custody.people.resolve(args.by)
    req = custody.decide(approver, args.request, approve=args.approve, reason=args.reason,
                         days=getattr(args, "days", None))
    tail = f", valid until {req['expires_at']}" if req["state"] == "approved" else ""
    print(f"access request {req['id']} (case {req['case_id']}, {req['scope']}, by "
          f"{req['requested_by']}): {req['state']} by {approver}{tail}")
    return 0


def cmd_log(args, config: Config) -> int:
    parts = wiring(config)
    custody = parts.custody
    reader = custody.people.resolve(args.as_)
    custody.require_role(reader, AUDITORS, "read the access log", case_id=args.case)
    rows = []
    for e in parts.ledger.access_events():
        who = e.get("person") or e.get("requested_by") or e.get("by")
        if args.case and e.get("case_id") != args.case:
            continue
        if args.person and who != args.person:
            continue
        rows.append({**e, "who": who})
    if args.json:
        json_lines(rows)
        return 0

    def what(e: dict) -> str:
        if e["kind"] == "access_requested":
            return f"{e['scope']} {'all' if e['media'] is None else e['media']}: {e['purpose']}"
        if e["kind"] in ("access_approved", "access_denied"):
            return (e.get("reason") or "") + (f" until {e['expires_at']}"
                                              if e.get("expires_at") else "")
        if e["kind"] == "access_refused":
            return f"{e['action']}: {e['reason']}"
        return f"recordings {','.join(map(str, e.get('media_ids') or []))}"

    table(f"{len(rows)} access event(s)", ["seq", "at", "event", "who", "case", "request",
                                          "what"],
          ([e["seq"], local_time(e["at"], config.display_zone), e["kind"], e["who"],
            e.get("case_id") or "", e.get("request_id") or "", what(e)] for e in rows))
    return 0


def cmd_sensitivity(args, config: Config) -> int:
    parts = wiring(config)
    custody, ledger = parts.custody, parts.ledger
    label = config.custody.label(args.label)
    person = custody.people.resolve(args.by) if custody.people.enforced() else None
    by = person.person_id if person else args.by
    if person is not None:
        custody.require_role(person, CURATORS, "set sensitivity", case_id=args.case)
    if args.case:
        changed = ledger.set_case_sensitivity(args.case, label, by=by, reason=args.reason)
        print(f"case {args.case}: " + (f"now {label}" if changed else f"already {label}"))
        return 0
    for ref in args.media:
        media = custody.find(person, ref)
        changed = ledger.set_media_sensitivity(media.id, label, by=by, reason=args.reason)
        print(f"recording {media.id}: " + (f"now {label}" if changed else f"already {label}"))
    return 0
