"""``evidock run``, ``evidock config check`` and ``evidock status``."""

from __future__ import annotations

import fcntl
import json
import os
import time

from rich.console import Group
from rich.live import Live

from evidock.daemon import config as config_mod
from evidock.daemon.cli.output import (
    human_bytes,
    human_duration,
    json_lines,
    make_console,
    make_table,
)
from evidock.daemon.config import Config


def cmd_run(args, config: Config) -> int:
    from evidock.daemon.cli.main import load_config
    from evidock.daemon.logging import configure
    from evidock.daemon.service import Station

    configure(config.log.level, config.log.format)
    return Station(config, until_idle=args.until_idle,
                   reload=lambda: load_config(args)).run()


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
    if args.json:
        json_lines([_status_doc(config)])
        return 0
    console = make_console()
    if not args.follow:
        console.print(Group(*_status_view(_status_doc(config))))
        return 0
    if not console.is_terminal:
        # into a pipe or a log: a live view would print nothing until it ends, so a
        # snapshot every second, each headed by its time, flushed as it is made
        while True:  # until Ctrl-C or SIGPIPE (main() turns those into exit statuses)
            console.print(f"--- {time.strftime('%Y-%m-%d %H:%M:%S %z')}", highlight=False)
            console.print(Group(*_status_view(_status_doc(config))))
            console.file.flush()
            time.sleep(1)
    with Live(console=console, refresh_per_second=2, screen=False) as live:
        while True:  # until Ctrl-C (main() turns that into exit status 130)
            live.update(Group(*_status_view(_status_doc(config))))
            time.sleep(1)


def _status_doc(config: Config) -> dict:
    path = config.run_dir / "status.json"
    try:
        status = json.loads(path.read_text())
    except (FileNotFoundError, ValueError):  # ValueError: caught mid-replace on a slow disk
        status = None
    from evidock.daemon.wiring import Wiring

    ledger = Wiring(config).ledger
    counts = ledger.counts()
    derivatives = ledger.derivative_counts()
    fresh = (status is not None and daemon_running(config)
             and time.time() - status.get("updated", 0) < 10)
    return {"running": fresh, "ledger": counts, "derivatives": derivatives,
            **((status or {}) if fresh else {})}


def _device_state(d: dict) -> str:
    if d["safe_to_undock"]:
        return "[bold green]safe to undock[/]"
    if d["files_failed"]:
        return "[bold red]FAILED files: see evidock ledger list --state failed[/]"
    if d.get("unreadable"):
        return "[bold red]UNREADABLE files or folders: dock again or check the device[/]"
    if not d.get("docked", True):
        return "[yellow]undocked before all was read: dock it again[/]"
    return "[yellow]reading - do not undock[/]"


def _health_lines(doc: dict) -> list[str]:
    """A paused pipeline, and any worker or thread that is dead or stuck."""
    lines = []
    if paused := doc.get("paused"):
        lines.append(f"[bold red]ingest PAUSED[/]: the {paused['cause']} failed "
                     f"({paused['error']}); it resumes by itself once that is fixed")
    for w in doc.get("workers", []):
        if not w["alive"]:
            lines.append(f"[bold red]worker {w['name']} is DEAD[/] (it is started again)")
        elif w["stuck"]:
            lines.append(f"[bold red]worker {w['name']} is STUCK[/] on recording "
                         f"{w['media_id']}: no progress for {w['last_beat_age_s']:.0f} s")
    for name, alive in doc.get("threads", {}).items():
        if not alive:
            lines.append(f"[bold red]thread {name} is DEAD[/]")
    return lines


def _status_view(doc: dict) -> list:
    """What an officer at the station needs: per device, how far, how long, may I unplug."""
    counts = doc["ledger"]
    view = [f"station daemon: {'running' if doc['running'] else 'not running'}; ledger: "
            + (", ".join(f"{n} {s}" for s, n in sorted(counts.items())) or "empty")]
    if doc["running"]:
        view.append(make_table(
            "devices", ["serial", "officer", "files", "bytes", "rate", "ETA", "state"],
            ([d["serial"],
              d["officer_id"] or ("" if d.get("registered", True) else "unregistered"),
              f"{d['files_done']}/{d['files_total']}",
              f"{human_bytes(d['bytes_done'])} / {human_bytes(d['bytes_total'])}",
              f"{human_bytes(d['rate_bps'])}/s", human_duration(d["eta_s"]),
              _device_state(d)] for d in doc.get("devices", []))))
        if "rate_bps" in doc:
            view.append(f"reading {human_bytes(doc['rate_bps'])}/s from all devices "
                        "(last 5 s)")
    if doc["running"]:
        view += _health_lines(doc)
    queue = doc.get("derivatives")
    if queue:
        view.append(f"derivatives: {queue['pending'] + queue['running']} in the queue "
                    f"({queue['running']} running), {queue['done']} done, {queue['failed']} "
                    "failed" + (f"; oldest waiting since {queue['oldest_pending']}"
                                if queue["oldest_pending"] else ""))
    spool = doc.get("store")
    if spool:
        age = spool["spool_oldest_age_s"]
        view.append(
            f"S3: {'DOWN, recordings go to the spool' if spool['primary_down'] else 'up'}; "
            f"spool: {spool['spool_files']} files, {human_bytes(spool['spool_bytes'])} of "
            f"{human_bytes(spool['spool_max_bytes'])}"
            + ("" if age is None else f", oldest waiting {human_duration(age)}"))
    return view
