"""Keep the 24-hour promise (RULES.md R1) while S3 is down, slow or full: a local spool.

:class:`SpoolingStore` is the store the daemon uses in front of S3.  While S3 answers, a put goes
straight to S3 (no copy on local disk).  When a put fails with ``StoreUnavailable`` the store
marks S3 down; that attempt fails (its stream is spent) and the pipeline retries the file, and
from then on puts go to the spool: a :class:`LocalWormStore` on the station (fsync'd, re-read and
verified, locked read-only), which counts as the unit's dedicated storage, so the recording is
handed over and the device may be released.

A :class:`Drainer` thread moves spooled objects to S3, earliest handover deadline first, waiting
by the one retry policy (daemon/retry.py) while S3 stays down.  For each object it uploads the
spooled bytes (hashed again on the way), checks that S3 holds the same digests under the same
key, records the move in the ledger (``media_relocated``), and only then releases the spooled
copy.  A crash between those steps leaves both copies, and the next pass finds the S3 copy
already there (``existed``).

Releasing a spooled copy is the one place where a store removes a recording's bytes (the store
contract in base.py says so): :meth:`Spool.release` refuses unless the proof it is given, what
S3 reported for the same key, matches the spooled copy in size and SHA-256.

S3 away at start-up (down, refusing the credentials, or no credentials at all) does not stop the
daemon: the store starts marked away and the drainer proves the bucket's Object Lock set-up
(``check_primary``) once S3 answers, before the first upload.  A bucket found without Object Lock
then stops S3 uploads for good (``refused``; logged as an error and recorded in the ledger) and
the spool keeps taking recordings.  The spool belongs to one daemon (:meth:`Spool.claim`).

The spool is bounded (``max_gib``): past ``warn_fraction`` the daemon warns in its log and
status; when full, puts raise ``StoreUnavailable`` and recordings wait on their devices.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import BinaryIO

import structlog

from evidock.daemon.errors import (
    ObjectMissing,
    StoreError,
    StoreMisconfigured,
    StoreUnavailable,
)
from evidock.daemon.hashing import HashingReader
from evidock.daemon.retry import RetryPolicy
from evidock.daemon.store.base import RECORD_PREFIX, ObjectInfo, StoredObject, WormStore
from evidock.daemon.store.spooldir import Spool, spool_entries, spool_usage

log = structlog.get_logger("evidock.spool")

__all__ = ["S3_AWAY", "Drainer", "Spool", "SpoolLimits", "SpoolingStore", "spool_entries",
           "spool_usage"]

#: S3 cannot take anything now (down, full, or refusing the daemon's credentials): spool.
S3_AWAY = (StoreUnavailable, StoreMisconfigured)


@dataclass
class SpoolLimits:
    max_bytes: int
    warn_fraction: float = 0.8
    max_age_seconds: float = 12 * 3600
    margin: timedelta = timedelta(hours=1)  # a recording S3 would finish later goes to the spool


class SpoolingStore:
    """S3 when it answers, the spool when it does not; reads look in both."""

    def __init__(self, primary: WormStore, spool: Spool, limits: SpoolLimits, *,
                 check_primary: Callable[[], bool] | None = None) -> None:
        self.primary, self.spool, self.limits = primary, spool, limits
        #: proves the primary can hold evidence (S3: the bucket has Object Lock); raises while
        #: the primary cannot be asked.  Asked once, before the first upload.
        self._check_primary = check_primary
        self._primary_fit = check_primary is None
        self.refused: str | None = None  # why uploads to the primary stopped for good
        self.name = primary.name  # where a record is meant to end up; spooling is a detour
        #: every store name the ledger may give a recording this store can read back
        self.names = frozenset({primary.name, spool.name})
        self._down = False  # set by a failed put, cleared only by the drainer's success
        self._guard = threading.Lock()
        self._rate: float | None = None  # bytes/s of recent large S3 puts (moving average)

    # -- health ------------------------------------------------------------------------------

    def primary_down(self) -> bool:
        """While S3 is down every put goes to the spool; only the drainer tries S3 again, so
        no recording spends an attempt on an S3 that is known to be away."""
        return self._down

    def mark_down(self, reason: str) -> None:
        with self._guard:
            first, self._down = not self._down, True
        if first:
            log.warning("store_unavailable", store=self.primary.name, reason=reason,
                        fallback="spool")

    def primary_ready(self) -> bool:
        """True once the primary has proven it can hold evidence; False when it was found
        unfit (uploads there stop for good).  Raises ``S3_AWAY`` while it cannot be asked."""
        if self.refused is not None:
            return False
        if not self._primary_fit:
            if not self._check_primary():
                self.refuse(f"{self.primary.name} has no Object Lock: recordings stored there "
                            "could be deleted or overwritten")
                return False
            self._primary_fit = True
        return True

    def start(self) -> bool | None:
        """At the daemon's start: whether the primary can hold evidence (None: it cannot be
        asked now; it is marked away, recordings go to the spool, the drainer asks again)."""
        try:
            return self.primary_ready()
        except S3_AWAY as exc:
            log.warning("store_unavailable_at_start", store=self.primary.name, error=str(exc),
                        fallback="spool")
            self.mark_down(str(exc))
            return None

    def refuse(self, reason: str) -> None:
        """Stop every upload to the primary; the spool keeps taking recordings."""
        self.refused = reason
        with self._guard:
            self._down = True
        log.error("store_refused", store=self.primary.name, reason=reason, fallback="spool",
                  hint="fix the bucket (run `evidock doctor`) and restart evidock; spooled "
                  "recordings stay handed over meanwhile")

    def mark_up(self) -> None:
        if self.refused is not None:
            return
        with self._guard:
            was_down, self._down = self._down, False
        if was_down:
            log.info("store_available", store=self.primary.name)

    # -- the WormStore protocol --------------------------------------------------------------

    #: puts smaller than this say little about throughput (latency dominates)
    RATE_SAMPLE_MIN = 8 << 20

    def note_rate(self, size: int, seconds: float) -> None:
        """Fold one S3 put's throughput into the moving average."""
        if size < self.RATE_SAMPLE_MIN or seconds <= 0:
            return
        rate = size / seconds
        self._rate = rate if self._rate is None else 0.7 * self._rate + 0.3 * rate

    def too_slow_for(self, size: int, metadata: dict[str, str] | None) -> bool:
        """True when S3, at the rate it has shown, would finish this recording after its
        handover deadline less the margin: slow S3 must not make a recording late (R1)."""
        deadline = (metadata or {}).get("deadline-at")
        if self._rate is None or not deadline:
            return False
        finish = datetime.now(UTC) + timedelta(seconds=size / self._rate) + self.limits.margin
        return finish > datetime.fromisoformat(deadline.replace("Z", "+00:00"))

    def sync(self) -> None:
        self.spool.sync()
        self.primary.sync()

    def put(self, stream: HashingReader, *, retain_until: datetime, legal_hold: bool = False,
            metadata: dict[str, str] | None = None, durable: bool = True) -> StoredObject:
        slow = not self.primary_down() and self.too_slow_for(stream.expected_size, metadata)
        if slow:
            log.warning("s3_too_slow_for_deadline", size=stream.expected_size,
                        rate_mb_s=round(self._rate / 1e6, 2),
                        deadline=(metadata or {}).get("deadline-at"), fallback="spool")
        if not self.primary_down() and not slow:
            try:
                started = time.monotonic()
                stored = self.primary.put(stream, retain_until=retain_until,
                                          legal_hold=legal_hold, metadata=metadata,
                                          durable=durable)
                self.note_rate(stream.expected_size, time.monotonic() - started)
                return stored
            except S3_AWAY as exc:
                self.mark_down(str(exc))
                raise StoreUnavailable(f"{exc.message}; the next attempt goes to the spool",
                                       hint=exc.hint) from exc
        self._check_room(stream.expected_size)
        stored = self.spool.put(stream, retain_until=retain_until, legal_hold=legal_hold,
                                metadata=metadata, durable=durable)
        log.info("media_spooled", key=stored.key, size=stored.digests.size)
        stored.details.update(spooled=True, store=self.spool.name)
        return stored

    def _check_room(self, size: int) -> None:
        count, used, _ = self.spool.usage()
        if used + size > self.limits.max_bytes:
            raise StoreUnavailable(
                f"spool {self.spool.root} is full ({used >> 20} MiB of "
                f"{self.limits.max_bytes >> 20} MiB, {count} files) and S3 is unavailable",
                hint="bring S3 back or give the spool more room (store.spool.max_gib); files "
                "wait on their devices meanwhile")

    def stat(self, key: str, *, version_id: str | None = None) -> ObjectInfo:
        try:
            return self.spool.stat(key)
        except ObjectMissing:
            return self.primary.stat(key, version_id=version_id)

    def open(self, key: str, *, version_id: str | None = None, offset: int = 0,
             length: int | None = None) -> BinaryIO:
        try:
            return self.spool.open(key, offset=offset, length=length)
        except ObjectMissing:
            return self.primary.open(key, version_id=version_id, offset=offset, length=length)

    def local_path(self, key: str):
        return self.spool.local_path(key)

    def probe_url(self, key: str, *, version_id: str | None = None) -> str | None:
        method = getattr(self.primary, "probe_url", None)
        return method(key, version_id=version_id) if method is not None else None

    def _where(self, key: str, version_id: str | None = None) -> list[WormStore]:
        stores = []
        for store in (self.spool, self.primary):
            try:
                store.stat(key, version_id=version_id)
                stores.append(store)
            except ObjectMissing:
                pass
        if not stores:
            raise ObjectMissing(f"no object {key} in the spool or in {self.primary.name}")
        return stores

    def extend_retention(self, key: str, retain_until: datetime, *,
                         version_id: str | None = None) -> ObjectInfo:
        return [s.extend_retention(key, retain_until, version_id=version_id)
                for s in self._where(key, version_id)][-1]

    def set_legal_hold(self, key: str, on: bool, *,
                       version_id: str | None = None) -> ObjectInfo:
        return [s.set_legal_hold(key, on, version_id=version_id)
                for s in self._where(key, version_id)][-1]

    def recover(self) -> int:
        count = self.spool.recover()
        try:
            count += self.primary.recover()
        except S3_AWAY as exc:
            self.mark_down(str(exc))
        return count

    def check(self) -> list[str]:
        problems = self.spool.check()
        try:
            problems += self.primary.check()
        except S3_AWAY as exc:
            problems.append(f"{exc} (recordings go to the spool meanwhile)")
        return problems + self.spool_warnings()

    # -- what the audit asks of S3 itself (the spool has neither versions nor settings) --------

    @property
    def protection(self):
        """S3's bucket settings and version history, for the retention audit."""
        return getattr(self.primary, "protection", None)

    # -- named records and listing: the spool stands in for S3 while it is away ---------------

    def put_record(self, key: str, data: bytes, *, retain_until: datetime) -> ObjectInfo:
        """To S3 when it answers; otherwise to the spool (the record is in memory, so the same
        call falls back), from where the drainer moves it to S3 like a recording."""
        if not self.primary_down():
            try:
                return self.primary.put_record(key, data, retain_until=retain_until)
            except S3_AWAY as exc:
                self.mark_down(str(exc))
        info = self.spool.put_record(key, data, retain_until=retain_until)
        log.info("record_spooled", key=key, size=len(data))
        return info

    def list_records(self, prefix: str) -> list[str]:
        """Spooled and S3 records together; raises ``StoreUnavailable`` while S3 cannot be
        listed, since a listing without it would look like missing records."""
        return sorted(set(self.spool.list_records(prefix)) | set(self.primary.list_records(prefix)))

    def read_record(self, key: str) -> bytes:
        try:
            return self.spool.read_record(key)
        except ObjectMissing:
            return self.primary.read_record(key)

    def list_objects(self):
        seen = set()
        for info in self.spool.list_objects():
            seen.add(info.key)
            yield info
        for info in self.primary.list_objects():
            if info.key not in seen:
                yield info

    def status(self) -> dict:
        count, used, age = self.spool.usage()
        return {"spool_files": count, "spool_bytes": used, "spool_max_bytes": self.limits.max_bytes,
                "spool_oldest_age_s": None if age is None else round(age),
                "primary_down": self.primary_down(), "primary_refused": self.refused}

    def spool_warnings(self) -> list[str]:
        count, used, age = self.spool.usage()
        out = []
        if used >= self.limits.warn_fraction * self.limits.max_bytes:
            out.append(f"spool {self.spool.root} is {100 * used // self.limits.max_bytes}% full "
                       f"({count} files waiting for S3): bring S3 back before it fills, or "
                       "raise store.spool.max_gib")
        if age is not None and age > self.limits.max_age_seconds:
            out.append(f"a spooled file has waited {age / 3600:.1f} h for S3 "
                       f"(limit store.spool.max_age_hours): check the S3 connection")
        return out


