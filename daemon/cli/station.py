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
)
from evidock.daemon.config import Config
from evidock.daemon.tiles import docked_per_ledger, tiles


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
    doc = {"running": fresh, "ledger": counts, "derivatives": derivatives,
           **((status or {}) if fresh else {}),
           "station": config.station.id, "station_name": config.station.display_name}
    if not fresh:
        # nobody reads the docked devices now: whatever the ledger last saw docked must stay
        doc["devices"] = docked_per_ledger(ledger.devices())
    doc["tiles"] = tiles(doc, config.station.slots)
    return doc


#: what each state says in a terminal (the kiosk words them from its catalogue)
STATE_TEXT = {
    "reading": "[yellow]reading: do not undock[/]",
    "safe": "[bold green]safe to undock[/]",
    "done": "[green]handed over, undocked[/]",
    "failed": "[bold red]FAILED: dock it again[/]",
    "unknown": "[bold]unknown device: not read[/]",
    "stopped": "[bold red]station not running: do not undock[/]",
}
REASON_TEXT = {
    "undocked_early": "it was undocked before every recording was read",
    "read_failed": "some recordings could not be read from it "
                   "(evidock ledger list --state failed)",
    "store_failed": "the store did not accept some recordings "
                    "(evidock ledger list --state failed)",
    "unreadable_files": "some files or folders on it could not be read",
    "device_unreadable": "its volume could not be mounted or read",
    "not_a_camera": "not a camera evidock knows (no profile, or no file system it reads)",
}


def _tile_state(t: dict) -> str:
    text = STATE_TEXT[t["state"]]
    return f"{text}: {REASON_TEXT[t['reason']]}" if t["reason"] else text


def _tile_row(t: dict) -> list[str]:
    who = " ".join(x for x in (t["officer_name"], t["officer_id"] and f"({t['officer_id']})")
                   if x)
    if not who and t["kind"] == "device":
        who = "no officer assigned" if t["registered"] else "unregistered"
    device = " ".join(x for x in (t["serial"], t["model"]) if x)
    progress = ""
    if t["files_total"] is not None and t["state"] != "stopped":
        progress = (f"{t['files_done']}/{t['files_total']} files, "
                    f"{human_bytes(t['bytes_done'])} / {human_bytes(t['bytes_total'])}")
        if t["state"] == "reading" and t["rate_bps"]:
            progress += f", {human_bytes(t['rate_bps'])}/s"
            if t["eta_s"] is not None:
                progress += f", {human_duration(t['eta_s'])} left"
    return [t["slot"], who, device, progress, _tile_state(t)]


def _device_table(tiles_: list[dict]):
    """Per device: slot, who, which device, how far, may I unplug.  No cell is cut inside a
    word on an 80-column terminal: a column is never narrower than its longest word."""
    from rich.table import Table
    from rich.text import Text

    rows = [_tile_row(t) for t in tiles_]
    headers = ["slot", "officer", "device", "progress", "state"]
    table = Table(title="devices", header_style="bold", show_lines=False)
    for i, header in enumerate(headers):
        words = [w for row in rows for w in Text.from_markup(row[i]).plain.split()]
        table.add_column(header, min_width=max([len(header), *map(len, words)]),
                         overflow="fold", ratio=3 if header == "state" else None)
    for row in rows:
        table.add_row(*row)
    return table


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
    name = doc.get("station_name") or doc.get("station") or ""
    station = f"station {name}" + (f" ({doc['station']})" if doc.get("station") not in
                                   (None, name) else "")
    state = "running" if doc["running"] else "[bold red]NOT RUNNING[/]"
    view = [f"{station}: {state}; ledger: "
            + (", ".join(f"{n} {s}" for s, n in sorted(counts.items())) or "empty")]
    if not doc["running"] and doc["tiles"]:
        view.append("[bold red]the daemon is not running: leave every docked camera in its "
                    "dock[/] and start it (systemctl start evidock)")
    if doc["tiles"]:
        view.append(_device_table(doc["tiles"]))
    elif doc["running"]:
        view.append("no camera docked")
    if doc["running"] and doc.get("rate_bps"):
        view.append(f"reading {human_bytes(doc['rate_bps'])}/s from all devices (last 10 s)")
    if (web := doc.get("web")) is not None:
        view.append(f"kiosk screen: {web['url']}" if web["alive"]
                    else "[bold red]kiosk screen DOWN[/] (the web thread ended)")
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
