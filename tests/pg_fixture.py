"""A real PostgreSQL for the tests: Debian's PostgreSQL 15 on 127.0.0.1, one server per test
session in a throw-away directory; each test gets a schema of its own (a ledger per schema).
The start/stop logic lives in ``tools/pg-test-server``.  Without the server programs the tests
are skipped with the reason, except in CI (``CI=true``), where that is a failure."""

from __future__ import annotations

import importlib.machinery
import importlib.util
import itertools
import os
import shutil
import tempfile
from pathlib import Path

import pytest

_TOOL = Path(__file__).resolve().parent.parent / "tools" / "pg-test-server"
_schemas = itertools.count()


def load_tool():
    """The ``tools/pg-test-server`` script as a module (it has no .py suffix)."""
    loader = importlib.machinery.SourceFileLoader("evidock_pg_test_server", str(_TOOL))
    spec = importlib.util.spec_from_loader(loader.name, loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


def start_server(data_dir: Path):
    tool = load_tool()
    try:
        tool.find_bindir()
    except FileNotFoundError as exc:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(f"CI must run the PostgreSQL tests: {exc}")
        pytest.skip(str(exc))
    return tool.TestServer(data_dir).start()


@pytest.fixture(scope="session")
def pg_server():
    # not under pytest's temporary root: see TestServer.init
    data = Path(tempfile.mkdtemp(prefix="evidock-pg-"))
    try:
        server = start_server(data)
        yield server
        server.stop()
    finally:
        shutil.rmtree(data, ignore_errors=True)


def new_schema(label: str = "t") -> str:
    return f"{label}_{os.getpid()}_{next(_schemas)}"


@pytest.fixture
def pg_schema():
    """A schema name no other test uses (the ledger creates it)."""
    return new_schema()
