"""``evidock derivatives list|retry``: the derivative queue, for operators."""

from __future__ import annotations

from evidock.daemon.cli.common import open_ledger
from evidock.daemon.cli.output import human_bytes, json_lines, make_console, table
from evidock.daemon.config import Config
from evidock.daemon.ledger.derivatives import DERIVATIVE_STATES
from evidock.daemon.timeutil import parse, stamp

HELP_STATES = ", ".join(DERIVATIVE_STATES)


def add_parsers(sub, common) -> None:
    p = sub.add_parser("derivatives", parents=[common],
                       help="the review-derivative queue (proxies, posters, sprites, "
                            "fingerprints, recovered copies)")
    dsub = p.add_subparsers(dest="derivatives_command", required=True, metavar="COMMAND")
    lp = dsub.add_parser("list", parents=[common], help="derivatives and their states")
    lp.add_argument("--state", choices=list(DERIVATIVE_STATES))
    lp.add_argument("--media", type=int, metavar="ID", help="of one recording")
    lp.add_argument("--json", action="store_true", help="one JSON object per line")
    lp.set_defaults(func=cmd_list)
    rp = dsub.add_parser("retry", parents=[common],
                         help="put a failed derivative back in the queue (attempts from zero)")
    rp.add_argument("id", type=int, metavar="ID", help="derivative id (from list)")
    rp.add_argument("--by", default="cli", help="who asks (recorded in the ledger)")
    rp.set_defaults(func=cmd_retry)
    bp = dsub.add_parser("rebuild", parents=[common],
                         help="make the derivatives of recordings handed over since T again "
                         "(after a settings change); the old objects stay in the store")
    bp.add_argument("--since", required=True, type=parse, metavar="T",
                    help="handed over at or after (ISO 8601)")
    bp.add_argument("--kind", action="append", help="only this kind (repeatable)")
    bp.add_argument("--by", default="cli", help="who asks (recorded in the ledger)")
    bp.set_defaults(func=cmd_rebuild)


def derivative_rows(rows: list[dict], console=None, title: str | None = None) -> None:
    table(title or f"{len(rows)} derivative(s)",
          ["id", "media", "kind", "state", "tries", "size", "blake3", "sha256", "error"],
          ([r["id"], r["media_id"], r["kind"], r["state"], r["attempts"],
            human_bytes(r["size"]) if r["size"] is not None else "",
            (r["blake3"] or "")[:16], (r["sha256"] or "")[:16], r["error"] or ""]
           for r in rows), console=console)


def cmd_list(args, config: Config) -> int:
    ledger = open_ledger(config)
    rows = ledger.derivatives(media_id=args.media, state=args.state)
    if args.json:
        json_lines(rows)
        return 0
    counts = ledger.derivative_counts()
    console = make_console()
    derivative_rows(rows, console=console)
    console.print("queue: " + ", ".join(f"{counts[s]} {s}" for s in DERIVATIVE_STATES)
                  + (f"; oldest waiting since {counts['oldest_pending']}"
                     if counts["oldest_pending"] else ""))
    return 0


def cmd_retry(args, config: Config) -> int:
    ledger = open_ledger(config)
    ledger.retry_derivative(args.id, by=args.by)
    row = ledger.derivative(args.id)
    print(f"derivative {row['id']} ({row['kind']} of recording {row['media_id']}) is pending "
          "again; the daemon makes it while no device is being read")
    return 0


def cmd_rebuild(args, config: Config) -> int:
    ledger = open_ledger(config)
    ids = ledger.rebuild_derivatives(stamp(args.since), by=args.by, kinds=args.kind)
    print(f"{len(ids)} derivative(s) of recordings handed over since {stamp(args.since)} are "
          "pending again; the daemon makes them while no device is being read (the objects "
          "made before stay in the store)")
    return 0
