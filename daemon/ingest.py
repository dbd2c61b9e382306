"""The ingest of one recording: read once, hash, store, verify, commit.

This is the top of a job: every failure is caught here and recorded in the ledger with what
happens next (a retry time, or none when the file is quarantined).  A recording is handed
over (``verified``) only after the store confirmed the write, the digests of the read match
what the store holds, and the ledger committed both.
"""

from __future__ import annotations

import errno
import hmac
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog

from evidock.daemon import faults
from evidock.daemon.errors import (
    Action,
    EvidockError,
    IntegrityError,
    SourceChanged,
    SourceError,
    SourceMissing,
    SourceVanished,
)
from evidock.daemon.hashing import HashingReader
from evidock.daemon.ledger.records import STORED, VERIFIED, MediaRecord
from evidock.daemon.ledger.sqlite import SqliteLedger
from evidock.daemon.retry import RetryPolicy
from evidock.daemon.store.base import WormStore
from evidock.daemon.timeutil import Clock, parse, utcnow
from evidock.drivers.base import MediaItem

log = structlog.get_logger("evidock.ingest")

_VANISHED = {errno.EIO, errno.ENXIO, errno.ENODEV, errno.ENOTCONN, errno.ESTALE}


class ShutdownRequested(Exception):
    """Raised inside a read when the daemon is stopping; the attempt is parked, not failed."""


@dataclass(frozen=True)
class Outcome:
    media_id: int
    state: str  # verified, failed (will retry), quarantined (gave up), parked
    error: str | None = None
    retry_at: datetime | None = None
    existed: bool = False


