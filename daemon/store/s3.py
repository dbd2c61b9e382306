"""The production store: an S3 bucket with versioning and Object Lock in COMPLIANCE mode.

Content keys and a single read do not fit together directly: the key (``media/b3/../<blake3>``)
is known only once the last byte has been read, but a multipart upload must name its key before
the first part goes out.  A recording that fits in one part is the exception: it is in memory
with its digests before anything is sent, so it goes up as one PutObject straight to its content
key with its lock, hold, metadata and checksum (:meth:`S3WormStore._put_direct`).  Every longer
put happens in two steps (daemon/FORMATS.md, "S3 store"):

1. **Stage.** The stream goes up once, as it is read, to ``staging/<station>/<uuid>``, with a
   SHA-256 checksum per part that the server verifies, under a *short* COMPLIANCE lock
   (``staging_retention``, default one day): long enough that nobody can remove the bytes while
   the put runs, short enough that a bucket lifecycle rule clears the prefix afterwards.  Nothing
   in evidock deletes a staged object; ``evidock doctor`` checks that the lifecycle rule exists.
2. **Commit.** With the digests known, the store looks at the content key.  The same bytes there
   already: nothing is written, ``existed=True``, the lock is only ever extended.  Other bytes
   there: ``ObjectConflict``.  Nothing there: a server-side copy creates the content key's one
   version with the recording's retain-until, legal hold and digests, in a single request.

After every commit the store reads back size, checksum, version id, lock mode, retain-until and
legal hold of that version, repairs a dropped lock or hold (some servers ignore lock headers on
copies or multipart uploads) and raises ``RetentionError`` if the server still does not hold it.
The server's checksum must equal the one computed here from the bytes sent (whole-object SHA-256
for one-part objects, the S3 "composite" SHA-256 of the part checksums otherwise).

Why not upload to the content key straight away: the BLAKE3 digest would have to be known first,
which means reading the device twice or copying the file to local disk; and a duplicate upload
would add a second locked version of the same recording for years.  The staging copy costs one
server-side copy and a day of storage instead.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import BinaryIO

import structlog
from minio import Minio
from minio.commonconfig import COMPLIANCE, REPLACE, CopySource
from minio.helpers import MAX_PART_SIZE, genheaders
from minio.retention import Retention

from evidock.daemon.errors import (
    IntegrityError,
    ObjectConflict,
    ObjectMissing,
    RetentionError,
    SourceError,
    StoreUnavailable,
)
from evidock.daemon.hashing import HashingReader
from evidock.daemon.store.base import RECORD_PREFIX, ObjectInfo, StoredObject, check_record_key
from evidock.daemon.store.keys import PREFIX, object_key
from evidock.daemon.store.s3_wire import (
    MIN_PART,
    MiB,
    b64,
    lock_headers,
    parse_s3_time,
    put_whole,
    read_part,
    store_error,
    upload_parts,
)

log = structlog.get_logger("evidock.store.s3")

STAGING = "staging"
META = "x-amz-meta-evidock-"
_SLACK = timedelta(seconds=1)  # servers keep retain-until to the second or millisecond


def _ceil_second(value: datetime) -> datetime:
    value = value.astimezone(UTC)
    return value if not value.microsecond else value.replace(microsecond=0) + timedelta(seconds=1)


@dataclass(frozen=True)
class _Want:
    """The size and SHA-256 a version must have to be ours."""

    size: int
    sha256: str


@dataclass(frozen=True)
class Version:
    """One entry of a key's version history as the server lists it."""

    key: str
    version_id: str | None
    last_modified: datetime
    is_delete_marker: bool
    is_latest: bool


