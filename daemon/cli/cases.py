"""``evidock cases import|list|show|link|unlink|release-hold``: footage and its cases (R6)."""

from __future__ import annotations

from evidock.daemon.cases.importer import read_cases
from evidock.daemon.cli.common import default_user, open_compliance, person
from evidock.daemon.cli.output import (
    follow_up,
    human_bytes,
    json_lines,
    local_time,
    make_console,
    table,
)
from evidock.daemon.config import Config
from evidock.daemon.errors import ExitCode


def add_parsers(sub, common) -> None:
    p = sub.add_parser("cases", parents=[common], help="cases and the footage linked to them")
    csub = p.add_subparsers(dest="cases_command", required=True, metavar="COMMAND")

    ip = csub.add_parser("import", parents=[common],
                         help="import a case export (CSV or JSON); all rows or none")
    ip.add_argument("file", metavar="FILE")
    ip.add_argument("--by", default=None, help="who imports (default: the login name)")
    ip.set_defaults(func=cmd_import)

    lp = csub.add_parser("list", parents=[common], help="list cases")
    lp.add_argument("--status", choices=["open", "closed"])
    lp.add_argument("--json", action="store_true")
    lp.set_defaults(func=cmd_list)

    sp = csub.add_parser("show", parents=[common], help="a case and its linked recordings")
    sp.add_argument("case", metavar="CASE")
    sp.add_argument("--all", action="store_true", help="also links that were removed")
    sp.add_argument("--json", action="store_true")
    sp.set_defaults(func=cmd_show)

    kp = csub.add_parser("link", parents=[common],
                         help="link recordings to a case as evidence (legal hold)")
    kp.add_argument("case", metavar="CASE")
    kp.add_argument("media", metavar="MEDIA", nargs="+", help="recording id or hash")
    kp.add_argument("--note", required=True, help="what the recording shows (R6 text note)")
    kp.add_argument("--by", required=True, help="who links")
    kp.add_argument("--candidate", action="store_true",
                    help="link for review only: no legal hold")
    kp.set_defaults(func=cmd_link)

    up = csub.add_parser("unlink", parents=[common],
                         help="remove a link (a legal hold stays unless --release-hold)")
    up.add_argument("case", metavar="CASE")
    up.add_argument("media", metavar="MEDIA")
    up.add_argument("--by", required=True)
    up.add_argument("--reason", required=True)
    up.add_argument("--release-hold", action="store_true",
                    help="also lift the legal hold if no other case holds the recording")
    up.set_defaults(func=cmd_unlink)

    rp = csub.add_parser("release-hold", parents=[common],
                         help="lift the legal hold of a recording no case holds any more")
    rp.add_argument("media", metavar="MEDIA")
    rp.add_argument("--by", required=True)
    rp.add_argument("--reason", required=True)
    rp.set_defaults(func=cmd_release)

    np_ = csub.add_parser("no-footage", parents=[common],
                          help="record why a case that must be recorded in full has no "
                               "footage (R10), and who approved it")
    np_.add_argument("case", metavar="CASE")
    np_.add_argument("--reason", required=True, help="why no recording exists")
    np_.add_argument("--by", required=True, help="who records it")
    np_.add_argument("--approver", required=True, help="who approved it (agency head)")
    np_.set_defaults(func=cmd_no_footage)


def cmd_no_footage(args, config: Config) -> int:
    _, c = open_compliance(config)
    record = c.cases.record_no_footage(args.case, reason=args.reason, by=person(args.by),
                                       approver=person(args.approver, what="--approver"))
    c.runner.run("archive")
    print(f"case {args.case}: no footage, recorded by {record['recorded_by']} and approved by "
          f"{record['approver']}: {record['reason']}; its R10 alert is resolved")
    return 0


def cmd_import(args, config: Config) -> int:
    from zoneinfo import ZoneInfo

    rows = read_cases(args.file, ZoneInfo(config.cases.time_zone))  # a bad file creates nothing
    _, c = open_compliance(config, ledger_may_be_new=True)
    result = c.cases.import_rows(rows, by=args.by or default_user(), source=str(args.file))
    print(f"{args.file}: {len(rows)} case(s): {result.added} added, {result.updated} updated, "
          f"{result.unchanged} unchanged; {result.linked} recording(s) linked by the "
          f"'{config.cases.auto_link}' rule")
    return 0


