"""The ``evidock`` command.  Every command that touches the ledger takes ``--config`` and
``--data-dir`` the same way; errors print what to do and exit with their class's code."""

from __future__ import annotations

import argparse
import sys

from evidock.daemon import config as config_mod
from evidock.daemon.cli import alerts as alerts_cli
from evidock.daemon.cli import cases as cases_cli
from evidock.daemon.cli import custody as custody_cli
from evidock.daemon.cli import derivatives as derivatives_cli
from evidock.daemon.cli import devices as devices_cli
from evidock.daemon.cli import doctor as doctor_cli
from evidock.daemon.cli import export as export_cli
from evidock.daemon.cli import ledger as ledger_cli
from evidock.daemon.cli import report as report_cli
from evidock.daemon.cli import station as station_cli
from evidock.daemon.errors import ConfigError, EvidockError, ExitCode


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", metavar="PATH",
                        help="configuration file (default: $EVIDOCK_CONFIG, then "
                             "/etc/evidock/evidock.toml, then embedded defaults)")
    common.add_argument("--data-dir", metavar="DIR",
                        help="override station.data_dir (ledger, local store, run files)")

    parser = argparse.ArgumentParser(
        prog="evidock",
        description="Evidence-media ingestion for body-worn cameras and recorders.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    rp = sub.add_parser("run", parents=[common], help="run the station daemon")
    rp.add_argument("--watch", metavar="DIR", action="append", default=[],
                    help="watch folder (<DIR>/<serial>/...); repeatable; these folders become "
                         "the only sources: [watch] folders are replaced and USB docking is off "
                         "unless --usb is given")
    rp.add_argument("--usb", action="store_true",
                    help="also take cameras docked over USB (overrides usb.enabled)")
    rp.add_argument("--settle", metavar="SECONDS", type=float,
                    help="override watch.settle_seconds")
    rp.add_argument("--until-idle", action="store_true",
                    help="exit once every file found is handed over (status 1 if any failed)")
    rp.add_argument("--no-derivatives", action="store_true",
                    help="make no review derivatives (proxies, posters); overrides "
                         "derivatives.enabled")
    rp.set_defaults(func=station_cli.cmd_run)

    cp = sub.add_parser("config", help="configuration")
    csub = cp.add_subparsers(dest="config_command", required=True, metavar="COMMAND")
    cc = csub.add_parser("check", parents=[common],
                         help="validate and print the effective configuration")
    cc.add_argument("--json", action="store_true")
    cc.set_defaults(func=station_cli.cmd_config_check)

    sp = sub.add_parser("status", parents=[common], help="what the station is doing now")
    sp.add_argument("--json", action="store_true")
    sp.add_argument("--follow", "-f", action="store_true",
                    help="keep the view on screen, refreshed every second (Ctrl-C ends)")
    sp.set_defaults(func=station_cli.cmd_status)

    ledger_cli.add_parsers(sub, common)
    devices_cli.add_parsers(sub, common)
    derivatives_cli.add_parsers(sub, common)
    cases_cli.add_parsers(sub, common)
    alerts_cli.add_parsers(sub, common)
    report_cli.add_parsers(sub, common)
    custody_cli.add_parsers(sub, common)
    export_cli.add_parsers(sub, common)
    doctor_cli.add_parser(sub, common)
    return parser


def load_config(args) -> config_mod.Config:
    overrides = {}
    if getattr(args, "data_dir", None):
        overrides["station.data_dir"] = args.data_dir
    if getattr(args, "watch", None):
        # A named folder means that folder only: a script meant for a folder must never
        # read a camera (or any USB disk) that happens to be plugged in.
        overrides["watch.folders"] = args.watch
        overrides["usb.enabled"] = False
    if getattr(args, "usb", False):
        overrides["usb.enabled"] = True
    if getattr(args, "no_derivatives", False):
        overrides["derivatives.enabled"] = False
    if getattr(args, "settle", None) is not None:
        overrides["watch.settle_seconds"] = args.settle
    return config_mod.load(args.config, overrides=overrides)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        config = load_config(args)
        return args.func(args, config)
    except ConfigError as exc:
        print(f"evidock: {exc.message}", file=sys.stderr)
        if exc.hint:
            print(f"evidock: {exc.hint}", file=sys.stderr)
        return exc.exit_code
    except EvidockError as exc:
        print(f"evidock: error: {exc.message}", file=sys.stderr)
        if exc.hint:
            print(f"evidock: what to do: {exc.hint}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return ExitCode.INTERRUPTED
    except BrokenPipeError:
        return ExitCode.OK


if __name__ == "__main__":
    sys.exit(main())
