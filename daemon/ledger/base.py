"""The ledger contract.

Every ledger backend (SQLite for one station, PostgreSQL for many: postgres.py) implements
:class:`Ledger` and passes the same contract suite in ``tests/daemon/ledger/contract.py``.
Nothing outside ``daemon/ledger/`` speaks SQL or sees a backend's connection type: callers
get records, dicts and :class:`~evidock.daemon.errors.LedgerError` subclasses.

Contract, for every implementation and every write method:

* **One transaction, one history.** A write appends its chained event(s) and changes the
  tables in one transaction.  The tables change only by applying those events through the
  projectors of ``projection.py``, so they are always the projection of the chain, and
  ``verify`` can prove it by replaying the chain.  Each method's docstring (or the table in
  FORMATS.md) names the events it appends; most append exactly one.
* **Duplicates.** Registering what is already there (a device seen again, the same file
  found again, a case imported unchanged, an alert still found, a hold already placed)
  returns the existing row and appends no event.
* **A crash or an exception between two writes** leaves each write whole or absent: an
  exception raised inside a write (a failed check, a refused transition, a kill) rolls back
  its rows and its events together.  Nothing is half written; the caller may retry.
* **Concurrent writers** (threads of one process, or several processes on one ledger) are
  serialised: the chain stays one gap-free sequence, each event chaining the one before.
  A writer that waits longer than the backend allows gets ``LedgerBusy`` (retry).
* **A full disk** raises ``LedgerFull`` and writes nothing; the same call succeeds once
  space is back.  A damaged ledger raises ``LedgerCorrupt``; any other backend failure a
  ``LedgerError``.  No backend error type (``sqlite3.Error`` ...) escapes.
* **State transitions** of a recording follow ``records.TRANSITIONS``; a forbidden one
  raises ``InvalidTransition`` and writes nothing.  Asking for what does not exist raises
  ``NotFound`` (reads of optional rows return None instead, as documented).
* **Durability.** A write is durable (it survives a power cut) when it returns, except the
  *lazy* ones: ``register_media``, ``start_attempt`` and ``record_stored(_many)``, the per-file
  steps before a hand-over.  A lazy write is committed (other readers see it, and it
  survives the process being killed at any point: ``kill -9`` is always safe), but the
  backend may delay making it durable until the next durable write or :meth:`sync`, which
  then makes it durable together with every write before it (SQLite: one WAL fsync;
  PostgreSQL: ``SET LOCAL synchronous_commit = off`` on those transactions).  After a power
  cut only a tail of lazy writes can be missing, whole and in order, never a durable write
  or anything before it.  That is safe because nothing relies on a lazy state: a recording
  found ``seen``/``copying`` is read again, one found ``stored`` is verified again against the
  store before it is handed over, and a durable ``media_verified`` makes the lazy writes of
  that file durable first.  So the ledger costs one sync per group of hand-overs, not four
  per file.
* **Opening**: ``create=False`` on a ledger that does not exist raises ``LedgerMissing``
  ("no ledger at PATH") and creates nothing.
* **Rebuilding**: each backend offers a class method ``rebuild(path, *, station, events)``
  that makes a new ledger whose events are exactly ``events`` (copied verbatim) and whose
  tables are their projection; it refuses a ledger that exists and, when an event cannot
  be applied, fails whole and leaves nothing behind.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Protocol, runtime_checkable

from evidock.daemon.hashing import Digests
from evidock.daemon.ledger.records import DeviceRecord, Event, MediaRecord


@runtime_checkable
class Ledger(Protocol):
    station: str

    # -- whole ledger ------------------------------------------------------------------------

    def now(self) -> str:
        """The ledger clock as ledger text (UTC, fixed width)."""
        ...

    def record(self, kind: str, subject: str, data: dict) -> Event:
        """Append one stand-alone event that changes no table (daemon_started,
        check_failed ...).  A kind with a projector is refused: use its method."""
        ...

    def events(self, *, subject: str | None = None, after: int = 0,
               kinds: Iterable[str] | None = None, since: str | None = None
               ) -> Iterator[Event]:
        """Events in chain order, optionally of one subject, some kinds, or since a time."""
        ...

    def head(self) -> tuple[int, str]:
        """``(seq, hash)`` of the newest event (``(0, 64 zeros)`` when empty)."""
        ...

    def projected_rows(self, table: str) -> Iterator[dict]:
        """Every row of a projected table (projection.TABLES), ordered by its key, with
        column names as keys: what ``verify`` compares with the replay."""
        ...

    def verify(self): ...

    def close(self) -> None: ...

    # -- devices -----------------------------------------------------------------------------

    def ensure_device(self, serial: str, *, source: str, model: str | None = None,
                      vendor: str | None = None, officer_id: str | None = None,
                      officer_name: str | None = None, unit: str | None = None
                      ) -> DeviceRecord:
        """Create the device's row unregistered (``device_seen``) the first time; after
        that return it unchanged, with no event."""
        ...

    def assign_device(self, serial: str, fields: dict, *, by: str) -> DeviceRecord:
        """``device_assigned``: register the device with the fields given (None: keep)."""
        ...

    def record_dock(self, serial: str, port: str, data: dict | None = None) -> None:
        """``device_docked``: last dock time and port."""
        ...

    def record_undock(self, serial: str, port: str) -> None:
        """``device_undocked``: last undock time."""
        ...

    def record_cleared(self, serial: str, relpaths: list[str]) -> None:
        """One ``media_cleared_from_device`` per path, in one transaction."""
        ...

    def device(self, serial: str) -> DeviceRecord: ...

    def devices(self) -> list[DeviceRecord]: ...

    # -- recordings and attempts -------------------------------------------------------------

    def register_media(self, *, device_serial: str, source_path: str, size: int, mtime_ns: int,
                       kind: str, recorded_at: datetime, handover_hours: float,
                       officer_id: str | None = None, clock_offset_s: float | None = None,
                       flags: tuple[str, ...] = (),
                       changes_in_place: bool = False) -> tuple[MediaRecord, bool]:
        """``(row, created)``; the same (device, path bytes, size, mtime) is the same row and
        a second call appends nothing (``media_seen`` only when created).  With
        ``changes_in_place`` a new row supersedes the unstored rows of the file's older
        versions (``media_superseded``)."""
        ...

    def superseded_by(self, media_id: int) -> list[MediaRecord]:
        """The rows the row ``media_id`` superseded."""
        ...

    def supersede_if_replaced(self, media_id: int) -> int | None:
        """End an unstored row ``superseded`` by a newer version of its file, if one is in
        the ledger; that row's id, or None."""
        ...

    def media(self, media_id: int) -> MediaRecord: ...

    def start_attempt(self, media_id: int) -> int:
        """seen/failed -> copying (``attempt_started``); returns the attempt id."""
        ...

    def record_stored(self, media_id: int, attempt_id: int, digests: Digests, *, store: str,
                      object_key: str, retain_until: datetime,
                      version_id: str | None = None) -> None:
        """copying -> stored (``media_stored``, with the store's version id)."""
        ...

    def record_stored_many(self, items: list[tuple[int, int, dict]]) -> None:
        """Group commit of ``record_stored``: for each ``(media_id, attempt_id, receipt)``,
        whose receipt holds ``record_stored``'s keyword arguments (``digests``, ``store``,
        ``object_key``, ``retain_until``), one ``media_stored``, in order, in ONE lazy
        transaction; all or nothing (``InvalidTransition`` for a row not ``copying``)."""
        ...

    def record_verified(self, media_id: int, attempt_id: int | None) -> None:
        """stored -> verified (``media_verified``): handed over.  Durable on return."""
        ...

    def record_verified_many(self, items: list[tuple[int, int | None]]) -> None:
        """Group commit: ``media_verified`` for each ``(media_id, attempt_id)``, in order, in
        ONE transaction made durable once.  All or nothing: one refused transition (a row
        not ``stored``) raises ``InvalidTransition`` and hands over none of them.  An empty
        list writes nothing."""
        ...

    def sync(self) -> None:
        """Make every write that returned so far durable (see "Durability"); the anchor job
        calls it before it writes the chain head into the store, so an anchor never names
        an event a power cut could take back."""
        ...

    def record_failure(self, media_id: int, attempt_id: int | None, error: str, *,
                       retry_at: datetime | None, action: str) -> None:
        """copying/stored -> failed (``attempt_failed``); ``retry_at`` None: gave up."""
        ...

    def recover_interrupted(self) -> list[int]:
        """Every copying file this station may take over back to seen, one
        ``attempt_interrupted`` each, in one transaction; returns their ids.  One station per
        ledger (SQLite): all of them.  A shared ledger: this station's own, and those of
        stations that are gone and whose lease ran out; never a live station's."""
        ...

    def take_over(self, media_id: int) -> bool:
        """A copying recording's claim (its open attempt) ended (``attempt_interrupted``,
        back to seen) when its holder may be taken over from, as above; ``Claimed`` (retry
        later, nothing written) while the holder is alive.  Once taken over, the old
        attempt's ``record_stored`` / ``record_verified`` / ``record_failure`` raise
        ``Claimed`` and write nothing: a recording is never handed over twice.  A ``stored``
        recording stays stored (its bytes are in the store): ``Claimed`` while another live
        station holds it (that station verifies it), else True, and whoever verifies it then
        closes the claim (``record_verified`` without an attempt adopts the open one)."""
        ...

    def record_relocated(self, from_store: str, object_key: str, *, store: str,
                         retain_until: datetime, version_id: str | None, sha256: str,
                         media_id: int | None = None) -> list[int]:
        """One ``media_relocated`` per recording on that spooled object, in one transaction."""
        ...

    def list_media(self, *, device: str | None = None, officer: str | None = None,
                   since: datetime | None = None, until: datetime | None = None,
                   state: str | None = None, limit: int | None = None) -> list[MediaRecord]: ...

    def find_media(self, ref: str) -> MediaRecord: ...

    def verified_sha256(self, serial: str, relpath: str, size: int,
                        mtime_ns: int) -> str | None: ...

    def attempts(self, media_id: int) -> list[dict]: ...

    def due(self, now: datetime | None = None) -> list[MediaRecord]: ...

    def pending_media(self, *, deadline_before: str | None = None,
                      recorded_since: str | None = None) -> list[MediaRecord]: ...

    def counts(self) -> dict[str, int]: ...

    def first_found_after(self, serial: str, at: str) -> str | None: ...

    # -- cases, links, holds, retention, exemptions ------------------------------------------

    def case(self, case_id: str) -> dict | None: ...

    def cases(self, *, status: str | None = None) -> list[dict]: ...

    def import_cases(self, cases: list[dict], *, by: str, source: str) -> tuple[int, int, int]:
        """One ``case_imported`` or ``case_updated`` per new or changed case, none for an
        unchanged one, all in one transaction: a file is imported whole or not at all."""
        ...

    def case_links(self, case_id: str, *, include_unlinked: bool = False) -> list[dict]: ...

    def media_links(self, media_id: int) -> list[dict]:
        """The links of one recording now (not removed), oldest first."""
        ...

    def link_media(self, case_id: str, media_ids: list[int], *, kind: str, note: str,
                   by: str) -> list[int]:
        """``case_linked`` / ``case_link_upgraded`` per recording changed, plus
        ``legal_hold_requested`` for new evidence holds, in one transaction."""
        ...

    def unlink_media(self, case_id: str, media_id: int, *, by: str, reason: str,
                     keep_hold: bool) -> tuple[str, bool]:
        """``case_unlinked``; returns (kind it had, under an active hold)."""
        ...

    def evidence_cases(self, media_id: int, *, besides: str | None = None) -> list[dict]: ...

    def never_linked(self, case_id: str, officers: list[str], start_at: str,
                     end_at: str) -> list[int]: ...

    def case_progress(self, case_id: str) -> dict[str, int]: ...

    def evidence_expiring(self, before: datetime) -> list[dict]: ...

    def hold(self, media_id: int) -> dict | None: ...

    def pending_holds(self) -> list[int]: ...

    def record_hold_placed(self, media_id: int, *, object_key: str, store: str) -> bool:
        """``legal_hold_placed`` once; False and no event when already placed or none."""
        ...

    def record_hold_released(self, media_id: int, *, by: str, reason: str,
                             object_key: str | None) -> bool:
        """``legal_hold_released``; False and no event when no hold is active."""
        ...

    def record_retention(self, media_id: int, *, object_key: str, retain_until: datetime,
                         required: datetime) -> None:
        """``retention_extended``."""
        ...

    def add_exemption(self, values: dict) -> int:
        """``exemption_registered``; returns the new id."""
        ...

    def exemption(self, exemption_id: int) -> dict: ...

    def exemptions(self, *, active_at: datetime | None = None,
                   include_withdrawn: bool = False) -> list[dict]: ...

    def withdraw_exemption(self, exemption_id: int, *, by: str, reason: str) -> None:
        """``exemption_withdrawn``; a second withdrawal is refused."""
        ...

    def correct_exemption(self, exemption_id: int, changes: dict, *, by: str,
                          reason: str) -> dict:
        """``exemption_corrected`` (changed, before); nothing changed: no event, {}."""
        ...

    def recompute_deadline(self, media_id: int, deadline_at: datetime, *, cause: str,
                           exemption_id: int | None) -> bool:
        """``deadline_recomputed`` (earlier or later); unchanged: False, no event."""
        ...

    def media_for_exemption(self, *, officer_id: str | None, device_serial: str | None,
                            start_at: str, end_at: str) -> list[MediaRecord]: ...

    def record_no_footage(self, case_id: str, *, reason: str, by: str, approver: str) -> None:
        """``case_no_footage_recorded`` (R10: why a full-process case has no footage)."""
        ...

    def no_footage(self, case_id: str) -> dict | None: ...

    def move_deadline(self, media_id: int, deadline_at: datetime, *,
                      exemption_id: int) -> bool:
        """``deadline_moved`` if later than the current deadline; else False, no event."""
        ...

    # -- alerts ------------------------------------------------------------------------------

    def alert(self, alert_id: int) -> dict: ...

    def alerts(self, *, open_only: bool = False, check: str | None = None) -> list[dict]: ...

    def open_alert_counts(self) -> dict[tuple[str, str], int]: ...

    def sync_alerts(self, check: str, findings: list[dict]) -> list[tuple[str, int]]:
        """``alert_raised`` / ``alert_escalated`` / ``alert_resolved`` per change, in one
        transaction; a finding already open at the same or a higher severity: no event."""
        ...

    def acknowledge_alert(self, alert_id: int, by: str, reason: str | None = None) -> bool:
        """``alert_acknowledged``; only a raised alert.  An alert about something that
        happened (``alerting.CLOSED_BY_ACK``) needs a reason and is closed by it
        (``alert_resolved``; a late handover also ``handover_late_acknowledged``); returns
        whether it was closed."""
        ...

    def queue_delivery(self, alert_id: int, change: str, sink: str, error: str) -> None:
        """An outbox row and ``alert_delivery_failed``."""
        ...

    def undelivered(self, sink: str, *, limit: int | None = None) -> list[dict]: ...

    def delivery_retried(self, outbox_id: int, error: str) -> None:
        """Outbox bookkeeping only: no event."""
        ...

    def delivered_late(self, outbox_id: int) -> None:
        """``alert_delivered``."""
        ...

    # -- audits and figures ------------------------------------------------------------------

    def given_up(self) -> list[dict]: ...

    def fixity_sample(self, stores: list[str],
                      share: int | None = None) -> tuple[int, list[int]]: ...

    def record_fixity(self, media_id: int, *, ok: bool, detail: str) -> None:
        """``fixity_checked``."""
        ...

    def fixity_failures(self) -> list[dict]: ...

    def fixity_behind(self, stores: list[str], before: str) -> int: ...

    def unrecorded_late(self) -> list[dict]: ...

    def object_versions(self, store: str) -> dict[str, set]:
        """Content key -> version ids recorded for it in ``store`` (None: not recorded)."""
        ...

    def late_unacknowledged(self) -> list[dict]:
        """Late handovers no supervisor has acknowledged yet, with the recording's path."""
        ...

    def record_late(self, items: list[dict]) -> int:
        """One ``handover_late`` per recording not yet recorded late, in one transaction."""
        ...

    def unprobed(self, stores: list[str], limit: int = 50) -> list[tuple[int, str]]: ...

    def record_probe(self, media_id: int, probe: dict) -> None:
        """``media_probed``."""
        ...

    def record_probes(self, results: list[tuple[int, dict]]) -> None:
        """One ``media_probed`` per ``(media_id, probe)``, all in one transaction (one synced
        commit for a batch; a crash loses the whole batch, which is probed again)."""
        ...

    def probe(self, media_id: int) -> dict | None: ...

    # -- derivatives (the queue below handover: ledger/derivatives.py) ------------------------

    def underived(self, stores: list[str], kinds: dict[str, list[str]],
                  limit: int = 100) -> list[int]:
        """Verified recordings in these stores lacking a derivative row of a kind they get."""
        ...

    def queue_derivatives(self, media_id: int, kinds: list[str]) -> list[int]:
        """One ``derivative_queued`` per kind not yet queued (none: no event); only for a
        verified recording, else ``InvalidTransition``."""
        ...

    def start_derivative(self, derivative_id: int) -> int:
        """pending -> running (``derivative_started``); returns the attempt number."""
        ...

    def finish_derivative(self, derivative_id: int, digests: Digests, *, store: str,
                          object_key: str, retain_until: datetime,
                          detail: dict | None = None) -> None:
        """running -> done (``derivative_stored``, with ``detail`` as JSON when given)."""
        ...

    def fail_derivative(self, derivative_id: int, error: str, *, give_up: bool) -> str:
        """running -> failed or pending (``derivative_failed``); returns the new state."""
        ...

    def recover_derivatives(self, max_attempts: int) -> tuple[list[int], list[int]]:
        """Every running derivative back to pending (``derivative_interrupted``) or, with
        its attempts used up, failed (``derivative_failed``), in one transaction."""
        ...

    def retry_derivative(self, derivative_id: int, *, by: str) -> None:
        """failed -> pending, attempts from zero (``derivative_retried``)."""
        ...

    def rebuild_derivatives(self, since: str, *, by: str,
                            kinds: list[str] | None = None) -> list[int]:
        """Done or failed derivatives of recordings handed over since ``since`` back to
        pending (``derivative_rebuilt``); the objects made stay in the store."""
        ...

    def derivative(self, derivative_id: int) -> dict: ...

    def derivatives(self, *, media_id: int | None = None, state: str | None = None,
                    limit: int | None = None) -> list[dict]: ...

    def next_derivatives(self, limit: int) -> list[dict]: ...

    def derivative_counts(self) -> dict: ...

    def derivative_keys(self) -> set[str]: ...

    # -- custody (schema 10; rules in daemon/custody/) ---------------------------------------

    def person(self, person_id: str) -> dict | None: ...

    def people(self) -> list[dict]: ...

    def people_count(self) -> int: ...

    def register_person(self, values: dict, *, by: str) -> bool:
        """Add a person (``person_registered``) or change the fields given
        (``person_updated``, with ``changed`` and ``before``); False and no event when
        nothing changed.  People are never removed: ``active`` 0 retires one."""
        ...

    def set_credential(self, person_id: str, credential: str, *, by: str) -> None:
        """Keep a person's password hash (schema 12, ``person_credentials``, outside the
        projection) and chain ``person_password_set`` without it; ``NotFound`` for no
        such person."""
        ...

    def credential(self, person_id: str) -> str | None: ...

    def set_media_sensitivity(self, media_id: int, label: str, *, by: str,
                              reason: str) -> bool:
        """``media_sensitivity_set``; False (no event) when it already has ``label``."""
        ...

    def set_case_sensitivity(self, case_id: str, label: str, *, by: str, reason: str) -> bool:
        """``case_sensitivity_set`` (the case's ``sensitivity``); ``NotFound`` for no case."""
        ...

    def media_labels(self) -> dict[int, set[str]]:
        """Every recording with a label of its own or of a case it is linked to now."""
        ...

    def case_media(self, case_id: str) -> list[int]: ...

    def add_access_request(self, values: dict) -> int:
        """``access_requested``, state pending; the new id."""
        ...

    def decide_access_request(self, request_id: int, *, approve: bool, by: str, reason: str,
                              expires_at: str | None) -> dict:
        """pending -> approved / denied (``access_approved`` / ``access_denied``); any
        other state raises ``InvalidTransition`` and appends nothing."""
        ...

    def access_request(self, request_id: int) -> dict: ...

    def access_requests(self, *, case_id: str | None = None) -> list[dict]: ...

    def access_events(self, *, since: str | None = None) -> list[dict]:
        """The access log: requests, decisions, views, exports and refusals, chain order."""
        ...

    def add_timestamp(self, *, seq: int, head_hash: str, tsa: str, token: str,
                      gen_time: str, late: bool) -> None:
        """``ledger_timestamped``: an RFC 3161 token over event ``seq``'s hash."""
        ...

    def timestamps(self) -> list[dict]: ...
    # -- perceptual fingerprints (ledger/fingerprints.py) --------------------------------------

    def finish_fingerprint(self, derivative_id: int, digests: Digests, *, store: str,
                           object_key: str, retain_until: datetime, algorithm: str,
                           duration_s: float | None, frames: list) -> None:
        """running -> done (``derivative_stored``) plus ``fingerprint_recorded`` carrying
        every hash, in one transaction; the band index is projected from that event."""
        ...

    def fingerprint(self, media_id: int) -> dict:
        """``frames`` ([[seconds, hex], ...]) and the row; ``NotFound`` if none yet."""
        ...

    def fingerprints_of(self, media_ids: list[int]) -> dict[int, dict]: ...

    def fingerprint_candidates(self, keys: list[int], *, exclude: int | None = None,
                               limit: int = 200) -> list[tuple[int, int]]:
        """(media_id, index keys shared) of recordings sharing any of ``keys``, most first:
        an index lookup, never a scan of every fingerprint."""
        ...

    def fingerprint_count(self) -> int: ...

    def station_figures(self) -> dict: ...

    def annual_figures(self, start: str, end: str) -> dict: ...