def cmd_list(args, config: Config) -> int:
    _, c = open_compliance(config)
    rows = c.cases.cases(status=args.status)
    if args.json:
        json_lines(rows)
        return 0
    z = config.display_zone
    table(f"{len(rows)} case(s)", ["case", "type", "officers", "start", "end", "status",
                                   "closed", "sensitivity"],
          ([r["case_id"], r["type"], ";".join(r["officers"]), local_time(r["start_at"], z),
            local_time(r["end_at"], z), r["status"], local_time(r["closed_at"], z),
            r["sensitivity"]]
           for r in rows))
    return 0


def cmd_show(args, config: Config) -> int:
    _, c = open_compliance(config)
    doc = c.cases.case(args.case)
    doc["no_footage"] = c.cases.no_footage(args.case)
    doc["links"] = c.cases.links(args.case, include_unlinked=args.all)
    if args.json:
        json_lines([doc])
        return 0
    console = make_console()
    z = config.display_zone
    for key, value in doc.items():
        if key == "no_footage":
            if value:
                console.print(f"[bold]{'no footage':>12}[/bold]  {value['reason']} (recorded by "
                              f"{value['recorded_by']}, approved by {value['approver']}, "
                              f"{local_time(value['recorded_at'], z)})")
        elif key != "links":
            shown = ";".join(value) if isinstance(value, list) else value
            console.print(f"[bold]{key:>12}[/bold]  {'' if shown is None else shown}")
    table(f"{len(doc['links'])} linked recording(s)",
          ["media", "kind", "recorded", "device", "officer", "size", "state", "hold", "note",
           "by", "at", "unlinked"],
          ([lk["media_id"], lk["kind"], local_time(lk["recorded_at"], z), lk["device_serial"],
            lk["officer_id"], human_bytes(lk["size"]), lk["state"],
            _hold(lk, z),
            lk["note"], lk["linked_by"], local_time(lk["linked_at"], z),
            f"{local_time(lk['unlinked_at'], z)} by {lk['unlinked_by']}: {lk['unlink_reason']}"
            if lk["unlinked_at"] else ""] for lk in doc["links"]), console=console)
    return 0


def _hold(link: dict, zone) -> str:
    state = link["hold_state"]
    if state == "released":
        return (f"released {local_time(link['hold_released_at'], zone)} by "
                f"{link['hold_released_by']}")
    return {"placed": "yes", "pending": "pending", "none": ""}[state]


def cmd_link(args, config: Config) -> int:
    ledger, c = open_compliance(config)
    ids = [ledger.find_media(ref).id for ref in args.media]
    kind = "candidate" if args.candidate else "evidence"
    changed = c.cases.link(args.case, ids, kind=kind, note=args.note, by=args.by)
    print(f"case {args.case}: {len(changed)} recording(s) linked as {kind}, "
          f"{len(ids) - len(changed)} already linked")
    if kind == "evidence":
        pending = [i for i in ids if c.holds.held(i) and not c.holds.held(i)["placed_at"]]
        for media_id in pending:
            print(follow_up(f"recording {media_id}: legal hold pending (not stored yet, or the "
                            "store did not confirm it); 'evidock check retention' places it",
                            args))
        return ExitCode.FAILED if pending else ExitCode.OK
    return 0


def cmd_unlink(args, config: Config) -> int:
    ledger, c = open_compliance(config)
    media_id = ledger.find_media(args.media).id
    result = c.cases.unlink(args.case, media_id, by=args.by, reason=args.reason,
                            release_hold=args.release_hold)
    print(f"case {args.case}: recording {media_id} unlinked (was {result.was})")
    if result.hold_kept:
        print(follow_up(f"recording {media_id} stays under legal hold; lift it with 'evidock "
                        f"cases release-hold {media_id} --by NAME --reason TEXT' once no case "
                        "needs it", args))
    return 0


def cmd_release(args, config: Config) -> int:
    ledger, c = open_compliance(config)
    media_id = ledger.find_media(args.media).id
    c.holds.release(media_id, args.by, args.reason)
    print(f"recording {media_id}: legal hold released by {args.by}")
    return 0
