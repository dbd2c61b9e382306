"""``evidock ledger list|show|verify|rebuild|migrate``: what archivists ask of the ledger."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from evidock.daemon.cli.common import open_ledger, wiring
from evidock.daemon.cli.derivatives import derivative_rows
from evidock.daemon.cli.output import (
    follow_up,
    human_bytes,
    json_lines,
    local_time,
    make_console,
    table,
)
from evidock.daemon.config import Config
from evidock.daemon.errors import EvidockError, ExitCode, NotFound, StoreError
from evidock.daemon.ledger.records import MediaRecord
from evidock.daemon.ledger.sqlite import SqliteLedger
from evidock.daemon.ledger.verify import Report
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
        "superseded_by": m.superseded_by,
    }


def add_parsers(sub, common) -> None:
    p = sub.add_parser("ledger", parents=[common], help="query and check the ingest ledger")
    lsub = p.add_subparsers(dest="ledger_command", required=True, metavar="COMMAND")

    lp = lsub.add_parser("list", parents=[common], help="list recordings")
    lp.add_argument("--device", help="device serial")
    lp.add_argument("--officer", help="officer badge number (警号)")
    lp.add_argument("--since", type=parse, help="recorded at or after (ISO 8601)")
    lp.add_argument("--until", type=parse, help="recorded before (ISO 8601)")
    lp.add_argument("--state", choices=["seen", "copying", "stored", "verified", "failed",
                                          "superseded"])
    lp.add_argument("--json", action="store_true", help="one JSON object per line")
    lp.add_argument("--as", dest="as_", metavar="PERSON",
                    help="who asks (default: the login's person); recordings outside their "
                         "clearance are only counted")
    lp.set_defaults(func=cmd_list)

    sp = lsub.add_parser("show", parents=[common], help="one recording in full")
    sp.add_argument("ref", metavar="ID_OR_HASH", help="ledger id, or BLAKE3/SHA-256 (8+ digits)")
    sp.add_argument("--json", action="store_true")
    sp.add_argument("--as", dest="as_", metavar="PERSON", help="who asks (default: the login)")
    sp.set_defaults(func=cmd_show)

    simp = lsub.add_parser("similar", parents=[common],
                           help="recordings sharing footage with one (perceptual "
                           "fingerprints): re-encoded, scaled, trimmed or stamped copies")
    simp.add_argument("ref", metavar="ID_OR_HASH",
                      help="ledger id, or BLAKE3/SHA-256 (8+ digits)")
    simp.add_argument("--limit", type=int, default=20, help="at most this many (20)")
    simp.add_argument("--as", dest="as_", metavar="PERSON", help="who asks (default: the login)")
    simp.add_argument("--json", action="store_true", help="one JSON object per line")
    simp.set_defaults(func=cmd_similar)

    vp = lsub.add_parser("verify", parents=[common],
                         help="recompute the hash chain, replay it against the tables and "
                         "compare it with the anchors in the store")
    vp.add_argument("--no-store", action="store_true",
                    help="check the ledger alone, without the store's anchors")
    vp.add_argument("--station", metavar="ID",
                    help="a shared ledger: after checking the whole fleet's chain, report "
                    "this station's part of it (its events and their place in the chain)")
    vp.add_argument("--json", action="store_true")
    vp.set_defaults(func=cmd_verify)

    mp = lsub.add_parser("migrate", parents=[common],
                         help="bring an existing ledger to this evidock's schema, keeping a "
                         "consistent copy of it first; with --to postgres, move this "
                         "station's SQLite ledger into the shared PostgreSQL ledger of the "
                         "configuration ([ledger] type = \"postgres\")")
    mp.add_argument("--to", choices=["postgres"],
                    help="move the ledger to this backend instead of upgrading it in place")
    mp.add_argument("--from", dest="source", type=Path, metavar="PATH",
                    help="with --to: the SQLite ledger (default: ledger.path, or "
                    "<data_dir>/ledger.sqlite3)")
    mp.add_argument("--json", action="store_true")
    mp.set_defaults(func=cmd_migrate)

    rp = lsub.add_parser("rebuild", parents=[common],
                         help="rebuild a lost ledger from the anchors and objects in the store")
    rp.add_argument("--into", required=True, type=Path, metavar="PATH",
                    help="the new ledger file (never an existing one)")
    rp.add_argument("--json", action="store_true")
    rp.set_defaults(func=cmd_rebuild)

    tp = lsub.add_parser("stamp", parents=[common],
                         help="time-stamp the chain head now (RFC 3161, timestamps.tsa_url) and "
                              "list the stamps")
    tp.add_argument("--json", action="store_true")
    tp.set_defaults(func=cmd_stamp)


def _ledger(config: Config, *, may_be_new: bool = False) -> SqliteLedger:
    return open_ledger(config, may_be_new=may_be_new)


def reader(config: Config, ref: str | None):
    """The custody check and who asks (None while nobody is registered on the station)."""
    custody = wiring(config).custody
    return custody, (custody.people.resolve(ref) if custody.people.enforced() else None)
def _clock(seconds: float) -> str:
    whole = int(seconds)
    return f"{whole // 3600}:{whole // 60 % 60:02d}:{whole % 60:02d}"


def cmd_similar(args, config: Config) -> int:
    from evidock.daemon.derivatives.fingerprint import similar

    custody, person = reader(config, args.as_)
    ledger = _ledger(config)
    media = custody.find(person, args.ref)  # the same refusal as for a missing recording
    found = similar(ledger, media.id, limit=args.limit)
    others = {r["media_id"]: ledger.media(r["media_id"]) for r in found}
    shown, hidden = custody.visible(person, list(others.values()))
    if hidden:  # R9: a match outside the clearance is only counted
        keep = {m.id for m in shown}
        found = [r for r in found if r["media_id"] in keep]
        print(f"evidock: {hidden} restricted recording(s) not shown (outside the clearance "
              f"of {person})", file=sys.stderr)
    if args.json:
        json_lines({**r, "blake3": others[r["media_id"]].blake3,
                    "device_serial": others[r["media_id"]].device_serial,
                    "recorded_at": others[r["media_id"]].recorded_at,
                    "source_path": others[r["media_id"]].source_path} for r in found)
        return 0
    table(f"{len(found)} recording(s) sharing footage with recording {media.id} "
          f"({media.source_path})",
          ["id", "device", "recorded", "file", "score", "this recording", "the other",
           "blake3"],
          ([r["media_id"], others[r["media_id"]].device_serial,
            local_time(others[r["media_id"]].recorded_at, config.display_zone),
            others[r["media_id"]].source_path,
            f"{r['score']:.2f}",
            ", ".join(f"{_clock(g['start'])}-{_clock(g['end'])}" for g in r["ranges"]),
            ", ".join(f"{_clock(g['other_start'])}-{_clock(g['other_end'])}"
                      for g in r["ranges"]),
            others[r["media_id"]].blake3[:16]] for r in found))
    return 0


def cmd_list(args, config: Config) -> int:
    custody, person = reader(config, args.as_)
    rows = _ledger(config).list_media(device=args.device, officer=args.officer,
                                      since=args.since, until=args.until, state=args.state)
    rows, hidden = custody.visible(person, rows)
    if hidden:
        # only a count: nothing about the restricted recordings themselves (R9)
        print(f"evidock: {hidden} restricted recording(s) not shown (outside the clearance "
              f"of {person})", file=sys.stderr)
    if args.json:
        json_lines(_row(m) for m in rows)
        return 0
    z = config.display_zone
    table(f"{len(rows)} recording(s)",
          ["id", "device", "officer", "recorded", "file", "size", "state", "blake3"],
          ([m.id, m.device_serial, m.officer_id, local_time(m.recorded_at, z), m.source_path,
            human_bytes(m.size), m.state, (m.blake3 or "")[:16]] for m in rows))
    return 0


def cmd_show(args, config: Config) -> int:
    ledger = _ledger(config)
    custody, person = reader(config, args.as_)
    media = custody.find(person, args.ref)
    doc = _row(media)
    doc["sensitivity"] = sorted(custody.labels(media.id))
    doc["attempt_history"] = ledger.attempts(media.id)
    doc["probe"] = Prober(ledger, None).of(media.id)
    doc["derivatives"] = ledger.derivatives(media_id=media.id)
    doc["events"] = [
        {"seq": e.seq, "at": e.at, "kind": e.kind, "data": json.loads(e.data), "hash": e.hash}
        for e in ledger.events(subject=f"media:{media.id}")
    ]
    if args.json:
        json_lines([doc])
        return 0
    console = make_console()
    z = config.display_zone
    for key, value in doc.items():
        if key in ("attempt_history", "events", "derivatives"):
            continue
        console.print(f"[bold]{key:>15}[/bold]  {_for_people(key, value, z)}", markup=True,
                      highlight=False)
    table("attempts", ["id", "station", "started", "ended", "outcome", "bytes", "error"],
          ([a["id"], a["station"], local_time(a["started_at"], z), local_time(a["ended_at"], z),
            a["outcome"], a["bytes"], a["error"]] for a in doc["attempt_history"]),
          console=console)
    derivative_rows(doc["derivatives"], console=console, title="derivatives")
    table("events", ["seq", "at", "kind", "hash"],
          ([e["seq"], local_time(e["at"], z), e["kind"], e["hash"][:16]] for e in doc["events"]),
          console=console)
    return 0


def _for_people(key: str, value, zone) -> str:
    """One field of ``ledger show`` as words: no Python lists, dicts or None on screen."""
    from rich.markup import escape

    if value is None or value == [] or value == {}:
        return ""
    if key.endswith("_at") or key == "retain_until":
        return local_time(value, zone)
    if key == "size":
        return f"{human_bytes(value)} ({value} bytes)"
    if key == "clock_offset_s":
        return f"{value:+.1f} s (device clock minus station clock)"
    if isinstance(value, list):
        return escape(", ".join(str(v) for v in value))
    if isinstance(value, dict):  # the probe: "duration_s: 12.5, container: mov, ..."
        return escape(", ".join(f"{k}: {_for_people(k, v, zone)}" for k, v in value.items()
                                if v not in (None, "")))
    return escape(str(value))


def _store_for_verify(config: Config):
    """The store, or why it cannot be compared with (no credentials, unreachable).  Looking
    creates nothing: a local store or a spool that is not there is not opened."""
    if config.store.type == "local" and not config.store_path.exists():
        return None, f"not compared with the store's anchors: no store at {config.store_path}"
    try:
        parts = wiring(config)
        if config.store.type == "s3" and not config.spool_path.exists():
            return parts.primary, None  # no spool, so no anchor waiting in one
        return parts.store, None
    except EvidockError as exc:
        return None, f"not compared with the store's anchors: {exc}"


def cmd_verify(args, config: Config) -> int:
    from evidock.daemon.ledger import anchor

    path, station = config.ledger_path, config.station.id
    store, note = (None, "not compared with the store's anchors (--no-store)") if \
        args.no_store else _store_for_verify(config)
    if config.ledger.type == "sqlite" and not path.exists():  # never create one to verify it
        found = None
        if store is not None:
            try:
                found = anchor.check_ledger(None, store, station, ledger_consistent=True)
            except StoreError as exc:
                note = f"not compared with the store's anchors: {exc}"
        if found is None or not found.anchors:
            raise NotFound(f"no ledger at {path}" + (f" ({note})" if note else ""),
                           hint="check --data-dir and the configuration's ledger.path")
        return _print_verify(args, config, Report(problems=[
            f"there is no ledger at {path}", *found.problems]), found, None)
    ledger = _ledger(config)
    try:
        report, found = anchor.verify_with_anchors(ledger, store, args.station or station)
    except StoreError as exc:
        report, found = anchor.chain_report(ledger), None
        note = f"not compared with the store's anchors: {exc}"
    if report.ok:
        report, stamp_note = _check_stamps(ledger, config, report)
        note = "; ".join(x for x in (note, stamp_note) if x) or None
    part = None
    if args.station:
        from evidock.daemon.ledger.verify import station_part

        part = station_part(ledger, args.station)
    return _print_verify(args, config, report, found, note, part)


def _check_stamps(ledger, config: Config, report):
    """The RFC 3161 tokens in the ledger, and how long the chain has gone without one."""
    from evidock.daemon.custody.tsa import Stamper, check_ledger_stamps
    from evidock.daemon.timeutil import utcnow

    cert = config.timestamps.tsa_certificate
    problems, count = check_ledger_stamps(ledger, cert.read_bytes() if cert else None)
    report.problems.extend(problems)
    gap = Stamper(ledger, config.timestamps).gap(utcnow())
    if not count:
        return report, ("no RFC 3161 time stamp in the ledger" + (
            "" if gap["configured"] else " (no timestamps.tsa_url configured)"))
    note = f"{count} time stamp(s) verified, the newest over event {gap['last']['seq']}"
    if gap["overdue"] or gap["failed_since"]:
        note += (f"; {gap['events_since']} event(s) since are not time-stamped yet"
                 + (f" ({gap['failed_since']} failed tr(ies) since)" if gap["failed_since"]
                    else ""))
    return report, note


def _print_verify(args, config: Config, report, found, note: str | None,
                  part: dict | None = None) -> int:
    anchored = None if found is None else {
        "anchors": found.anchors, "newest": found.newest, "written": found.newest_at,
        "anchored_seq": found.anchored_seq, "ledger_seq": found.ledger_seq}
    if args.json:
        json_lines([{"ok": report.ok, "events": report.events, "media": report.media,
                     "rows": report.rows, "problems": report.problems, "anchor": anchored,
                     "note": note, **({"station": part} if part is not None else {})}])
    elif report.ok:
        print(f"ledger {config.ledger_name}: OK: {report.events} events chain correctly and "
              f"{report.rows} rows ({report.media} recordings) match their history")
        if part is not None:
            print(f"  station {part['station']}: {part['events']} of these events (seq "
                  f"{part['first_seq']}..{part['last_seq']}), {part['attempts']} copy "
                  f"attempt(s), {part['recordings']} recording(s) handed over by it")
        if found is not None and found.anchors:
            print(f"  agrees with the store's anchors: {found.anchors} anchor(s), the newest "
                  f"{found.newest} (written {found.newest_at}) up to event {found.anchored_seq}; "
                  f"{found.ledger_seq - found.anchored_seq} event(s) since")
        elif found is not None:
            print("  the store holds no anchor of this station yet")
    else:
        print(f"ledger {config.ledger_name}: BROKEN after checking {report.events} events:",
              file=sys.stderr)
        for problem in report.problems:
            print(f"  {problem}", file=sys.stderr)
        print("  keep this file as it is for investigation; restore the ledger from a backup "
              + follow_up("or rebuild it from the store ('evidock ledger rebuild --into PATH') and "
                          "compare", args), file=sys.stderr)
    if note:
        print(f"  note: {note}", file=sys.stderr)
    return ExitCode.OK if report.ok else ExitCode.VERIFY_FAILED


def cmd_rebuild(args, config: Config) -> int:
    from evidock.daemon.ledger.rebuild import rebuild
    result = rebuild(wiring(config).store, args.into, station=config.station.id)
    if args.json:
        json_lines([result.as_dict()])
    else:
        for line in result.summary():
            print(line)
    return ExitCode.OK if result.ok else ExitCode.VERIFY_FAILED


def cmd_migrate(args, config: Config) -> int:
    if args.to == "postgres":
        return _move_to_postgres(args, config)
    from evidock.daemon.ledger.sqlite import SqliteLedger

    ledger = SqliteLedger(config.ledger_path, station=config.station.id, create=False,
                          migrate_schema=True)
    done = ledger.migration
    if not done.applied:
        print(f"ledger {config.ledger_path}: its schema is up to date")
        return ExitCode.OK
    print(f"ledger {config.ledger_path}: applied {', '.join(done.applied)}")
    if done.backup is not None:
        print(f"  the ledger as it was is kept in {done.backup}")
    return ExitCode.OK


def _move_to_postgres(args, config: Config) -> int:
    from evidock.daemon.ledger.sqlite import SqliteLedger
    from evidock.daemon.ledger.transfer import to_postgres

    if config.ledger.type != "postgres":
        raise EvidockError("ledger migrate --to postgres needs the target in the configuration",
                           hint='set [ledger] type = "postgres" and dsn (keep path pointing at '
                           "the SQLite file, or pass --from), then run it again")
    source_path = args.source or config.ledger_path
    source = SqliteLedger(source_path, station=config.station.id, create=False)
    parts = wiring(config, ledger_may_be_new=True)
    moved = to_postgres(source, parts.ledger)
    if args.json:
        json_lines([moved.as_dict()])
    elif moved.ok:
        print(f"moved {moved.events} events ({moved.media} recordings) from {moved.source} to "
              f"{moved.target}: the chain is intact (head {moved.head[0]} "
              f"{moved.head[1][:16]}) and verifies")
        print(f"  keep {moved.source} as it is (read-only) until the stations run on the "
              "shared ledger")
    else:
        print(f"moved {moved.events} events to {moved.target}, but it does not verify:",
              file=sys.stderr)
        for problem in moved.problems:
            print(f"  {problem}", file=sys.stderr)
    return ExitCode.OK if moved.ok else ExitCode.VERIFY_FAILED


def cmd_stamp(args, config: Config) -> int:
    from evidock.daemon.timeutil import utcnow

    parts = wiring(config)
    stamper = parts.stamper
    if not stamper.configured:
        print("evidock: no time-stamping authority is configured (timestamps.tsa_url)",
              file=sys.stderr)
        return ExitCode.FAILED
    row = stamper.stamp(why="command")
    gap = stamper.gap(utcnow())
    if args.json:
        json_lines([{"stamp": row, "gap": gap}])
        return 0
    print(f"ledger head {row['seq']} ({row['head_hash'][:16]}) time-stamped by {row['tsa']} at "
          f"{row['gen_time']}; {len(parts.ledger.timestamps())} stamp(s) in the ledger")
    return 0
