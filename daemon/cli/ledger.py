"""``evidock ledger list|show|verify``: what archivists ask of the ledger."""

from __future__ import annotations

import json
import sys

from evidock.daemon.cli.common import open_ledger
from evidock.daemon.cli.output import human_bytes, json_lines, make_console, table
from evidock.daemon.config import Config
from evidock.daemon.ledger.records import MediaRecord
from evidock.daemon.ledger.sqlite import SqliteLedger
from evidock.daemon.probe import Prober
from evidock.daemon.timeutil import parse


def _row(m: MediaRecord) -> dict:
    return {
        "id": m.id, "blake3": m.blake3, "sha256": m.sha256, "size": m.size,
        "device_serial": m.device_serial, "officer_id": m.officer_id,
        "source_path": m.source_path, "kind": m.kind, "recorded_at": m.recorded_at,
        "deadline_at": m.deadline_at, "found_at": m.found_at, "ingested_at": m.ingested_at,
        "store": m.store, "object_key": m.object_key, "retain_until": m.retain_until,
        "state": m.state, "attempts": m.attempts, "last_error": m.last_error,
        "clock_offset_s": m.clock_offset_s, "flags": [f for f in m.flags.split(",") if f],
    }


def add_parsers(sub, common) -> None:
    p = sub.add_parser("ledger", help="query and check the ingest ledger")
    lsub = p.add_subparsers(dest="ledger_command", required=True, metavar="COMMAND")

    lp = lsub.add_parser("list", parents=[common], help="list recordings")
    lp.add_argument("--device", help="device serial")
    lp.add_argument("--officer", help="officer badge number (警号)")
    lp.add_argument("--since", type=parse, help="recorded at or after (ISO 8601)")
    lp.add_argument("--until", type=parse, help="recorded before (ISO 8601)")
    lp.add_argument("--state", choices=["seen", "copying", "stored", "verified", "failed"])
    lp.add_argument("--json", action="store_true", help="one JSON object per line")
    lp.set_defaults(func=cmd_list)

    sp = lsub.add_parser("show", parents=[common], help="one recording in full")
    sp.add_argument("ref", metavar="ID_OR_HASH", help="ledger id, or BLAKE3/SHA-256 (8+ digits)")
    sp.add_argument("--json", action="store_true")
    sp.set_defaults(func=cmd_show)

    vp = lsub.add_parser("verify", parents=[common],
                         help="recompute the hash chain and replay it against the tables")
    vp.add_argument("--json", action="store_true")
    vp.set_defaults(func=cmd_verify)


def _ledger(config: Config, *, may_be_new: bool = False) -> SqliteLedger:
    return open_ledger(config, may_be_new=may_be_new)


def cmd_list(args, config: Config) -> int:
    rows = _ledger(config).list_media(device=args.device, officer=args.officer,
                                      since=args.since, until=args.until, state=args.state)
    if args.json:
        json_lines(_row(m) for m in rows)
        return 0
    table(f"{len(rows)} recording(s)",
          ["id", "device", "officer", "recorded", "file", "size", "state", "blake3"],
          ([m.id, m.device_serial, m.officer_id, m.recorded_at[:19], m.source_path,
            human_bytes(m.size), m.state, (m.blake3 or "")[:16]] for m in rows))
    return 0


def cmd_show(args, config: Config) -> int:
    ledger = _ledger(config)
    media = ledger.find_media(args.ref)
    doc = _row(media)
    doc["attempt_history"] = ledger.attempts(media.id)
    doc["probe"] = Prober(ledger, None).of(media.id)
    doc["events"] = [
        {"seq": e.seq, "at": e.at, "kind": e.kind, "data": json.loads(e.data), "hash": e.hash}
        for e in ledger.events(subject=f"media:{media.id}")
    ]
    if args.json:
        json_lines([doc])
        return 0
    console = make_console()
    for key, value in doc.items():
        if key in ("attempt_history", "events"):
            continue
        console.print(f"[bold]{key:>15}[/bold]  {'' if value is None else value}")
    table("attempts", ["id", "station", "started", "ended", "outcome", "bytes", "error"],
          ([a["id"], a["station"], a["started_at"], a["ended_at"], a["outcome"], a["bytes"],
            a["error"]] for a in doc["attempt_history"]), console=console)
    table("events", ["seq", "at", "kind", "hash"],
          ([e["seq"], e["at"], e["kind"], e["hash"][:16]] for e in doc["events"]),
          console=console)
    return 0


def cmd_verify(args, config: Config) -> int:
    report = _ledger(config).verify()
    if args.json:
        json_lines([{"ok": report.ok, "events": report.events, "media": report.media,
                     "problems": report.problems}])
    elif report.ok:
        print(f"ledger {config.ledger_path}: OK: {report.events} events chain correctly and "
              f"{report.media} recordings match their history")
    else:
        print(f"ledger {config.ledger_path}: BROKEN after checking {report.events} events:",
              file=sys.stderr)
        for problem in report.problems:
            print(f"  {problem}", file=sys.stderr)
        print("  keep this file as it is for investigation; restore the ledger from a backup "
              "or a replica and compare", file=sys.stderr)
    return 0 if report.ok else 5
