"""``evidock cases import|list|show|link|unlink|release-hold``: footage and its cases (R6)."""

from __future__ import annotations

import sys

from evidock.daemon.cases.importer import read_cases
from evidock.daemon.cli.common import default_user, open_compliance, person, wiring
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
    lp.add_argument("--as", dest="as_", metavar="PERSON", help="who asks (default: the login)")
    lp.set_defaults(func=cmd_list)

    sp = csub.add_parser("show", parents=[common], help="a case and its linked recordings")
    sp.add_argument("case", metavar="CASE")
    sp.add_argument("--all", action="store_true", help="also links that were removed")
    sp.add_argument("--json", action="store_true")
    sp.add_argument("--as", dest="as_", metavar="PERSON", help="who asks (default: the login)")
    sp.set_defaults(func=cmd_show)

    kp = csub.add_parser("link", parents=[common],
                         help="link recordings to a case as evidence (legal hold)")
    kp.add_argument("case", metavar="CASE")
    kp.add_argument("media", metavar="MEDIA", nargs="+", help="recording id or hash")
    kp.add_argument("--note", required=True, help="what the recording shows (R6 text note)")
    kp.add_argument("--by", required=True, help="who links (a registered archivist or "
                    "approver once people are registered)")
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


def _actor(config: Config, ref: str | None, action: str | None = None,
           case_id: str | None = None):
    """The custody check and the registered person ``ref`` names (None, and ``ref`` kept as
    free text, while nobody is registered); ``action``: a curator's role is required."""
    from evidock.daemon.custody.access import CURATORS

    custody = wiring(config).custody
    if not custody.people.enforced():
        return custody, None
    person = custody.people.resolve(ref)
    if action:
        custody.require_role(person, CURATORS, action, case_id=case_id)
    return custody, person


def _case_cleared(custody, person, case: dict | None) -> bool:
    return custody.case_cleared(person, case)


def cmd_list(args, config: Config) -> int:
    _, c = open_compliance(config)
    custody, person = _actor(config, args.as_)
    rows = c.cases.cases(status=args.status)
    shown = [r for r in rows if _case_cleared(custody, person, r)]
    if len(shown) != len(rows):
        print(f"evidock: {len(rows) - len(shown)} restricted case(s) not shown", file=sys.stderr)
        custody.refused(person, "list", reason=f"{len(rows) - len(shown)} restricted case(s) "
                        "not shown", log_only=True)
    rows = shown
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
    from evidock.daemon.errors import NotFound

    ledger, c = open_compliance(config)
    custody, person = _actor(config, args.as_)
    if not _case_cleared(custody, person, ledger.case(args.case)):
        custody.refused(person, "show", case_id=args.case, reason="no clearance for the case")
        raise NotFound(f"no case {args.case} (or it is outside your clearance)")
    doc = c.cases.case(args.case)
    doc["no_footage"] = c.cases.no_footage(args.case)
    links = c.cases.links(args.case, include_unlinked=args.all)
    doc["links"], hidden = custody.visible(person, [_Ref(lk) for lk in links])
    doc["links"] = [r.row for r in doc["links"]]
    if hidden:
        print(f"evidock: {hidden} restricted recording(s) of this case not shown",
              file=sys.stderr)
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
class _Ref:
    """A link row as ``Custody.visible`` takes it (anything with the recording's ``id``)."""

    def __init__(self, row: dict) -> None:
        self.row, self.id = row, row["media_id"]


def cmd_link(args, config: Config) -> int:
    ledger, c = open_compliance(config)
    custody, person = _actor(config, args.by, "link recordings", args.case)
    ids = [custody.find(person, ref).id for ref in args.media]
    custody.require_media(person, ids, "link", case_id=args.case)
    if not _case_cleared(custody, person, ledger.case(args.case)):
        from evidock.daemon.errors import AccessDenied

        custody.refused(person, "link", case_id=args.case, reason="no clearance for the case")
        raise AccessDenied(f"{person} may not link to case {args.case}: no clearance for its "
                           "sensitivity")
    kind = "candidate" if args.candidate else "evidence"
    changed = c.cases.link(args.case, ids, kind=kind, note=args.note,
                           by=person.person_id if person else args.by)
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
    custody, person = _actor(config, args.by, "unlink recordings", args.case)
    media_id = custody.find(person, args.media).id
    result = c.cases.unlink(args.case, media_id, by=person.person_id if person else args.by,
                            reason=args.reason,
                            release_hold=args.release_hold)
    print(f"case {args.case}: recording {media_id} unlinked (was {result.was})")
    if result.hold_kept:
        print(follow_up(f"recording {media_id} stays under legal hold; lift it with 'evidock "
                        f"cases release-hold {media_id} --by NAME --reason TEXT' once no case "
                        "needs it", args))
    return 0


def cmd_release(args, config: Config) -> int:
    ledger, c = open_compliance(config)
    custody, person = _actor(config, args.by, "release legal holds")
    media_id = custody.find(person, args.media).id
    c.holds.release(media_id, person.person_id if person else args.by, args.reason)
    print(f"recording {media_id}: legal hold released by {args.by}")
    return 0
