"""What the S3 store says to the server: one streamed upload, error classes, dates, checksums.

:func:`upload_parts` pulls a :class:`HashingReader` to its end once, in parts of ``part_size``
bytes, and sends each part with its SHA-256 (``x-amz-checksum-sha256``) so the server refuses a
part whose bytes changed on the way; its parts go out ``concurrency`` at a time.  A stream that
fits in one part goes up as one PutObject (:func:`put_whole`) with the checksum of the whole
object, which is the reader's SHA-256: the bytes are hashed once here, and once by the server.
The minio SDK has no checksum argument in this version, so the parts and the final
CompleteMultipartUpload (which must list each part's checksum)
go through the SDK's signed request methods.
"""

from __future__ import annotations

import base64
import hashlib
import re
import threading
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from xml.etree.ElementTree import Element, SubElement, tostring

import urllib3.exceptions
from minio import Minio
from minio.error import InvalidResponseError, MinioException, S3Error, ServerError
from minio.helpers import md5sum_hash

from evidock.daemon.errors import (
    EvidockError,
    IntegrityError,
    ObjectConflict,
    ObjectMissing,
    StoreError,
    StoreMisconfigured,
    StoreUnavailable,
)
from evidock.daemon.hashing import HashingReader

MiB = 1 << 20
MIN_PART = 5 * MiB  # S3's smallest part but the last
_MISSING = {"NoSuchKey", "NoSuchVersion", "NoSuchObjectLockConfiguration", "ResourceNotFound"}
_BUSY = {"SlowDown", "ServiceUnavailable", "InternalError", "RequestTimeout", "XMinioStorageFull",
         "XMinioServerNotInitialized", "QuotaExceeded", "InsufficientStorage", "OperationAborted",
         "ServerBusy"}
_SETUP = {"AccessDenied", "NoSuchBucket", "InvalidAccessKeyId", "SignatureDoesNotMatch",
          "InvalidBucketState", "ObjectLockConfigurationNotFoundError", "MissingContentMD5",
          "InvalidToken", "ExpiredToken", "AuthorizationHeaderMalformed",
          "RequestTimeTooSkewed"}  # the station's clock is wrong: a set-up problem too
_CONFLICT = {"PreconditionFailed", "ConditionalRequestConflict"}
#: the server hashed what it received and it is not what the checksum header says
_DIGEST = {"BadDigest", "InvalidDigest", "XAmzContentChecksumMismatch",
           "XAmzContentSHA256Mismatch"}


def store_error(exc: BaseException, doing: str) -> StoreError:
    """The evidock error for an SDK or network failure while ``doing`` something.

    Only the store's own failures are classed here: any other evidock error (a device that
    vanished while its stream was sent) is raised again unchanged, never relabelled."""
    if isinstance(exc, StoreError):
        return exc
    if isinstance(exc, EvidockError):
        raise exc
    if isinstance(exc, S3Error):
        code, status = exc.code or "", exc.response.status if exc.response else 0
        text = f"S3 {doing}: {code} ({exc.message})"
        if code in _MISSING or (status == 404 and code not in _SETUP):
            return ObjectMissing(text)
        if code in _DIGEST:
            return IntegrityError(text, hint="the bytes S3 received are not the bytes read; "
                                  "nothing was stored and the file is retried")
        if code in _CONFLICT:
            return ObjectConflict(text, hint="another writer changed the key at the same time")
        if code in _SETUP:
            return StoreMisconfigured(
                text, hint="check the bucket, its Object Lock set-up and the daemon's S3 policy "
                "with `evidock doctor`")
        if code in _BUSY or status >= 500 or status == 429:
            return StoreUnavailable(text, hint="the S3 server is busy, full or failing; the file "
                                    "is retried or spooled")
        return StoreError(text)
    if isinstance(exc, (ServerError, InvalidResponseError)):
        return StoreUnavailable(f"S3 {doing}: {exc}", hint="the S3 server or a proxy failed; "
                                "the file is retried or spooled")
    if isinstance(exc, (urllib3.exceptions.HTTPError, OSError)):
        return StoreUnavailable(f"S3 {doing}: cannot reach the server: {exc}",
                                hint="check the network and the endpoint; the file is retried or "
                                "spooled")
    if isinstance(exc, MinioException):
        return StoreError(f"S3 {doing}: {exc}")
    raise exc