class _Body:
    """A GET response as a closable binary file that gives its connection back."""

    def __init__(self, response) -> None:
        self._response = response

    def read(self, n: int = -1) -> bytes:
        return self._response.read(None if n is None or n < 0 else n)

    def close(self) -> None:
        self._response.close()
        self._response.release_conn()

    def __enter__(self) -> _Body:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class S3WormStore:
    """Content-addressed, write-once objects in an S3 bucket with Object Lock (COMPLIANCE)."""

    def __init__(self, client: Minio, bucket: str, *, station: str = "station",
                 part_size: int = 16 * MiB, concurrency: int = 4,
                 staging_retention: timedelta = timedelta(days=1),
                 min_lock_days: int | None = None) -> None:
        if part_size < MIN_PART:
            raise ValueError(f"part_size {part_size} is below S3's minimum of 5 MiB")
        self.client, self.bucket, self.station = client, bucket, station
        self.part_size, self.concurrency = part_size, max(1, concurrency)
        self.staging_retention = staging_retention
        #: the policy's retention: a bucket default rule shorter than this is a problem
        self.min_lock_days = min_lock_days
        self.name = f"s3:{bucket}"
        self._pool = ThreadPoolExecutor(self.concurrency, thread_name_prefix="s3-part")
        #: parts in flight of every upload together (readers of several devices share it)
        self._budget = threading.BoundedSemaphore(self.concurrency)
        self._key_locks = [threading.Lock() for _ in range(64)]  # striped by key

    # -- put ---------------------------------------------------------------------------------

    def sync(self) -> None:
        """Nothing to do: S3 answers a put only once it holds the object."""

    def put(self, stream: HashingReader, *, retain_until: datetime, legal_hold: bool = False,
            metadata: dict[str, str] | None = None, durable: bool = True) -> StoredObject:
        try:
            first = read_part(stream, self.part_size)
            nxt = read_part(stream, self.part_size) if len(first) == self.part_size else b""
            if not nxt:
                stream.read()  # reach the verified end: SizeMismatch here leaves nothing sent
        except SourceError:
            raise  # the device failed, not S3: never relabelled, never marks S3 down
        except Exception as exc:
            raise store_error(exc, f"reading {stream.name or 'a recording'}") from exc
        if not nxt:
            return self._put_direct(first, stream.digests(), retain_until, legal_hold, metadata)
        staging = f"{STAGING}/{self.station}/{uuid.uuid4().hex}"
        lock = lock_headers(datetime.now(UTC) + self.staging_retention)
        try:
            sent = upload_parts(self.client, self._pool, self.bucket, staging, stream, first, nxt,
                                part_size=self.part_size, concurrency=self.concurrency,
                                headers=lock, budget=self._budget)
        except SourceError:
            raise  # the device failed, not S3: never relabelled, never marks S3 down
        except Exception as exc:
            raise store_error(exc, f"uploading {stream.name or 'a recording'}") from exc
        digests = stream.digests()
        if sent.size != digests.size:
            raise IntegrityError(
                f"{stream.name}: {sent.size} bytes were sent to S3, {digests.size} read",
                hint="check the station's memory and disk; the file will be retried")
        key = object_key(digests)
        retain_until = _ceil_second(retain_until)
        with self._key_lock(key):
            try:
                versions, found = self._existing(key, digests, retain_until, legal_hold,
                                                 {"staging_key": staging})
                if found is not None:
                    return found
                user = self._user_metadata(metadata, digests, sent.checksum)
                version_id = self._copy(staging, sent.version_id, key, user, retain_until,
                                        legal_hold, digests.sha256,
                                        only_if_new=not versions, size=sent.size)
                info = self._settle(key, version_id, retain_until, legal_hold)
            except Exception as exc:
                raise store_error(exc, f"committing {key}") from exc
        self._check_bytes(info, digests.size, sent.checksum, key)
        return StoredObject(key, digests, info, details={"staging_key": staging,
                                                         "checksum": sent.checksum,
                                                         "other_versions": len(versions)})

    def _version_holding(self, key: str, versions: list, digests) -> ObjectInfo | None:
        """The oldest version of ``key`` whose size, SHA-256 and server checksum say it holds
        these bytes (a forged later version copying our metadata cannot come first)."""
        for v in sorted((v for v in versions if not v.is_delete_marker),
                        key=lambda v: v.last_modified or datetime.min.replace(tzinfo=UTC)):
            try:
                info = self._stat(key, v.version_id)
            except IntegrityError:  # the server's checksum contradicts the metadata: not ours
                continue
            if info.size == digests.size and hmac.compare_digest(info.sha256 or "",
                                                                 digests.sha256):
                return info
        return None

    @staticmethod
    def _user_metadata(metadata, digests, checksum: str) -> dict[str, str]:
        user = {f"{META}{k}": v for k, v in (metadata or {}).items()}
        user.update({f"{META}sha256": digests.sha256, f"{META}blake3": digests.blake3,
                     f"{META}checksum": checksum})
        return user

    def _put_direct(self, data: bytes, digests, retain_until: datetime, legal_hold: bool,
                    metadata) -> StoredObject:
        """A recording that fits in one part is in memory with its digests, so its content key
        is known before anything is sent: one PutObject carrying the lock, the hold, the
        metadata and the SHA-256 the server checks; no staging copy, no server-side copy."""
        key = object_key(digests)
        retain_until = _ceil_second(retain_until)
        with self._key_lock(key):
            try:
                versions, found = self._existing(key, digests, retain_until, legal_hold, {})
                if found is not None:
                    return found
                checksum = b64(bytes.fromhex(digests.sha256))
                headers = {**lock_headers(retain_until),
                           **self._user_metadata(metadata, digests, checksum)}
                if legal_hold:
                    headers["x-amz-object-lock-legal-hold"] = "ON"
                if not versions:  # a server with conditional writes refuses a racing writer
                    headers["If-None-Match"] = "*"
                version_id = self._put_once(key, data, digests, headers)
                info = self._settle(key, version_id, retain_until, legal_hold)
            except Exception as exc:
                raise store_error(exc, f"putting {key}") from exc
        self._check_bytes(info, digests.size, checksum, key)
        return StoredObject(key, digests, info, details={"checksum": checksum,
                                                         "other_versions": len(versions)})

    def _existing(self, key: str, digests, retain_until: datetime, legal_hold: bool,
                  details: dict) -> tuple[list, StoredObject | None]:
        """The versions under ``key``, and the stored object when one of them already holds
        these bytes (adopted: its lock and hold raised to what is asked).  Any other version
        there is a stranger: it is logged, left alone, and ours is added beside it."""
        versions = self.versions(key).get(key, [])
        ours = self._version_holding(key, versions, digests)
        if ours is not None:
            info = self._adopt(ours, digests, retain_until, legal_hold)
            return versions, StoredObject(key, digests, info, existed=True,
                                          details={**details,
                                                   "other_versions": len(versions) - 1})
        if versions:
            self._foreign(key, versions)
        return versions, None

    @staticmethod
    def _foreign(key: str, versions: list) -> None:
        # Something else wrote this key first (junk, or a forged copy): it stays, untouched;
        # ours becomes a version of its own, recorded by its id, and the audit alerts on the
        # stranger.  Refusing would strand the recording in the spool.
        log.warning("content_key_has_foreign_version", key=key,
                    versions=[v.version_id for v in versions])

    def _put_once(self, key: str, data: bytes, digests, headers: dict[str, str]):
        """Like :meth:`_copy`: a request whose answer was lost is never sent again blindly
        (a second PUT would be a second locked version); look whether it landed first."""
        try:
            return put_whole(self.client, self.bucket, key, data, digests.sha256,
                             headers)[0].version_id
        except Exception:
            landed = self._version_holding(key, self.versions(key).get(key, []), digests)
            if landed is None:
                raise
            return landed.version_id

    def _copy(self, staging: str, staged_version: str | None, key: str, user: dict[str, str],
              retain_until: datetime, legal_hold: bool, sha256: str, *, only_if_new: bool,
              size: int) -> str | None:
        """Server-side copy to the content key.  The HTTP client never resends a request whose
        answer was lost (it could add a second version), so after a failure look whether the
        copy happened after all before reporting it.

        ``only_if_new``: the copy carries ``If-None-Match: *``, so a server that supports
        conditional writes refuses it if anything wrote the key meanwhile (nothing is ever
        written over a key by accident; the put is retried and finds what is there)."""
        source = CopySource(self.bucket, staging, version_id=staged_version)
        retention = Retention(COMPLIANCE, retain_until)
        try:
            if only_if_new and size <= MAX_PART_SIZE:
                headers = genheaders(user, None, None, retention, legal_hold)
                headers["x-amz-metadata-directive"] = REPLACE
                headers.update(source.gen_copy_headers())
                headers["If-None-Match"] = "*"
                response = self.client._execute("PUT", self.bucket, object_name=key,
                                                headers=headers)
                if b"<Error>" in response.data:  # a copy may fail with 200 and a body
                    raise StoreUnavailable(f"S3 copying to {key} failed: "
                                           f"{response.data[:300].decode(errors='replace')}")
                return response.headers.get("x-amz-version-id")
            return self.client.copy_object(
                self.bucket, key, source, metadata=user, metadata_directive=REPLACE,
                retention=retention, legal_hold=legal_hold).version_id
        except Exception:
            landed = self._version_holding(key, self.versions(key).get(key, []),
                                           _Want(size, sha256))
            if landed is None:
                raise
            return landed.version_id

    def _adopt(self, existing: ObjectInfo, digests, retain_until: datetime,
               legal_hold: bool) -> ObjectInfo:
        if existing.size != digests.size or not hmac.compare_digest(existing.sha256,
                                                                    digests.sha256):
            raise ObjectConflict(
                f"S3 {self.bucket}/{existing.key} already holds different bytes (sha256 "
                f"{existing.sha256 or 'unknown'}, size {existing.size}; new {digests.sha256})",
                hint="the object may be corrupt or was written by something else; inspect its "
                "versions; nothing was overwritten")
        info = existing
        if retain_until > existing.retain_until + _SLACK:
            info = self.extend_retention(existing.key, retain_until,
                                         version_id=existing.version_id)
        if legal_hold and not info.legal_hold:
            info = self.set_legal_hold(existing.key, True, version_id=existing.version_id)
        return info

    def _settle(self, key: str, version_id: str | None, retain_until: datetime,
                legal_hold: bool) -> ObjectInfo:
        """Read the new version back; put back a lock or hold the server dropped, or fail."""
        info = self._stat(key, version_id)
        repaired = []
        if info.lock_mode != COMPLIANCE or info.retain_until + _SLACK < retain_until:
            self.client.set_object_retention(self.bucket, key, Retention(COMPLIANCE, retain_until),
                                             version_id=info.version_id)
            repaired.append("retention")
        if legal_hold and not info.legal_hold:
            self.client.enable_object_legal_hold(self.bucket, key, version_id=info.version_id)
            repaired.append("legal_hold")
        if repaired:
            log.warning("object_lock_repaired", key=key, version_id=info.version_id,
                        repaired=repaired, server_had={"mode": info.lock_mode,
                                                       "retain_until": str(info.retain_until),
                                                       "legal_hold": info.legal_hold})
            info = self._stat(key, info.version_id)
        if info.lock_mode != COMPLIANCE or info.retain_until + _SLACK < retain_until or (
                legal_hold and not info.legal_hold):
            raise RetentionError(
                f"S3 {self.bucket}/{key} version {info.version_id}: the server does not keep the "
                f"lock (mode {info.lock_mode}, until {info.retain_until:%Y-%m-%d %H:%M:%S}, hold "
                f"{info.legal_hold}) even after setting it again",
                hint="this server does not enforce Object Lock; use a bucket with Object Lock "
                "enabled on a server that supports it (run `evidock doctor`)")
        return info

    def _check_bytes(self, info: ObjectInfo, size: int, checksum: str, key: str) -> None:
        server = info.checksum
        if info.size != size or (server is not None and server != checksum):
            raise IntegrityError(
                f"S3 {self.bucket}/{key}: the server reports size {info.size} and checksum "
                f"{server}, we sent {size} bytes with checksum {checksum}",
                hint="the stored copy is not what was read; it stays locked; the file is retried")

    # -- reading and lock management ---------------------------------------------------------

    def stat(self, key: str, *, version_id: str | None = None) -> ObjectInfo:
        try:
            return self._stat(key, version_id)
        except Exception as exc:
            raise store_error(exc, f"reading the state of {key}"
                              + (f" version {version_id}" if version_id else "")) from exc

    def _stat_or_none(self, key: str) -> ObjectInfo | None:
        try:
            return self.stat(key)
        except ObjectMissing:
            return None

    def _stat(self, key: str, version_id: str | None = None) -> ObjectInfo:
        obj = self.client.stat_object(self.bucket, key, version_id=version_id,
                                      extra_headers={"x-amz-checksum-mode": "ENABLED"})
        head = obj.metadata
        until = head.get("x-amz-object-lock-retain-until-date")
        server, ours = head.get("x-amz-checksum-sha256"), head.get(f"{META}checksum")
        if server and ours and server != ours:
            raise IntegrityError(
                f"S3 {self.bucket}/{key}: the server's checksum {server} differs from the one "
                f"recorded at upload ({ours})", hint="the stored bytes changed: inspect the "
                "object's versions and run a fixity check")
        return ObjectInfo(
            key=key, size=obj.size, sha256=head.get(f"{META}sha256", ""),
            blake3=head.get(f"{META}blake3"), version_id=obj.version_id,
            retain_until=parse_s3_time(until) if until else datetime.fromtimestamp(0, UTC),
            legal_hold=head.get("x-amz-object-lock-legal-hold", "OFF").upper() == "ON",
            lock_mode=head.get("x-amz-object-lock-mode"),
            checksum=head.get("x-amz-checksum-sha256"),
            metadata={k.lower()[len(META):]: v for k, v in head.items()
                      if k.lower().startswith(META)},
        )

    def open(self, key: str, *, version_id: str | None = None, offset: int = 0,
             length: int | None = None) -> BinaryIO:
        try:
            return _Body(self.client.get_object(self.bucket, key, version_id=version_id,
                                                offset=offset, length=length or 0))
        except Exception as exc:
            raise store_error(exc, f"reading {key}") from exc

    def probe_url(self, key: str, *, version_id: str | None = None) -> str:
        """A short-lived signed URL, so ffprobe reads only the bytes it needs (HTTP ranges)."""
        return self.client.presigned_get_object(self.bucket, key, expires=timedelta(minutes=15),
                                                version_id=version_id)

    def extend_retention(self, key: str, retain_until: datetime, *,
                         version_id: str | None = None) -> ObjectInfo:
        retain_until = _ceil_second(retain_until)
        try:
            info = self._stat(key, version_id)
            if retain_until + _SLACK < info.retain_until:
                raise RetentionError(
                    f"S3 {self.bucket}/{key}: refusing to shorten the retention from "
                    f"{info.retain_until:%Y-%m-%d %H:%M:%S} to {retain_until:%Y-%m-%d %H:%M:%S}",
                    hint="retention can only be extended")
            if retain_until <= info.retain_until:
                return info
            self.client.set_object_retention(self.bucket, key, Retention(COMPLIANCE, retain_until),
                                             version_id=info.version_id)
            return self._settle(key, info.version_id, retain_until, False)
        except Exception as exc:
            raise store_error(exc, f"extending the retention of {key}") from exc

    def set_legal_hold(self, key: str, on: bool, *,
                       version_id: str | None = None) -> ObjectInfo:
        try:
            info = self._stat(key, version_id)
            if info.legal_hold != on:
                change = (self.client.enable_object_legal_hold if on
                          else self.client.disable_object_legal_hold)
                change(self.bucket, key, version_id=info.version_id)
                info = self._stat(key, info.version_id)
            if info.legal_hold != on:
                raise RetentionError(f"S3 {self.bucket}/{key}: the server did not "
                                     f"{'set' if on else 'release'} the legal hold")
            return info
        except Exception as exc:
            raise store_error(exc, f"changing the legal hold of {key}") from exc

    def recover(self) -> int:
        """Abort this station's multipart uploads that a crash left open (never a stored object)."""
        prefix = f"{STAGING}/{self.station}/"
        try:
            uploads = self.client._list_multipart_uploads(self.bucket, prefix=prefix).uploads
            for upload in uploads:
                self.client._abort_multipart_upload(self.bucket, upload.object_name,
                                                    upload.upload_id)
        except Exception as exc:
            raise store_error(exc, "aborting interrupted uploads") from exc
        return len(uploads)

    def check(self) -> list[str]:
        from evidock.daemon.store.s3_doctor import bucket_problems

        return bucket_problems(self.client, self.bucket, min_days=self.min_lock_days)

    def settings(self) -> dict:
        """The bucket's protection as the server reports it now (versioning, Object Lock and
        its default rule, lifecycle rules), for the audit to notice any change."""
        from evidock.daemon.store.s3_doctor import bucket_settings

        return bucket_settings(self.client, self.bucket)

    # -- named records and listing ------------------------------------------------------------

    def put_record(self, key: str, data: bytes, *, retain_until: datetime) -> ObjectInfo:
        """One PutObject with its SHA-256 checksum and a COMPLIANCE lock, read back and settled
        like a recording.  A key that already holds a version is never written again."""
        check_record_key(key)
        retain_until = _ceil_second(retain_until)
        digest = hashlib.sha256(data).digest()
        with self._key_locks[digest[0] % len(self._key_locks)]:
            try:
                existing = self._stat_or_none(key)
                if existing is not None:
                    if existing.size != len(data) or existing.sha256 != digest.hex():
                        raise ObjectConflict(
                            f"S3 {self.bucket}/{key}: the record already holds other bytes "
                            f"(sha256 {existing.sha256 or 'unknown'})",
                            hint="a record is never overwritten; inspect the key's versions")
                    return existing
                headers = {**lock_headers(retain_until), "x-amz-checksum-sha256": b64(digest),
                           f"{META}sha256": digest.hex(), f"{META}checksum": b64(digest),
                           "If-None-Match": "*"}  # never over a key written meanwhile
                written = self.client._put_object(self.bucket, key, data, headers)
                info = self._settle(key, written.version_id, retain_until, False)
            except Exception as exc:
                raise store_error(exc, f"writing the record {key}") from exc
        self._check_bytes(info, len(data), b64(digest), key)
        return info

    def _versions(self, prefix: str) -> list:
        """Every version under ``prefix`` that is not a delete marker: a delete marker hides a
        key from a plain listing, but the locked versions under it are still there."""
        return [o for o in self.client.list_objects(self.bucket, prefix=prefix, recursive=True,
                                                    include_version=True)
                if not o.is_delete_marker]

    @property
    def protection(self) -> S3WormStore:
        """This store answers the audit's questions on bucket settings and versions."""
        return self

    def versions(self, prefix: str) -> dict[str, list[Version]]:
        """Every version and delete marker under ``prefix``, by key, newest first: what the
        audit compares with the one version per key the ledger recorded."""
        out: dict[str, list[Version]] = {}
        try:
            for o in self.client.list_objects(self.bucket, prefix=prefix, recursive=True,
                                              include_version=True):
                out.setdefault(o.object_name, []).append(Version(
                    o.object_name, o.version_id, o.last_modified, bool(o.is_delete_marker),
                    str(o.is_latest).lower() == "true"))  # the SDK gives the XML text
        except Exception as exc:
            raise store_error(exc, f"listing the versions under {prefix}") from exc
        return out

    def list_records(self, prefix: str) -> list[str]:
        if not prefix.startswith(RECORD_PREFIX):
            raise ValueError(f"not a record prefix: {prefix!r}")
        try:
            return sorted({o.object_name for o in self._versions(prefix)})
        except Exception as exc:
            raise store_error(exc, f"listing the records under {prefix}") from exc

    def read_record(self, key: str) -> bytes:
        check_record_key(key)
        try:
            versions = [o for o in self._versions(key) if o.object_name == key]
            if not versions:
                raise ObjectMissing(f"S3 {self.bucket}: no record {key}")
            # S3 lists the newest version first: the last of the oldest is the first written
            first = min(enumerate(versions), key=lambda iv: (iv[1].last_modified, -iv[0]))[1]
            info = self._stat(key, first.version_id)
            with _Body(self.client.get_object(self.bucket, key,
                                              version_id=first.version_id)) as body:
                data = body.read()
        except Exception as exc:
            raise store_error(exc, f"reading the record {key}") from exc
        if hashlib.sha256(data).hexdigest() != info.sha256:
            raise IntegrityError(f"S3 {self.bucket}/{key}: the record's bytes do not match the "
                                 f"SHA-256 it was written with ({info.sha256})",
                                 hint="the stored record changed: inspect its versions")
        return data

    def list_objects(self) -> Iterator[ObjectInfo]:
        """A listing, then a HEAD per object for its metadata (S3 lists no user metadata)."""
        try:
            names = [o.object_name for o in self.client.list_objects(
                self.bucket, prefix=f"{PREFIX}/", recursive=True)]
        except Exception as exc:
            raise store_error(exc, "listing the recordings") from exc
        for name in names:
            yield self.stat(name)

    def _key_lock(self, key: str) -> threading.Lock:
        """Two puts of the same bytes in this process commit one after the other."""
        return self._key_locks[int(key[-2:], 16) % len(self._key_locks)]

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