class Drainer:
    """Moves spooled objects to S3, earliest deadline first; one pass at a time."""

    def __init__(self, store: SpoolingStore, ledger=None, *, interval: float = 10.0,
                 max_backoff: float = 300.0, alerts=None) -> None:
        self.store, self.ledger, self.alerts = store, ledger, alerts
        self._alerted: str | None = None  # the store state the open alert is about
        self.interval, self.max_backoff = interval, max_backoff
        self.backoff = RetryPolicy(base_seconds=interval, max_seconds=max(interval, max_backoff))
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.failures = 0
        self._warned = (0, 0.0)  # how many warnings were logged, and when

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="spool-drainer", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:  # the top of a thread: record and go on, never die
                moved = self.drain_once()
                self._alert()
            except Exception as exc:  # noqa: BLE001
                self.failures += 1
                moved = None
                log.error("spool_drainer_failed", error=f"{type(exc).__name__}: {exc}",
                          failures=self.failures)
            delay = self.backoff.delay(self.failures + 1)  # no failure: the interval
            if moved is None or not moved:
                self._stop.wait(delay)

    def _alert(self) -> None:
        """An alert while S3 is away (warning) or refused (critical), resolved when it is
        back: spooled recordings are handed over, but only to the station's own disk."""
        store = self.store
        state = "refused" if store.refused else ("away" if store.primary_down() else None)
        if self.alerts is None or state == self._alerted:
            return
        from evidock.daemon.alerts.book import Finding

        subject = f"store:{store.primary.name}"
        findings = [] if state is None else [Finding(
            f"store:{state}", "R4", "critical" if state == "refused" else "warning", subject,
            f"S3 ({store.primary.name}) refuses to hold evidence: {store.refused}; nothing is "
            "uploaded and recordings stay in the spool. Fix the bucket (`evidock doctor`) and "
            "restart evidock." if state == "refused" else
            f"S3 ({store.primary.name}) cannot take recordings now (down, unreachable or "
            "refusing the credentials): they go to the spool on this station's disk and move "
            "to S3 once it answers. Check the connection, the credentials and `evidock status`.")]
        self.alerts.sync("store", findings)
        self._alerted = state

    def drain_once(self) -> int | None:
        """Move what can be moved now; returns how many, or None when S3 failed."""
        entries = sorted(self.store.spool.entries(), key=self._deadline)
        self._warn(self.store.spool_warnings())
        if not self._ready():
            return None
        if not entries and not self.store.spool.list_records(RECORD_PREFIX):
            self._probe()
            return 0
        moved = 0
        for entry in entries:
            if self._stop.is_set():
                break
            try:
                self._move(entry)
                moved += 1
            except S3_AWAY as exc:
                self.failures += 1
                self.store.mark_down(str(exc))
                log.warning("spool_drain_failed", key=entry["key"], error=str(exc),
                            failures=self.failures)
                return None
            except StoreError as exc:  # this object cannot go up now; the others still can
                log.error("spool_object_stuck", key=entry["key"], error=str(exc),
                          error_type=type(exc).__name__)
        try:
            moved += self._move_records()
        except S3_AWAY as exc:
            self.failures += 1
            self.store.mark_down(str(exc))
            log.warning("spool_drain_failed", key="ledger/", error=str(exc),
                        failures=self.failures)
            return None
        self.failures = 0
        self.store.mark_up()
        return moved

    def _move_records(self) -> int:
        """Spooled records (the ledger's anchors) go to S3 after the recordings; each is
        released from the spool only once S3 holds the same bytes."""
        spool, moved = self.store.spool, 0
        for key in spool.list_records(RECORD_PREFIX):
            info = spool._record_info(key)
            final = self.store.primary.put_record(key, spool.read_record(key),
                                                  retain_until=info.retain_until)
            spool.release_record(key, final)
            log.info("spool_record_moved", key=key, size=info.size)
            moved += 1
        return moved

    def _ready(self) -> bool:
        """Has S3 proven it can hold evidence?  Asked (once) when it answers again."""
        refused = self.store.refused
        try:
            ready = self.store.primary_ready()
        except S3_AWAY as exc:
            self.failures += 1
            self.store.mark_down(str(exc))
            log.warning("spool_drain_failed", error=str(exc), failures=self.failures)
            return False
        if not ready and refused is None and self.ledger is not None:
            self.ledger.record("store_refused", f"store:{self.store.primary.name}",
                               {"reason": self.store.refused, "fallback": self.store.spool.name})
        return ready

    def _warn(self, warnings: list[str]) -> None:
        """Log spool warnings when they change, and every ten minutes while they last."""
        count, when = self._warned
        if warnings and (len(warnings) != count or time.monotonic() - when > 600):
            for warning in warnings:
                log.warning("spool_warning", problem=warning)
            self._warned = (len(warnings), time.monotonic())
        elif not warnings:
            self._warned = (0, 0.0)

    def _probe(self) -> None:
        """Nothing to drain: see whether S3 is back, so that new puts go there again."""
        if not self.store.primary_down():
            return
        try:
            self.store.primary.check()
        except StoreError:
            return
        self.store.mark_up()

    def _deadline(self, entry: dict) -> str:
        meta = entry["metadata"]
        if self.ledger is not None and meta.get("media-id", "").isdigit():
            try:
                return self.ledger.media(int(meta["media-id"])).deadline_at
            except Exception:  # a spooled object without its row still drains, last
                pass
        return meta.get("recorded-at") or datetime.fromtimestamp(
            entry["mtime"], UTC).isoformat()

    def _move(self, entry: dict) -> None:
        spool, key = self.store.spool, entry["key"]
        info = spool.stat(key)
        with spool.open(key) as raw:
            stream = HashingReader(raw, info.size, name=f"spool:{key}")
            stored = self.store.primary.put(stream, retain_until=info.retain_until,
                                            legal_hold=info.legal_hold,
                                            metadata=entry["metadata"])
        final = self.store.primary.stat(key, version_id=stored.info.version_id)
        if stored.key != key or final.size != info.size or final.sha256 != info.sha256:
            raise StoreError(f"spool: S3 holds other bytes for {key} than the spool")
        self._record(entry, final)
        spool.release(key, final)
        log.info("spool_object_moved", key=key, size=info.size, version_id=final.version_id,
                 existed=stored.existed)

    def _record(self, entry: dict, final: ObjectInfo) -> None:
        """Point every recording held by this spooled object at its S3 copy: several ledger
        rows share one object when the same bytes came from more than one file."""
        if self.ledger is None:
            return
        media_id = entry["metadata"].get("media-id", "")
        self.ledger.record_relocated(
            self.store.spool.name, final.key, store=self.store.primary.name,
            retain_until=final.retain_until, version_id=final.version_id, sha256=final.sha256,
            media_id=int(media_id) if media_id.isdigit() else None)