_NANOS = re.compile(r"^(.*T\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:?\d\d)?$")


def parse_s3_time(value: str) -> datetime:
    """An ISO 8601 time as servers send it: Z or an offset, 0 to 9 fractional digits."""
    match = _NANOS.match(value.strip())
    if not match:
        raise ValueError(f"not an ISO 8601 time: {value!r}")
    head, frac, zone = match.groups()
    micros = (frac or "").ljust(6, "0")[:6]
    zone = "+00:00" if zone in (None, "Z") else zone
    return datetime.fromisoformat(f"{head}.{micros}{zone}").astimezone(UTC)


def s3_time(value: datetime) -> str:
    """Retain-until dates are sent in whole milliseconds, rounded up so a lock is never shorter."""
    value = value.astimezone(UTC)
    if value.microsecond % 1000:
        value += timedelta(microseconds=1000 - value.microsecond % 1000)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def b64(digest: bytes) -> str:
    return base64.b64encode(digest).decode()


@dataclass(frozen=True)
class Uploaded:
    """A staged upload: what we sent and what the server answered."""

    key: str
    version_id: str | None
    size: int
    sha256: str  # hex, of the whole stream (the reader's digest; each part's is checked by S3)
    checksum: str  # the S3 checksum value the server must report: whole-object or composite "-N"


def lock_headers(retain_until: datetime) -> dict[str, str]:
    return {"x-amz-object-lock-mode": "COMPLIANCE",
            "x-amz-object-lock-retain-until-date": s3_time(retain_until)}


def _read_part(stream: HashingReader, size: int) -> bytes:
    chunks, have = [], 0
    while have < size:
        chunk = stream.read(min(stream.chunk_size, size - have))
        if not chunk:
            break
        chunks.append(chunk)
        have += len(chunk)
    return b"".join(chunks)


def read_part(stream: HashingReader, size: int) -> bytes:
    """Up to ``size`` bytes of ``stream`` (fewer only at its end)."""
    return _read_part(stream, size)


def put_whole(client: Minio, bucket: str, key: str, data: bytes, sha256_hex: str,
              headers: dict[str, str]):
    """One PutObject of ``data`` with its SHA-256 (``x-amz-checksum-sha256``): the server
    refuses the request if the bytes it received hash otherwise.  ``sha256_hex`` is the
    reader's digest of exactly these bytes, so no second SHA-256 pass is made here."""
    checksum = b64(bytes.fromhex(sha256_hex))
    response = client._put_object(bucket, key, data, {**headers, "x-amz-checksum-sha256": checksum})
    return response, checksum


