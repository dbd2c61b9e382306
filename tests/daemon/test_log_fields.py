"""One field vocabulary for every log event, written down in daemon/FORMATS.md, and journald
priorities on each line when stderr is the journal's stream."""

from __future__ import annotations

import ast
import os
import re
from pathlib import Path

import structlog

from evidock.daemon import logging as evidock_logging

ROOT = Path(__file__).resolve().parents[2]
LOG_METHODS = {"debug", "info", "warning", "error", "exception", "critical"}


def used_fields() -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for path in [*(ROOT / "daemon").rglob("*.py"), *(ROOT / "drivers").rglob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text())):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr in LOG_METHODS and isinstance(node.func.value, ast.Name)
                    and node.func.value.id in ("log", "method")):
                for kw in node.keywords:
                    if kw.arg:
                        found.setdefault(kw.arg, []).append(
                            f"{path.relative_to(ROOT)}:{node.lineno}")
    return found


def documented_fields() -> set[str]:
    text = (ROOT / "daemon" / "FORMATS.md").read_text().split("## Log fields", 1)[1]
    text = text.split("\n## ", 1)[0]  # that section only
    return {name for row in re.findall(r"^\| (`.+?) \|", text, re.M)
            for name in re.findall(r"`([a-z_0-9]+)`", row)}


def test_every_log_field_is_in_the_written_vocabulary_and_the_list_is_not_stale():
    used, documented = used_fields(), documented_fields()
    assert {} == {k: v for k, v in used.items() if k not in documented}
    assert set() == documented - set(used)
    assert "serial" not in used  # the device is always device_serial


def test_under_systemd_each_line_carries_its_journald_priority(tmp_path, monkeypatch):
    with open(tmp_path / "journal", "w+") as stream:
        st = os.fstat(stream.fileno())
        monkeypatch.setenv("JOURNAL_STREAM", f"{st.st_dev}:{st.st_ino}")
        evidock_logging.configure("debug", "json", stream=stream)
        log = structlog.get_logger("t")
        log.error("store_failed", error="x")
        log.warning("spool_filling")
        log.info("media_handed_over")
        log.debug("poll")
        stream.flush()
        stream.seek(0)
        prefixes = [line[:4] for line in stream.read().splitlines()]
    evidock_logging.configure("info", "json")
    assert ["<3>{", "<4>{", "<6>{", "<7>{"] == prefixes


def test_into_a_plain_file_lines_have_no_prefix(tmp_path, monkeypatch):
    monkeypatch.setenv("JOURNAL_STREAM", "1:1")  # someone else's journal stream
    with open(tmp_path / "log", "w+") as stream:
        evidock_logging.configure("info", "json", stream=stream)
        structlog.get_logger("t").error("store_failed")
        stream.flush()
        stream.seek(0)
        assert stream.read().startswith("{")
    evidock_logging.configure("info", "json")
