"""How commands print: JSON lines for scripts, tables for people."""

from __future__ import annotations

import json
import re
import shlex
import sys
from collections.abc import Iterable
from datetime import datetime
from zoneinfo import ZoneInfo

from rich.console import Console
from rich.table import Table


def json_lines(rows: Iterable[dict], stream=None) -> None:
    stream = stream or sys.stdout
    for row in rows:
        stream.write(json.dumps(row, ensure_ascii=False, sort_keys=True) + "\n")


def make_console() -> Console:
    """On a terminal, its width; into a pipe or file, wide enough not to fold ids and paths."""
    return Console(soft_wrap=False, width=None if sys.stdout.isatty() else 250)


def make_table(title: str | None, columns: list[str], rows: Iterable[Iterable]) -> Table:
    t = Table(title=title, header_style="bold", show_lines=False)
    for col in columns:
        t.add_column(col, overflow="fold")
    for row in rows:
        t.add_row(*("" if v is None else str(v) for v in row))
    return t


def table(title: str | None, columns: list[str], rows: Iterable[Iterable], *, console=None) -> None:
    (console or make_console()).print(make_table(title, columns, rows))


def human_duration(seconds: float | None) -> str:
    if seconds is None:
        return ""
    seconds = int(seconds)
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


def human_bytes(n: int | None) -> str:
    if n is None:
        return ""
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{n} B"


def local_time(text: str | None, zone: ZoneInfo | None) -> str:
    """A ledger time (UTC) as people read it: in the station's zone, with its offset, to the
    second (``2026-03-01 17:00:00 +08:00``); ``zone`` None is this machine's zone."""
    if not text:
        return ""
    try:
        dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return text  # not a time after all: show it as it is
    local = dt.astimezone(zone) if dt.tzinfo else dt
    offset = local.strftime("%z")
    return local.strftime("%Y-%m-%d %H:%M:%S") + (f" {offset[:3]}:{offset[3:]}" if offset else "")


_COMMAND = re.compile(r"([`'])(evidock [^`'\n]+)\1")


def follow_up(text: str, args) -> str:
    """Commands quoted in ``text`` (`` `evidock ...` `` or ``'evidock ...'``) with the
    ``--config`` and ``--data-dir`` this command was given, so they can be copied as they are
    and act on the same station."""
    extra = [f"{flag} {shlex.quote(str(value))}" for flag, value in
             (("--config", getattr(args, "config", None)),
              ("--data-dir", getattr(args, "data_dir", None))) if value]
    if not extra:
        return text

    def add(match: re.Match) -> str:
        quote, command = match.groups()
        missing = [e for e in extra if e.split()[0] not in command]
        return f"{quote}{' '.join([command, *missing])}{quote}"

    return _COMMAND.sub(add, text)
