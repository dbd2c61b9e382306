"""A real S3 server with Object Lock for the tests: SeaweedFS (`weed mini`) on 127.0.0.1.

One server per test session, on free ports, in a throw-away directory; each test class (or module)
gets its own bucket.  The start/stop logic lives in ``tools/s3-test-server`` so people can run the
same server by hand.  Without the ``weed`` program the tests are skipped with the reason, except in
CI (``CI=true``), where a missing server is a failure.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import itertools
import os
import uuid
from pathlib import Path

import pytest

_TOOL = Path(__file__).resolve().parent.parent / "tools" / "s3-test-server"
_buckets = itertools.count()


def load_tool():
    """The ``tools/s3-test-server`` script as a module (it has no .py suffix)."""
    loader = importlib.machinery.SourceFileLoader("evidock_s3_test_server", str(_TOOL))
    spec = importlib.util.spec_from_loader(loader.name, loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


def start_server(data_dir: Path):
    """A started TestServer, or skip (fail in CI) with what to install."""
    tool = load_tool()
    try:
        tool.find_weed()
    except FileNotFoundError as exc:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(f"CI must run the S3 tests: {exc}")
        pytest.skip(str(exc))
    return tool.TestServer(data_dir).start()


def module_server(label: str, *, bucket: str | None = None):
    """The ``server`` and ``up`` fixtures of a module whose tests stop and restart a server of
    their own (outages): ``server, up = module_server("s3-outage")``.  ``up`` starts it again
    when a test left it stopped; ``bucket`` is made with Object Lock once."""

    @pytest.fixture(scope="module", name="server")
    def server(tmp_path_factory):
        started = start_server(tmp_path_factory.mktemp(label))
        if bucket:
            started.make_lock_bucket(bucket)
        yield started
        started.stop(timeout=5)

    @pytest.fixture(name="up")
    def up(server):
        if server.proc is None:
            server.start()
        return server

    return server, up


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory):
    server = start_server(tmp_path_factory.mktemp("s3-server"))
    yield server
    server.stop(timeout=5)


@pytest.fixture(scope="session")
def s3_client(s3_server):
    return s3_client_for(s3_server)


def s3_client_for(server):
    from minio import Minio

    from evidock.daemon.store.s3_wire import http_client

    return Minio(server.endpoint, access_key=server.access_key, secret_key=server.secret_key,
                 secure=False, region="us-east-1", http_client=http_client(timeout=10))


@pytest.fixture(scope="class")
def s3_bucket(s3_server) -> str:
    """A fresh bucket with versioning and Object Lock (no default rule) for each class/module."""
    return s3_server.make_lock_bucket(f"evidock-{next(_buckets)}-{uuid.uuid4().hex[:8]}")
