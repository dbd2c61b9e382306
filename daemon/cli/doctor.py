"""``evidock doctor``: is the store fit to hold evidence?  Exit 0 when it is, 1 when not.

For S3: the bucket exists with versioning, Object Lock and a COMPLIANCE default rule at least
as long as ``policy.retention_days``, the staging lifecycle rule is there, and the daemon's
credentials can write with retention and extend it but cannot delete.  Each line says what to
do.  ``--no-write`` skips the probe object.
"""

from __future__ import annotations

from evidock.daemon.cli.output import follow_up, json_lines, make_console
from evidock.daemon.config import Config
from evidock.daemon.errors import ExitCode

MARK = {"ok": "[green]     ok[/]", "warning": "[yellow]warning[/]", "problem": "[red]PROBLEM[/]"}


def add_parser(sub, common) -> None:
    dp = sub.add_parser("doctor", parents=[common],
                        help="check the store's Object Lock set-up and the daemon's credentials")
    dp.add_argument("--no-write", action="store_true",
                    help="only read the bucket's set-up; do not write a probe object")
    dp.add_argument("--json", action="store_true")
    dp.set_defaults(func=cmd_doctor)


def findings(config: Config, write_probe: bool) -> list[dict]:
    return _ledger(config) + _store(config, write_probe)


def _ledger(config: Config) -> list[dict]:
    """A shared (PostgreSQL) ledger: durability, the stations' role, who runs now."""
    if config.ledger.type != "postgres":
        return []
    from evidock.daemon.errors import EvidockError
    from evidock.daemon.wiring import Wiring

    try:
        ledger = Wiring(config).ledger
        rows = [{"level": lv, "check": c, "message": m} for lv, c, m in ledger.check()]
        ledger.close()
        return rows
    except EvidockError as exc:  # unreachable, refused, or no ledger there yet
        return [{"level": "problem", "check": "ledger", "message": str(exc)}]


def _store(config: Config, write_probe: bool) -> list[dict]:
    from evidock.daemon.store.s3_doctor import FAIL, OK, WARN, diagnose

    if config.store.type != "s3":
        from evidock.daemon.wiring import Wiring

        if not config.store_path.is_dir():  # doctor reads: it never creates a store
            return [{"level": FAIL, "check": "local_store",
                     "message": f"no local store at {config.store_path}: check --data-dir (or "
                     "store.path); a station's store is created by its first `evidock run`"}]
        problems = Wiring(config).store.check()
        return [{"level": WARN, "check": "local_store", "message": p} for p in problems] or [
            {"level": OK, "check": "local_store", "message": f"local store {config.store_path} "
             "is writable and has room"}]
    from evidock.daemon.errors import StoreError
    from evidock.daemon.wiring import make_s3_client

    cfg = config.store
    try:
        found = diagnose(make_s3_client(cfg), cfg.bucket, station=config.station.id,
                         min_days=config.policy.retention_days, write_probe=write_probe)
        rows = [{"level": f.level, "check": f.check, "message": f.message} for f in found]
    except StoreError as exc:
        rows = [{"level": FAIL, "check": "connection", "message": str(exc)}]
    return rows + [_spool(config)]


def _spool(config: Config) -> dict:
    """How full the spool is, read from its directory (the daemon need not be running)."""
    from evidock.daemon.cli.output import human_bytes
    from evidock.daemon.store.spool import spool_usage

    spool = config.store.spool
    count, used, age = spool_usage(config.spool_path)
    limit = int(spool.max_gib * (1 << 30))
    late = used >= spool.warn_fraction * limit or (
        age is not None and age > spool.max_age_hours * 3600)
    text = (f"spool {config.spool_path}: {count} files, {human_bytes(used)} of "
            f"{human_bytes(limit)}" + ("" if age is None else f", oldest {age / 3600:.1f} h"))
    if late:
        text += ": S3 is not taking them; check the connection and `evidock status`"
    return {"level": "warning" if late else "ok", "check": "spool", "message": text}


def _timestamps(config: Config) -> dict:
    """Whether the chain head is being time-stamped (RFC 3161), and the gap if not."""
    row = {"check": "timestamps"}
    if not config.timestamps.tsa_url:
        return {**row, "level": "warning", "message": "no time-stamping authority is "
                "configured (timestamps.tsa_url): ledger heads and export bags carry no RFC "
                "3161 token"}
    if not config.ledger_path.exists():
        return {**row, "level": "ok", "message": f"authority {config.timestamps.tsa_url}; no "
                "ledger yet"}
    from evidock.daemon.custody.tsa import Stamper
    from evidock.daemon.ledger.sqlite import SqliteLedger
    from evidock.daemon.timeutil import utcnow

    ledger = SqliteLedger(config.ledger_path, station=config.station.id, create=False)
    gap = Stamper(ledger, config.timestamps).gap(utcnow())
    last = gap["last"]
    text = (f"authority {config.timestamps.tsa_url}; newest stamp "
            + (f"over event {last['seq']} at {last['gen_time']}" if last else "none yet")
            + f"; {gap['events_since']} event(s) since")
    if gap["failed_since"]:
        return {**row, "level": "problem", "message": text + f": {gap['failed_since']} "
                "failed tr(ies) since: the authority does not answer; the head is stamped "
                "once it does (`evidock ledger stamp`)"}
    if gap["overdue"]:
        return {**row, "level": "warning", "message": text + ": a stamp is due (the daemon "
                "stamps on schedule; `evidock ledger stamp` does it now)"}
    return {**row, "level": "ok", "message": text}


def cmd_doctor(args, config: Config) -> int:
    rows = findings(config, write_probe=not args.no_write)
    failed = any(r["level"] == "problem" for r in rows)
    stamps = _timestamps(config)
    rows.append(stamps)
    if args.json:
        json_lines(rows)
    else:
        console = make_console()
        console.print(f"ledger: {config.ledger_name}, store: {config.store.type}, "
                      f"config: {config.source}")
        for row in rows:
            console.print(f"  {MARK[row['level']]} {row['check']}: "
                      f"{follow_up(row['message'], args)}",
                          highlight=False)
        console.print("[red]the store is NOT fit for evidence: fix the problems above[/]"
                      if failed else "the store is fit for evidence")
        if stamps["level"] == "problem":
            console.print("[red]the ledger's heads are not being time-stamped: see above[/]")
    return ExitCode.FAILED if failed or stamps["level"] == "problem" else ExitCode.OK
