"""Dates, checksums and error classes of the S3 store, without a server."""

from __future__ import annotations

import http.server
import io
import threading
from datetime import UTC, datetime

import pytest
import urllib3.exceptions
from minio import Minio
from minio.error import S3Error, ServerError

from evidock.daemon.errors import (
    ObjectConflict,
    ObjectMissing,
    StoreError,
    StoreMisconfigured,
    StoreUnavailable,
)
from evidock.daemon.store.s3_wire import http_client, parse_s3_time, s3_time, store_error


@pytest.mark.parametrize("text", [
    "2028-11-22T19:06:48Z",
    "2028-11-22T19:06:48.000Z",
    "2028-11-22T19:06:48.123456789Z",  # Ceph RGW sends nanoseconds
    "2028-11-22T20:06:48.5+01:00",
])
def test_retain_until_dates_parse_with_any_precision(text):
    got = parse_s3_time(text)
    assert datetime(2028, 11, 22, 19, 6, 48, tzinfo=UTC) == got.replace(microsecond=0)


def test_an_unparsable_date_is_a_clear_error():
    with pytest.raises(ValueError, match="not an ISO 8601 time"):
        parse_s3_time("yesterday")


def test_retain_until_is_sent_rounded_up_to_the_millisecond():
    value = datetime(2028, 1, 1, 0, 0, 0, 999_001, tzinfo=UTC)
    assert "2028-01-01T00:00:01.000Z" == s3_time(value)
    assert "2028-01-01T00:00:00.500Z" == s3_time(value.replace(microsecond=500_000))


class _Response:
    def __init__(self, status):
        self.status = status


def s3_error(code: str, status: int) -> S3Error:
    return S3Error(_Response(status), code, "message", "/b/k", "req", "host", "b", "k")


@pytest.mark.parametrize("code,status,kind", [
    ("SlowDown", 503, StoreUnavailable),
    ("InternalError", 500, StoreUnavailable),
    ("XMinioStorageFull", 507, StoreUnavailable),
    ("SomethingNew", 502, StoreUnavailable),
    ("NoSuchKey", 404, ObjectMissing),
    ("PreconditionFailed", 412, ObjectConflict),
    ("AccessDenied", 403, StoreMisconfigured),
    ("NoSuchBucket", 404, StoreMisconfigured),
    ("InvalidArgument", 400, StoreError),
])
def test_server_errors_map_to_what_the_caller_must_do(code, status, kind):
    got = store_error(s3_error(code, status), "uploading clip.mp4")
    assert kind is type(got)
    assert "uploading clip.mp4" in str(got)


def test_connection_failures_are_store_unavailable():
    exc = urllib3.exceptions.MaxRetryError(None, "/", reason=ConnectionRefusedError())
    assert StoreUnavailable is type(store_error(exc, "x"))
    assert StoreUnavailable is type(store_error(ServerError("bad gateway", 502), "x"))


def test_an_unrelated_exception_is_not_swallowed():
    with pytest.raises(ZeroDivisionError):
        store_error(ZeroDivisionError(), "x")


class _Failing(http.server.BaseHTTPRequestHandler):
    """An S3 endpoint that answers every request with the error a full SeaweedFS sends."""
    BODY = (b'<?xml version="1.0" encoding="UTF-8"?><Error><Code>InternalError</Code>'
            b"<Message>No writable volumes and no free volumes left</Message>"
            b"<Resource>/b/k</Resource><RequestId>1</RequestId></Error>")
    hits = 0

    def _fail(self):
        type(self).hits += 1
        self.send_response(500)
        self.send_header("Content-Type", "application/xml")
        self.send_header("Content-Length", str(len(self.BODY)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(self.BODY)

    do_GET = do_PUT = do_HEAD = do_POST = _fail

    def log_message(self, *args):
        pass


def test_a_server_failing_past_the_retries_is_reported_in_its_own_words():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Failing)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        client = Minio(f"127.0.0.1:{server.server_port}", access_key="a", secret_key="b",
                       secure=False, region="us-east-1", http_client=http_client(retries=2))
        with pytest.raises(Exception) as caught:
            client.put_object("evidence", "k", io.BytesIO(b"x"), 1)
        got = store_error(caught.value, "uploading clip.mp4")
    finally:
        server.shutdown()
    assert StoreUnavailable is type(got)
    assert "No writable volumes" in str(got) and "cannot reach" not in str(got)
    assert 3 == _Failing.hits  # the first try and two retries, then the answer is kept
