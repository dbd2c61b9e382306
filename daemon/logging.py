"""structlog set-up: JSON lines for machines, colour for a person at a terminal.

Under systemd (stderr is the journal's stream: ``$JOURNAL_STREAM``), each line starts with
its syslog priority (``<3>`` error ... ``<7>`` debug, sd-daemon(3)), which journald strips and
keeps as the entry's PRIORITY: ``journalctl -u evidock -p warning`` then shows warnings and
worse.  The field names every event uses are listed in daemon/FORMATS.md ("Log fields").
"""

from __future__ import annotations

import logging
import os
import sys

import structlog

from evidock.daemon.redact import redact_values


def _redact(_logger, _name, event: dict) -> dict:
    """No URL in a log line keeps its password or token (journald keeps what it is given)."""
    return redact_values(event)


#: structlog level -> syslog priority (journald's PRIORITY)
PRIORITY = {"critical": 2, "exception": 3, "error": 3, "warning": 4, "info": 6, "debug": 7}


def to_journal(stream) -> bool:
    """Whether ``stream`` is the journal's stream systemd connected (``$JOURNAL_STREAM`` is
    its ``device:inode``); a pipe or file the daemon's output was redirected to is not."""
    want = os.environ.get("JOURNAL_STREAM", "")
    try:
        st = os.fstat(stream.fileno())
    except (AttributeError, OSError, ValueError):
        return False
    return want == f"{st.st_dev}:{st.st_ino}"


def _with_priority(renderer):
    def render(logger, name, event: dict) -> str:
        priority = PRIORITY.get(event.get("level", "info"), 6)
        return f"<{priority}>{renderer(logger, name, event)}"
    return render


def configure(level: str = "info", fmt: str = "auto", stream=None) -> None:
    stream = stream or sys.stderr
    as_json = fmt == "json" or (fmt == "auto" and not stream.isatty())
    renderer = (structlog.processors.JSONRenderer(ensure_ascii=False) if as_json
                else structlog.dev.ConsoleRenderer(colors=stream.isatty()))
    if to_journal(stream):
        renderer = _with_priority(renderer)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.StackInfoRenderer(),
            structlog.processors.format_exc_info if as_json else structlog.dev.set_exc_info,
            _redact,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(
            getattr(logging, level.upper(), logging.INFO)),
        logger_factory=structlog.PrintLoggerFactory(stream),
        cache_logger_on_first_use=False,
    )