def upload_parts(client: Minio, pool: ThreadPoolExecutor, bucket: str, key: str,
                 stream: HashingReader, first: bytes, nxt: bytes, *, part_size: int,
                 concurrency: int, headers: dict[str, str],
                 budget: threading.Semaphore | None = None) -> Uploaded:
    """A multipart upload of ``first``, ``nxt`` and the rest of ``stream``, reading it once,
    ``concurrency`` parts in flight (memory: about ``concurrency + 2`` parts); abort what was
    sent if anything fails.  ``budget``, shared by every upload of a store, bounds the parts
    in flight of all of them together, so many readers at once cannot multiply the memory.
    Each part's SHA-256 is computed here from the bytes sent (the server checks it); the
    whole stream's SHA-256 is the reader's."""
    upload_id = client._create_multipart_upload(
        bucket, key, {**headers, "x-amz-checksum-algorithm": "SHA256"})
    try:
        parts: list[tuple[int, str, bytes]] = []
        pending: deque[Future] = deque()
        number, size, data = 0, 0, first
        while data:
            number += 1
            size += len(data)
            if budget is not None:
                budget.acquire()
            try:
                future = pool.submit(_send_part, client, bucket, key, upload_id, number, data)
            except BaseException:
                if budget is not None:
                    budget.release()
                raise
            if budget is not None:
                future.add_done_callback(lambda _f: budget.release())
            pending.append(future)
            while len(pending) >= concurrency:
                parts.append(pending.popleft().result())
            data, nxt = nxt, (_read_part(stream, part_size) if nxt else b"")
        while pending:
            parts.append(pending.popleft().result())
        stream.read()  # the verified end, before anything is committed
        response = _complete(client, bucket, key, upload_id, parts)
    except BaseException:
        for future in pending:
            future.cancel()
        _abort(client, bucket, key, upload_id)
        raise
    composite = b64(hashlib.sha256(b"".join(d for _, _, d in parts)).digest())
    return Uploaded(key, response.headers.get("x-amz-version-id"), size,
                    stream.digests().sha256, f"{composite}-{len(parts)}")


def _send_part(client: Minio, bucket: str, key: str, upload_id: str, number: int,
               data: bytes) -> tuple[int, str, bytes]:
    digest = hashlib.sha256(data).digest()
    result = client._put_object(bucket, key, data, {"x-amz-checksum-sha256": b64(digest)},
                                query_params={"partNumber": str(number), "uploadId": upload_id})
    return number, result.etag, digest


def _complete(client: Minio, bucket: str, key: str, upload_id: str,
              parts: list[tuple[int, str, bytes]]):
    root = Element("CompleteMultipartUpload")
    for number, etag, digest in parts:
        part = SubElement(root, "Part")
        SubElement(part, "PartNumber").text = str(number)
        SubElement(part, "ETag").text = f'"{etag}"'
        SubElement(part, "ChecksumSHA256").text = b64(digest)
    body = tostring(root)
    response = client._execute(
        "POST", bucket, key, body=body, query_params={"uploadId": upload_id},
        headers={"Content-Type": "application/xml", "Content-MD5": md5sum_hash(body)})
    if b"<Error>" in response.data:  # S3 may answer 200 and put the error in the body
        raise StoreUnavailable(f"S3 completing the upload of {key} failed: "
                               f"{response.data[:300].decode(errors='replace')}")
    return response


def _abort(client: Minio, bucket: str, key: str, upload_id: str) -> None:
    """Best effort: an upload left behind is aborted by ``recover()`` or a lifecycle rule."""
    try:
        client._abort_multipart_upload(bucket, key, upload_id)
    except (MinioException, urllib3.exceptions.HTTPError, OSError):
        pass


def http_client(*, ca_bundle: str | None = None, timeout: float = 30, retries: int = 2,
                pool_size: int = 8) -> urllib3.PoolManager:
    """The connection pool for the SDK: bounded timeouts and few retries, so that an outage
    turns into ``StoreUnavailable`` within seconds and the spool takes over."""
    import certifi

    return urllib3.PoolManager(
        timeout=urllib3.Timeout(connect=min(timeout, 10), read=timeout), maxsize=pool_size,
        cert_reqs="CERT_REQUIRED", ca_certs=ca_bundle or certifi.where(),
        # Retry what never reached the server (connect) or what it refused (5xx), never a
        # request whose answer was lost after sending (read): a resent copy is a new version.
        retries=urllib3.Retry(total=retries, connect=retries, status=retries, read=0, other=0,
                              backoff_factor=0.5, status_forcelist=[500, 502, 503, 504],
                              allowed_methods=None,
                              # the last 5xx comes back as the server's own error (its code and
                              # message: "no free volumes"), not as "cannot reach the server"
                              raise_on_status=False))
