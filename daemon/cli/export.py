"""``evidock export CASE --request R --to DIR`` and ``evidock export verify BAG``: case exports
as BagIt bags with a ledger proof (daemon/custody/bag.py, bagcheck.py)."""

from __future__ import annotations

import sys
from pathlib import Path

from evidock.daemon.cli.common import wiring
from evidock.daemon.cli.output import human_bytes, json_lines
from evidock.daemon.config import Config
from evidock.daemon.errors import ExitCode


def add_parsers(sub, common) -> None:
    p = sub.add_parser("export", parents=[common],
                       help="export a case's footage as a verifiable BagIt bag; "
                            "`export verify BAG` checks one")
    p.add_argument("case", metavar="CASE", help="the case (or the word verify)")
    p.add_argument("bag", metavar="BAG", nargs="?", help="with verify: the bag to check")
    p.add_argument("--request", type=int, metavar="R", help="the approved access request")
    p.add_argument("--to", type=Path, metavar="DIR", help="a new folder for the bag")
    p.add_argument("--media", nargs="+", metavar="MEDIA",
                   help="only these recordings of the request (default: all it covers)")
    p.add_argument("--as", "--by", dest="as_", metavar="PERSON",
                   help="who exports (the requester; default: the login's person)")
    p.add_argument("--no-ledger", action="store_true",
                   help="with verify: do not compare the proof with this station's ledger")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_export)


def cmd_export(args, config: Config) -> int:
    if args.case == "verify":
        return _verify(args, config)
    if args.request is None or args.to is None:
        print("evidock: export needs --request R (an approved access request) and --to DIR",
              file=sys.stderr)
        return ExitCode.CONFIG
    parts = wiring(config)
    custody = parts.custody
    person = custody.people.resolve(args.as_)
    req = parts.ledger.access_request(args.request)
    if req["case_id"] != args.case:
        custody.refused(person, "export", case_id=args.case, request_id=args.request,
                        reason=f"request {args.request} is for case {req['case_id']}")
        from evidock.daemon.errors import AccessDenied
        raise AccessDenied(f"request {args.request} is for case {req['case_id']}, not "
                           f"{args.case}")
    ids = [custody.find(person, ref).id for ref in args.media] if args.media else None
    result = parts.exporter.export(person, args.request, args.to, media_ids=ids)
    if args.json:
        json_lines([{"bag": str(result.bag), "case_id": result.case_id,
                     "request_id": result.request_id, "media_ids": result.media_ids,
                     "files": result.files, "bytes": result.bytes, "head_seq": result.head[0],
                     "head_hash": result.head[1], "time_stamped": result.stamped,
                     "time_stamp_error": result.stamp_error}])
    else:
        print(f"case {result.case_id}: {len(result.media_ids)} recording(s), {result.files} "
              f"file(s), {human_bytes(result.bytes)} exported to {result.bag} under request "
              f"{result.request_id}; ledger proof up to entry {result.head[0]} "
              f"({result.head[1][:16]})")
        if result.stamped:
            print("  the head is time-stamped (RFC 3161): data/ledger-proof/head.tst")
    if result.stamp_error:
        print(f"evidock: warning: the bag has no time stamp: {result.stamp_error}; the head is "
              "stamped once the authority answers (`evidock doctor` shows the gap)",
              file=sys.stderr)
    elif not result.stamped:
        print("evidock: note: no time-stamping authority is configured "
              "(timestamps.tsa_url): the bag has no RFC 3161 token", file=sys.stderr)
    return 0


def _verify(args, config: Config) -> int:
    from evidock.daemon.custody.bagcheck import verify_bag

    if not args.bag:
        print("evidock: export verify needs the bag's folder", file=sys.stderr)
        return ExitCode.CONFIG
    ledger = None
    if not args.no_ledger and config.ledger_path.exists():
        ledger = wiring(config).ledger
    cert = config.timestamps.tsa_certificate
    report = verify_bag(Path(args.bag), ledger=ledger,
                        tsa_certificate=cert.read_bytes() if cert else None)
    if args.json:
        json_lines([{"bag": str(report.bag), "ok": report.ok, "problems": report.problems,
                     "notes": report.notes, "head": report.head, "files": report.files,
                     "time_stamp": report.stamped_at, "ledger_compared": ledger is not None}])
    elif report.ok:
        print(f"bag {report.bag}: OK: {report.files} file(s) match their manifests; the ledger "
              f"proof chains to entry {report.head[0]} ({report.head[1][:16]})"
              + (f", time-stamped {report.stamped_at}" if report.stamped_at else "")
              + ("; it agrees with this station's ledger" if ledger is not None else ""))
    else:
        print(f"bag {report.bag}: NOT as exported:", file=sys.stderr)
        for problem in report.problems:
            print(f"  {problem}", file=sys.stderr)
    for note in report.notes:
        print(f"  note: {note}", file=sys.stderr)
    return ExitCode.OK if report.ok else ExitCode.EXPORT_INVALID
