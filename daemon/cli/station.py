"""``evidock run``, ``evidock config check`` and ``evidock status``."""

from __future__ import annotations

import fcntl
import json
import os
import time

from evidock.daemon import config as config_mod
from evidock.daemon.cli.output import human_bytes, json_lines, make_console, table
from evidock.daemon.config import Config


def cmd_run(args, config: Config) -> int:
    from evidock.daemon.logging import configure
    from evidock.daemon.service import Station

    configure(config.log.level, config.log.format)
    return Station(config, until_idle=args.until_idle).run()


def cmd_config_check(args, config: Config) -> int:
    doc = config_mod.effective(config)
    if args.json:
        json_lines([doc])
    else:
        print(f"# configuration is valid; read from: {config.source}")
        print(_to_toml(doc))
    return 0


def _to_toml(doc: dict, prefix: str = "") -> str:
    """Enough TOML to show the effective configuration (tables of scalars and lists)."""
    lines, tables = [], []
    for key, value in doc.items():
        if isinstance(value, dict):
            tables.append((key, value))
        elif value is not None:
            lines.append(f"{key} = {json.dumps(value, ensure_ascii=False)}")
    out = "\n".join(lines)
    for key, value in tables:
        name = f"{prefix}{key}"
        out += f"\n\n[{name}]\n" + _to_toml(value, name + ".")
    return out.strip("\n")


def daemon_running(config: Config) -> bool:
    """The daemon holds an exclusive lock on run/daemon.lock for as long as it lives."""
    try:
        fd = os.open(config.run_dir / "daemon.lock", os.O_RDONLY)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        return False
    except BlockingIOError:
        return True
    finally:
        os.close(fd)


def cmd_status(args, config: Config) -> int:
    path = config.run_dir / "status.json"
    try:
        status = json.loads(path.read_text())
    except FileNotFoundError:
        status = None
    from evidock.daemon.service import open_ledger

    counts = open_ledger(config).counts()
    fresh = (status is not None and daemon_running(config)
             and time.time() - status.get("updated", 0) < 10)
    if args.json:
        json_lines([{"running": fresh, "ledger": counts, **(status or {})}])
        return 0
    console = make_console()
    console.print(f"station daemon: {'running' if fresh else 'not running'}; ledger: "
                  + ", ".join(f"{n} {s}" for s, n in sorted(counts.items())))
    if status and fresh:
        table("devices", ["serial", "officer", "files", "bytes", "rate", "ETA", "state"],
              ([d["serial"],
                d["officer_id"] or ("" if d.get("registered", True) else "unregistered"),
                f"{d['files_done']}/{d['files_total']}",
                f"{human_bytes(d['bytes_done'])} / {human_bytes(d['bytes_total'])}",
                f"{human_bytes(d['rate_bps'])}/s",
                "" if d["eta_s"] is None else f"{d['eta_s']} s",
                "safe to undock" if d["safe_to_undock"] else
                ("FAILED files: see evidock ledger list --state failed" if d["files_failed"]
                 else "UNREADABLE files or folders: dock again or check the device"
                 if d.get("unreadable") else "reading - do not undock")]
               for d in status["devices"]), console=console)
    spool = (status or {}).get("store") if fresh else None
    if spool:
        age = spool["spool_oldest_age_s"]
        console.print(
            f"S3: {'DOWN, recordings go to the spool' if spool['primary_down'] else 'up'}; "
            f"spool: {spool['spool_files']} files, {human_bytes(spool['spool_bytes'])} of "
            f"{human_bytes(spool['spool_max_bytes'])}"
            + ("" if age is None else f", oldest waiting {age // 60} min"))
    return 0
