"""The ``evidock`` command.  Every command that touches the ledger takes ``--config`` and
``--data-dir`` the same way; errors print what to do and exit with their class's code."""

from __future__ import annotations

import argparse
import os
import sys
from importlib import metadata

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
from evidock.daemon.cli.output import follow_up
from evidock.daemon.errors import ConfigError, EvidockError, ExitCode


def _global_options(parser: argparse.ArgumentParser) -> None:
    """``--config`` and ``--data-dir``, before or after the command.  SUPPRESS: a command's
    parser sets them only when given there, so one given before the command is kept."""
    parser.add_argument("--config", metavar="PATH", default=argparse.SUPPRESS,
                        help="configuration file (default: $EVIDOCK_CONFIG, then "
                             "/etc/evidock/evidock.toml, then embedded defaults)")
    parser.add_argument("--data-dir", metavar="DIR", default=argparse.SUPPRESS,
                        help="override station.data_dir (ledger, local store, run files)")


def version() -> str:
    try:
        return metadata.version("evidock")
    except metadata.PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown (not installed)"


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    _global_options(common)

    parser = argparse.ArgumentParser(
        prog="evidock",
        description="Evidence-media ingestion for body-worn cameras and recorders.")
    parser.add_argument("--version", action="version", version=f"evidock {version()}")
    _global_options(parser)
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
                    help="exit once every file found is handed over (status 1, naming them, if "
                         "any was not); reads only --watch folders (or [watch] folders) "
                         "and, with --usb, docked cameras")
    rp.add_argument("--no-derivatives", action="store_true",
                    help="make no review derivatives (proxies, posters); overrides "
                         "derivatives.enabled")
    rp.set_defaults(func=station_cli.cmd_run)

    cp = sub.add_parser("config", parents=[common], help="configuration")
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

    comp = sub.add_parser("completion", help="print a shell completion script",
                          description="bash: evidock completion bash > "
                          "/etc/bash_completion.d/evidock; zsh: evidock completion zsh > "
                          "\"${fpath[1]}/_evidock\"")
    comp.add_argument("shell", choices=["bash", "zsh", "tcsh"])
    comp.set_defaults(func=_completion, needs_config=False)
    return parser


def _completion(args, _config) -> int:
    import shtab  # made from this parser, so it never lags behind the commands

    print(shtab.complete(build_parser(), shell=args.shell))
    return ExitCode.OK


def load_config(args) -> config_mod.Config:
    overrides = {}
    if getattr(args, "data_dir", None):
        overrides["station.data_dir"] = args.data_dir
    if getattr(args, "watch", None):
        # A named folder means that folder only: a script meant for a folder must never
        # read a camera (or any USB disk) that happens to be plugged in.
        overrides["watch.folders"] = args.watch
        overrides["usb.enabled"] = False
    if getattr(args, "until_idle", False):
        # a one-shot run is a script's: it reads what it names, never a disk that is plugged in
        overrides["usb.enabled"] = False
    if getattr(args, "usb", False):
        overrides["usb.enabled"] = True
    if getattr(args, "no_derivatives", False):
        overrides["derivatives.enabled"] = False
    if getattr(args, "settle", None) is not None:
        overrides["watch.settle_seconds"] = args.settle
    return config_mod.load(getattr(args, "config", None), overrides=overrides)


#: what evidock creates (data directory, ledger, stored objects, status) is for the service
#: user and its group only, whatever umask the shell or the unit passed on (0022 gave
#: world-readable evidence); objects are then 0440, the ledger 0640, directories 0750
UMASK = 0o027


def main(argv: list[str] | None = None) -> int:
    os.umask(UMASK)
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        config = load_config(args) if getattr(args, "needs_config", True) else None
        return args.func(args, config)
    except ConfigError as exc:
        print(f"evidock: {exc.message}", file=sys.stderr)
        if exc.hint:
            print(f"evidock: {follow_up(exc.hint, args)}", file=sys.stderr)
        return exc.exit_code
    except EvidockError as exc:
        print(f"evidock: error: {follow_up(exc.message, args)}", file=sys.stderr)
        if exc.hint:
            print(f"evidock: what to do: {follow_up(exc.hint, args)}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return ExitCode.INTERRUPTED
    except BrokenPipeError:
        return ExitCode.OK


if __name__ == "__main__":
    sys.exit(main())
