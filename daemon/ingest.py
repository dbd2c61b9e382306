"""The ingest of one recording: read once, hash, store, verify, commit.

This is the top of a job: every failure is caught here and recorded in the ledger with what
happens next (a retry time, or none when the file is quarantined).  A recording is handed
over (``verified``) only after the store confirmed the write, the digests of the read match
what the store holds, and the ledger committed both.

What happens next follows the error's row in :data:`evidock.daemon.errors.TABLE`: only a
file's own faults count towards ``max_attempts``; a vanished device, a store outage or
refused credentials back off and retry without limit.  A failure that cannot be recorded
(the ledger's disk is full) is kept here and written before the file's next attempt, and the
outcome asks the pipeline to pause (``Action.STOP``) until the ledger can be written again.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog

from evidock.daemon import faults
from evidock.daemon.errors import (
    Action,
    Claimed,
    EvidockError,
    IntegrityError,
    LedgerError,
    ShutdownRequested,
    SourceChanged,
    SourceError,
    SourceVanished,
    StoreError,
)
from evidock.daemon.hashing import HashingReader
from evidock.daemon.ledger.records import (
    COPYING,
    STORED,
    SUPERSEDED,
    VERIFIED,
    MediaRecord,
    display_path,
)
from evidock.daemon.ledger.sqlite import SqliteLedger
from evidock.daemon.retry import RetryPolicy
from evidock.daemon.store.base import WormStore
from evidock.daemon.store.objmeta import media_metadata
from evidock.daemon.timeutil import Clock, parse, utcnow
from evidock.drivers.base import MediaItem

log = structlog.get_logger("evidock.ingest")

__all__ = ["Ingestor", "Outcome", "RetryPolicy", "ShutdownRequested"]


@dataclass(frozen=True)
class Outcome:
    media_id: int
    state: str  # verified, failed (will retry), quarantined (gave up), parked, superseded
    error: str | None = None
    retry_at: datetime | None = None
    existed: bool = False
    action: str | None = None  # of the error, when it failed: "stop" pauses the pipeline
    cause: str | None = None  # what failed: "source", "store", "ledger" or "other"
    attempt: int | None = None  # state "stored": the attempt whose copy awaits its hand-over
    #: state "stored" in a group: what ``record_stored`` must say, once the store is synced
    receipt: dict | None = None


class Ingestor:
    def __init__(self, ledger: SqliteLedger, store: WormStore, *, retention_days: int,
                 retry: RetryPolicy, chunk_size: int = 1 << 20, readahead: int = 8,
                 clock: Clock = utcnow, group_verify: bool = False) -> None:
        self.ledger = ledger
        self.store = store
        self.retention = timedelta(days=retention_days)
        self.retry = retry
        self.chunk_size = chunk_size
        self.readahead = readahead
        self.clock = clock
        #: stop at "stored" and leave the hand-over to :meth:`verify_many`, which the pipeline
        #: calls for a group of files at once (one durable ledger commit for the group)
        self.group_verify = group_verify
        # media id -> (attempt, error, retry_at, action) of failures the ledger refused
        self._unrecorded: dict[int, tuple[int | None, str, datetime | None, str]] = {}

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
        if media.state == SUPERSEDED:
            return Outcome(media.id, SUPERSEDED, media.last_error)
        attempt = None
        try:
            if media.state == COPYING and media.id not in self._unrecorded:
                # a claim left by a crash, or another station's: ended only if that
                # station is gone (shared ledger) - else Claimed, and tried again later
                self.ledger.take_over(media.id)
                media = self.ledger.media(media.id)
            if media.id in self._unrecorded or media.state == COPYING:
                media = self._catch_up(media, bound)
                if media.state == "failed" and media.retry_at is None:
                    return Outcome(media.id, "quarantined", media.last_error)
            if media.state == STORED:  # a crash came between store and verification
                # or another station stored it and verifies it now: Claimed, tried later
                self.ledger.take_over(media.id)
                if self.group_verify:
                    return Outcome(media.id, STORED)
                self._verify(media.id, None)
                bound.info("upload_verified_after_restart")
                return Outcome(media.id, VERIFIED)
            if item is None:
                raise SourceVanished(f"{media.source_path}: its device is not docked")
            attempt = self.ledger.start_attempt(media.id)
            if self.group_verify:
                receipt = self._copy(media, item, attempt, progress, bound, group=True)
                return Outcome(media.id, STORED, existed=receipt.pop("existed"),
                               attempt=attempt, receipt=receipt)
            existed = self._copy(media, item, attempt, progress, bound)
            self._verify(media.id, attempt)
            bound.info("media_handed_over", size=media.size, existed=existed)
            return Outcome(media.id, VERIFIED, existed=existed)
        except ShutdownRequested:
            bound.info("ingest_parked", reason="shutdown")
            return Outcome(media.id, "parked")
        except Claimed as exc:
            # another station copies it (or took it over from us): nothing to record here
            retry_at = self.clock() + timedelta(seconds=self.retry.base_seconds)
            bound.info("ingest_claimed_elsewhere", error=str(exc),
                       retry_at=retry_at.isoformat())
            return Outcome(media.id, "failed", str(exc), retry_at, action="retry",
                           cause="ledger")
        except EvidockError as exc:
            outcome = self._fail(media.id, attempt, exc, bound)
            if isinstance(exc, SourceChanged) and item is not None and item.changes_in_place:
                return self._superseded(outcome, bound)
            return outcome
        except Exception as exc:  # a bug must not kill the worker; it is recorded and retried
            bound.exception("ingest_crashed")
            err = EvidockError(f"{media.source_path}: unexpected {type(exc).__name__}: {exc}")
            err.action, err.counts = Action.RETRY, True
            return self._fail(media.id, attempt, err, bound)

    def _catch_up(self, media: MediaRecord, bound) -> MediaRecord:
        """Write the failure an earlier attempt could not record (the ledger was full), so the
        row leaves ``copying`` before the next attempt starts."""
        attempt, error, retry_at, action = self._unrecorded.pop(
            media.id, (None, "the failure of the last attempt could not be recorded",
                       self.clock(), Action.RETRY.value))
        current = self.ledger.media(media.id)
        if current.state in (COPYING, STORED):
            try:
                self.ledger.record_failure(media.id, attempt, error, retry_at=retry_at,
                                           action=action)
            except BaseException:
                self._unrecorded[media.id] = (attempt, error, retry_at, action)
                raise
            bound.info("ingest_failure_recorded_late", attempt=attempt, error=error)
            current = self.ledger.media(media.id)
        return current

    def _copy(self, media: MediaRecord, item: MediaItem, attempt: int, progress, bound,
              group: bool = False):
        """Read, hash and store one file; records it stored and returns whether the store
        had it already, or with ``group`` leaves the object to ``store.sync()`` and returns
        what ``record_stored`` must say (:meth:`verify_many` commits it for the group)."""
        with item.open() as raw:
            before = raw.fstat()
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
                stored = self.store.put(stream, retain_until=self.retain_until(media),
                                        metadata=media_metadata(media, item.relpath,
                                                                self.ledger.station),
                                        durable=not group)
            after = raw.fstat()
        if (after.st_size, after.st_mtime_ns) != (before.st_size, before.st_mtime_ns):
            raise SourceChanged(f"{media.source_path}: changed while it was read",
                                hint="it will be taken again once it is stable")
        faults.point("after_store_put")
        digests = stream.digests()
        if not stored.digests.matches(digests):
            raise IntegrityError(f"{media.source_path}: the store reports other digests than "
                                 "the read computed")
        receipt = {"digests": digests, "store": stored.details.get("store", self.store.name),
                   "object_key": stored.key, "retain_until": stored.info.retain_until,
                   "version_id": stored.info.version_id}
        if group:
            return {**receipt, "existed": stored.existed}
        self.ledger.record_stored(media.id, attempt, **receipt)
        return stored.existed

    def verify_many(self, stored: list[Outcome]) -> list[Outcome]:
        """Hand over a group of files that :meth:`ingest` left ``stored``: the store is
        synced once and the copies of this run are recorded ``stored`` in one (lazy) commit;
        then each copy is read back (``stat``) and compared with the ledger, and all that
        match are handed over in ONE durable ledger commit (group commit); each that does
        not, or all of them if that commit fails, is recorded as a failed attempt.  Never
        raises for a file's failure; returns one outcome per file, in order."""
        outcomes: dict[int, Outcome] = {}
        fresh = [o for o in stored if o.receipt is not None]
        if fresh:  # copies stored in this run: durable first, then their stored commit
            try:
                self.store.sync()
                self.ledger.record_stored_many([(o.media_id, o.attempt, o.receipt)
                                                for o in fresh])
            except EvidockError as exc:
                for one in fresh:
                    outcomes[one.media_id] = self._fail(one.media_id, one.attempt, exc,
                                                        log.bind(media_id=one.media_id))
                stored_ok = [o for o in stored if o.receipt is None]
                return self._verify_group(stored_ok, outcomes, order=stored)
        return self._verify_group(stored, outcomes, order=stored)

    def _verify_group(self, stored: list[Outcome], outcomes: dict[int, Outcome], *,
                      order: list[Outcome]) -> list[Outcome]:
        passed: list[Outcome] = []
        for one in stored:
            bound = log.bind(media_id=one.media_id)
            try:
                self._check(one.media_id)
                passed.append(one)
            except EvidockError as exc:
                outcomes[one.media_id] = self._fail(one.media_id, one.attempt, exc, bound)
            except Exception as exc:  # a bug must not lose the group: recorded and retried
                bound.exception("verify_crashed")
                err = EvidockError(f"recording {one.media_id}: unexpected "
                                   f"{type(exc).__name__}: {exc}")
                err.action, err.counts = Action.RETRY, True
                outcomes[one.media_id] = self._fail(one.media_id, one.attempt, err, bound)
        try:
            self.ledger.record_verified_many([(o.media_id, o.attempt) for o in passed])
        except EvidockError as exc:
            for one in passed:
                outcomes[one.media_id] = self._fail(one.media_id, one.attempt, exc,
                                                    log.bind(media_id=one.media_id))
        else:
            for one in passed:
                log.info("media_handed_over", media_id=one.media_id, existed=one.existed,
                         group=len(passed), after_restart=one.attempt is None)
                outcomes[one.media_id] = Outcome(one.media_id, VERIFIED, existed=one.existed)
        return [outcomes[o.media_id] for o in order]

    def _verify(self, media_id: int, attempt: int | None) -> None:
        """Read back what the store reports and compare with the ledger, then commit."""
        self._check(media_id)
        self.ledger.record_verified(media_id, attempt)

    def _check(self, media_id: int) -> None:
        """The store's copy has the size and SHA-256 the ledger recorded (or IntegrityError)."""
        faults.point("before_verify")
        media = self.ledger.media(media_id)
        info = self.store.stat(media.object_key, version_id=media.version_id)
        if info.size != media.size or not hmac.compare_digest(info.sha256 or "", media.sha256):
            raise IntegrityError(
                f"{media.source_path}: the store holds {info.size} bytes with sha256 "
                f"{info.sha256}, the ledger expects {media.size} bytes with {media.sha256}",
                hint="the file will be copied again; if this repeats, check the store",
            )

    def _superseded(self, outcome: Outcome, bound) -> Outcome:
        """A watch folder's file changed under its read: if its new version is already in
        the ledger, this row is done (superseded by it), not a failure to retry or give up
        on.  Otherwise ``outcome`` stands until the new version is found."""
        try:
            newer = self.ledger.supersede_if_replaced(outcome.media_id)
        except Exception as exc:  # noqa: BLE001 - the failure is recorded: retried as such
            bound.warning("supersede_failed", error=str(exc))
            return outcome
        if newer is None:
            return outcome
        bound.info("media_superseded", by_media_id=newer)
        return Outcome(outcome.media_id, SUPERSEDED, outcome.error)

    def _fail(self, media_id: int, attempt: int | None, exc: EvidockError, bound) -> Outcome:
        """Record a failed attempt and say what happens next; never raises.  A ledger that
        cannot be written here (disk full) must not kill the worker: the failure is kept
        and recorded before the file's next attempt, and the pipeline pauses (STOP)."""
        error = display_path(str(exc))
        cause = _cause(exc)
        try:
            media = self.ledger.media(media_id)
            attempts, state_before = media.attempts, media.state
        except Exception:  # noqa: BLE001 - the row cannot be read: keep the file queued
            attempts, state_before = 1, COPYING if attempt is not None else None
        now = self.clock()
        if exc.counts:
            retry_at = self.retry.next_try(attempts, exc.action, now)
        else:  # not the file's fault: never given up on, backs off like any retry
            retry_at = self.retry.next_try(attempts, Action.RETRY, now, limited=False)
        state = "failed" if retry_at else "quarantined"
        action = exc.action
        if state_before in (COPYING, STORED):
            try:
                self.ledger.record_failure(media_id, attempt, error, retry_at=retry_at,
                                           action=action.value)
            except Exception as lexc:  # noqa: BLE001 - the failure path must not fail
                self._unrecorded[media_id] = (attempt, error, retry_at, action.value)
                bound.error("ingest_failure_unrecorded", error=error,
                            ledger_error=f"{type(lexc).__name__}: {lexc}")
                action, cause, state = Action.STOP, "ledger", "failed"
                error = f"{error}; and the ledger could not record it: {lexc}"
                retry_at = retry_at or now + timedelta(seconds=self.retry.base_seconds)
        bound.warning("ingest_failed", error=error, error_type=type(exc).__name__,
                      attempts=attempts, retry_at=retry_at and retry_at.isoformat(),
                      outcome=state, action=action.value, counts=exc.counts)
        return Outcome(media_id, state, error, retry_at, action=action.value, cause=cause)


def _cause(exc: EvidockError) -> str:
    if isinstance(exc, SourceError):
        return "source"
    if isinstance(exc, StoreError):
        return "store"
    if isinstance(exc, LedgerError):
        return "ledger"
    return "other"
