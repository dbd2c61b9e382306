"""How commands print: JSON lines for scripts, tables for people."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable

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
