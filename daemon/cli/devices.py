"""``evidock devices list|assign|import``: the device registry (R12)."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

from evidock.daemon.cli.common import open_ledger
from evidock.daemon.cli.output import json_lines, local_time, table
from evidock.daemon.config import Config
from evidock.daemon.ledger import devices as registry
from evidock.daemon.ledger.sqlite import SqliteLedger


def add_parsers(sub, common) -> None:
    p = sub.add_parser("devices", parents=[common],
                        help="the device registry: who carries which camera")
    dsub = p.add_subparsers(dest="devices_command", required=True, metavar="COMMAND")

    lp = dsub.add_parser("list", parents=[common], help="every device seen or registered")
    lp.add_argument("--json", action="store_true", help="one JSON object per line")
    lp.set_defaults(func=cmd_list)

    ap = dsub.add_parser("assign", parents=[common], help="assign a device to an officer")
    ap.add_argument("serial", metavar="SERIAL")
    ap.add_argument("--officer", required=True, metavar="BADGE", help="badge number (警号)")
    ap.add_argument("--name", help="officer name")
    ap.add_argument("--unit", help="unit (单位)")
    ap.add_argument("--model", help="device model")
    ap.set_defaults(func=cmd_assign)

    ip = dsub.add_parser("import", parents=[common],
                         help="register devices from a CSV or TOML file (see the README)")
    ip.add_argument("file", type=Path, metavar="FILE")
    ip.set_defaults(func=cmd_import)


def _ledger(config: Config, *, may_be_new: bool = False) -> SqliteLedger:
    return open_ledger(config, may_be_new=may_be_new)


def cmd_list(args, config: Config) -> int:
    rows = _ledger(config).devices()
    if args.json:
        json_lines(asdict(d) for d in rows)
        return 0
    z = config.display_zone
    table(f"{len(rows)} device(s)",
          ["serial", "model", "officer", "name", "unit", "registered", "last dock", "last undock",
           "port"],
          ([d.serial, d.model, d.officer_id, d.officer_name, d.unit,
            "yes" if d.registered else "NO - assign it", local_time(d.last_dock_at, z),
            local_time(d.last_undock_at, z), d.last_port] for d in rows))
    return 0


def cmd_assign(args, config: Config) -> int:
    d = registry.assign(_ledger(config, may_be_new=True), registry.Assignment(
        args.serial, officer_id=args.officer, officer_name=args.name, unit=args.unit,
        model=args.model))
    print(f"device {d.serial} is assigned to {d.officer_id}"
          + (f" ({d.officer_name})" if d.officer_name else "") + (f", {d.unit}" if d.unit else ""))
    return 0


def cmd_import(args, config: Config) -> int:
    done = registry.import_registry(_ledger(config, may_be_new=True), args.file)
    print(f"{len(done)} device(s) registered from {args.file}")
    return 0