class Ingestor:
    def __init__(self, ledger: SqliteLedger, store: WormStore, *, retention_days: int,
                 retry: RetryPolicy, chunk_size: int = 1 << 20, readahead: int = 8,
                 clock: Clock = utcnow) -> None:
        self.ledger = ledger
        self.store = store
        self.retention = timedelta(days=retention_days)
        self.retry = retry
        self.chunk_size = chunk_size
        self.readahead = readahead
        self.clock = clock

    def retain_until(self, media: MediaRecord) -> datetime:
        """R3: at least two years after the recording.  A device clock set in the past must
        not shorten that, so the later of recording time and discovery time counts."""
        return max(parse(media.recorded_at), parse(media.found_at)) + self.retention

    def ingest(self, media: MediaRecord, item: MediaItem | None,
               progress: Callable[[int], None] | None = None) -> Outcome:
        """Take one recording as far as it can go now; never raises for a file's failure."""
        bound = log.bind(media_id=media.id, device_serial=media.device_serial,
                         file=media.source_path)
        if media.state == VERIFIED:
            return Outcome(media.id, VERIFIED)
        attempt = None
        try:
            if media.state == STORED:  # a crash came between store and verification
                self._verify(media.id, None)
                bound.info("upload_verified_after_restart")
                return Outcome(media.id, VERIFIED)
            if item is None:
                raise SourceVanished(f"{media.source_path}: its device is not docked")
            attempt = self.ledger.start_attempt(media.id)
            existed = self._copy(media, item, attempt, progress, bound)
            self._verify(media.id, attempt)
            bound.info("media_handed_over", size=media.size, existed=existed)
            return Outcome(media.id, VERIFIED, existed=existed)
        except ShutdownRequested:
            bound.info("ingest_parked", reason="shutdown")
            return Outcome(media.id, "parked")
        except EvidockError as exc:
            return self._fail(media.id, attempt, exc, bound)
        except OSError as exc:
            return self._fail(media.id, attempt, _source_error(media, exc), bound)
        except Exception as exc:  # a bug must not kill the worker; it is recorded and retried
            bound.exception("ingest_crashed")
            err = EvidockError(f"{media.source_path}: unexpected {type(exc).__name__}: {exc}")
            err.action = Action.RETRY
            return self._fail(media.id, attempt, err, bound)

    def _copy(self, media: MediaRecord, item: MediaItem, attempt: int, progress, bound) -> bool:
        with item.open() as raw:
            before = os.fstat(raw.fileno())
            if before.st_size != item.size or before.st_mtime_ns != item.mtime_ns:
                raise SourceChanged(
                    f"{media.source_path}: changed since it was found "
                    f"(size {item.size} -> {before.st_size})",
                    hint="it will be taken again once it is stable",
                )
            bound.info("copy_started", size=item.size, attempt=attempt)

            def on_chunk(n: int) -> None:
                faults.point("read")
                if progress is not None:
                    progress(n)

            with HashingReader(raw, item.size, name=media.source_path,
                               chunk_size=self.chunk_size, on_progress=on_chunk,
                               readahead=self.readahead) as stream:
                stored = self.store.put(stream, retain_until=self.retain_until(media), metadata={
                    "device-serial": media.device_serial, "recorded-at": media.recorded_at,
                    "deadline-at": media.deadline_at, "media-id": str(media.id),
                })
            after = os.fstat(raw.fileno())
        if (after.st_size, after.st_mtime_ns) != (before.st_size, before.st_mtime_ns):
            raise SourceChanged(f"{media.source_path}: changed while it was read",
                                hint="it will be taken again once it is stable")
        faults.point("after_store_put")
        digests = stream.digests()
        if not stored.digests.matches(digests):
            raise IntegrityError(f"{media.source_path}: the store reports other digests than "
                                 "the read computed")
        self.ledger.record_stored(media.id, attempt, digests,
                                  store=stored.details.get("store", self.store.name),
                                  object_key=stored.key, retain_until=stored.info.retain_until)
        return stored.existed

    def _verify(self, media_id: int, attempt: int | None) -> None:
        """Read back what the store reports and compare with the ledger, then commit."""
        faults.point("before_verify")
        media = self.ledger.media(media_id)
        info = self.store.stat(media.object_key)
        if info.size != media.size or not hmac.compare_digest(info.sha256 or "", media.sha256):
            raise IntegrityError(
                f"{media.source_path}: the store holds {info.size} bytes with sha256 "
                f"{info.sha256}, the ledger expects {media.size} bytes with {media.sha256}",
                hint="the file will be copied again; if this repeats, check the store",
            )
        self.ledger.record_verified(media_id, attempt)

    def _fail(self, media_id: int, attempt: int | None, exc: EvidockError, bound) -> Outcome:
        media = self.ledger.media(media_id)
        if isinstance(exc, SourceVanished):
            # the device left (cable pulled, card out): not the file's fault, so it is never
            # given up on; it backs off like any retry and is read again when the device is back
            retry_at = self.retry.next_try(1, Action.RETRY, self.clock(),
                                           attempts_for_delay=media.attempts)
        else:
            retry_at = self.retry.next_try(media.attempts, exc.action, self.clock())
        state = "failed" if retry_at else "quarantined"
        if media.state in ("copying", "stored"):
            self.ledger.record_failure(media_id, attempt, str(exc), retry_at=retry_at,
                                       action=exc.action.value)
        bound.warning("ingest_failed", error=str(exc), error_type=type(exc).__name__,
                      attempts=media.attempts, retry_at=retry_at and retry_at.isoformat(),
                      outcome=state)
        return Outcome(media_id, state, str(exc), retry_at)


def _source_error(media: MediaRecord, exc: OSError) -> SourceError:
    if exc.errno == errno.ENOENT:
        return SourceMissing(f"{media.source_path}: {exc.strerror}",
                             hint="it was moved or deleted after it was found")
    if exc.errno in _VANISHED:
        return SourceVanished(f"{media.source_path}: {exc.strerror}",
                              hint="the device may have been removed; "
                              "it is read again at the next dock")
    return SourceError(f"{media.source_path}: {exc.strerror or exc}")
