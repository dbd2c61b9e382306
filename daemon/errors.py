"""One error hierarchy for the whole daemon, classed by what failed.

An error is classed where it originates, never by the ``except`` it reaches: a device read
that fails inside a store's ``put`` is still a :class:`SourceError` (the device file is
wrapped at its source, :class:`evidock.drivers.base.SourceFile`, and :func:`source_error` is
the one classification of an ``OSError`` from a device).  Stores let source errors through
untouched; they never relabel one as a store error.

:data:`TABLE` gives each class what the pipeline does with it and which exit code a command
ends with when it reaches the top.  ``counts`` says whether a failed attempt counts towards
the file's ``ingest.max_attempts``: only a file's own faults do (a file that keeps changing
or keeps reading back other digests).  A vanished device, a store outage, a full store or
refused credentials are not the file's fault: the file backs off and is retried without
limit, so nothing is given up on because the station had a bad half minute.

What each action means:

* ``RETRY``: try the same file again later, with backoff.
* ``QUARANTINE``: this file cannot be taken as it is; stop trying it until it is docked
  again, and raise an alert (handover).
* ``STOP``: the station cannot take work safely (the ledger cannot be written, the store
  refuses the daemon's credentials or set-up).  The pipeline pauses: no worker takes a new
  file while the cause lasts, the file that hit it is kept queued (its attempt is not
  counted), ``evidock status`` and ``/metrics`` show ``paused`` with the cause, and a probe of
  the cause (a ledger write, ``store.check()``) is tried with backoff; when it succeeds the
  pipeline resumes by itself and records ``ingest_resumed``.  A STOP error raised before the
  daemon runs (a command, start-up) ends the process with the class's exit code.

Messages name the file, device or call that failed and what the user can do about it.
Catch broadly only at the top of a job, and record the failure in the ledger there.
"""

from __future__ import annotations

import enum
import errno
from dataclasses import dataclass


class Action(enum.Enum):
    """What the pipeline does with a failed attempt."""

    RETRY = "retry"  # transient: try the same file again later, with backoff
    QUARANTINE = "quarantine"  # this file cannot be taken as it is: stop trying, raise an alert
    STOP = "stop"  # the station cannot take work safely: pause until a probe of the cause passes


class ExitCode(enum.IntEnum):
    """Every exit status of the ``evidock`` command, in one place."""

    OK = 0
    FAILED = 1  # an error, or a command found what it looks for failing (doctor, --until-idle)
    CONFIG = 2  # the configuration is missing or invalid
    LEDGER = 3  # the ledger cannot be opened, read or written
    NOT_FOUND = 4  # no ledger entry matches what was asked for
    VERIFY_FAILED = 5  # ``ledger verify`` found the chain or the tables altered
    CASE_IMPORT = 6  # a case file has bad rows; nothing was imported
    ACCESS_DENIED = 9  # custody: an unknown person, no clearance, no valid approved request
    EXPORT_INVALID = 10  # ``export verify``: the bag differs from what it says it holds
    INTERRUPTED = 130  # Ctrl-C


class EvidockError(Exception):
    """Base of every error the daemon raises on purpose."""

    # set from TABLE at the end of this module; an instance may override ``action``
    action: Action = Action.STOP
    exit_code: int = ExitCode.FAILED
    counts: bool = True

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message


# -- configuration ---------------------------------------------------------------------------


class ConfigError(EvidockError):
    """The configuration file is missing, unreadable or invalid."""


# -- reading from a device or folder ---------------------------------------------------------


class SourceError(EvidockError):
    """Reading a recording from its device failed; the device copy is untouched."""


class SourceVanished(SourceError):
    """The device or file went away while it was read (cable pulled, card removed)."""


class SourceMissing(SourceError):
    """The file is no longer where it was found, though its device is still there."""


class SizeMismatch(SourceError):
    """The number of bytes read differs from the size seen when the file was found."""


class SourceChanged(SourceError):
    """The file changed (size or modification time) while it was being read."""


class MountFailed(SourceError):
    """A docked volume could not be mounted read-only; nothing was read from it."""


class UnsafeSource(SourceError):
    """The path is not a regular file inside the device (a symlink, a device node, ..)."""


#: errno values that mean the device itself went away (or its FUSE server died)
VANISHED_ERRNOS = frozenset({errno.EIO, errno.ENXIO, errno.ENODEV, errno.ENOTCONN,
                             errno.ESTALE})


def source_error(name: str, exc: OSError) -> SourceError:
    """The one classification of an ``OSError`` raised by a device file or folder."""
    if exc.errno in VANISHED_ERRNOS:
        return SourceVanished(f"{name}: {exc.strerror or exc}",
                              hint="the device may have been removed; "
                              "it is read again at the next dock")
    if exc.errno == errno.ENOENT:
        return SourceMissing(f"{name}: {exc.strerror or exc}",
                             hint="it was moved or deleted after it was found")
    return SourceError(f"{name}: {exc.strerror or exc}")


# -- write-once stores -----------------------------------------------------------------------


class StoreError(EvidockError):
    """The store could not complete a call; nothing was committed under a final key."""


class StoreUnavailable(StoreError):
    """The store cannot be reached or is full; work waits and is retried."""


class StoreMisconfigured(StoreError):
    """The store refuses the daemon's requests: wrong credentials, bucket or lock set-up."""


class ObjectMissing(StoreError):
    """The store has no object under this key."""


class ObjectConflict(StoreError):
    """An object already exists under this content key with different bytes.

    Content keys derive from the BLAKE3 digest, so this means corruption or tampering in
    the store: the object is never overwritten and an operator must look.
    """


class IntegrityError(StoreError):
    """What the store holds does not match the digests computed while reading."""


class RetentionError(StoreError):
    """A retention or legal-hold request would weaken a lock, or the store dropped one."""


# -- the ledger ------------------------------------------------------------------------------


class LedgerError(EvidockError):
    """The ledger could not be read or written."""


class LedgerTooNew(LedgerError):
    """The ledger was written by a newer evidock than this one."""


class InvalidTransition(LedgerError):
    """A media file was asked to move to a state its state machine forbids."""


class Claimed(InvalidTransition):
    """Another station holds the recording's claim (an open attempt) and is alive, or took
    the claim over from this one: nothing was written; the file is tried again later, by
    when the other station has handed it over or its lease has run out."""


class NotFound(EvidockError):
    """No ledger entry matches what was asked for."""


# -- the ledger, by what failed (added with the Ledger protocol) -----------------------------


class LedgerFull(LedgerError):
    """The ledger's file system is full: nothing was written; ingest pauses until space is
    back (a probe write succeeds), then goes on by itself."""


class LedgerBusy(LedgerError):
    """Another writer held the ledger longer than the wait allows; nothing was written."""


class LedgerUnavailable(LedgerBusy):
    """The shared ledger's database (PostgreSQL) cannot be reached: nothing was written; the
    work waits on the device and is retried, as for a busy ledger."""


class LedgerCorrupt(LedgerError):
    """The ledger file is damaged or is not a ledger: stop and restore it."""


class LedgerMissing(NotFound):
    """There is no ledger at the path given (a mistyped data directory?); none was created."""


class AnchorMismatch(LedgerError):
    """The ledger does not hold the history anchored in the store (cut, rolled back, rewritten,
    or lost): no new anchor is written over it; ``evidock ledger verify`` says what differs."""

# -- moved here from the modules that raise them ---------------------------------------------


class ShutdownRequested(Exception):
    """Raised inside a read when the daemon is stopping; the attempt is parked, not failed."""


class LoginRequired(Exception):
    """The review room: no valid session; a page redirects to the login, anything else
    answers 401.  Not an EvidockError: nothing is refused, nobody is known yet."""


class CaseImportError(EvidockError):
    """A case file has bad rows; nothing of it was imported."""


class AlertDeliveryFailed(EvidockError):
    """An alert could not be delivered to a sink; the ledger still has it."""


# -- custody (daemon/custody/): who may see what, exports, time stamps -------------------------


class CustodyError(EvidockError):
    """A custody rule refused the command; the refusal is in the ledger's access log."""


class UnknownPerson(CustodyError):
    """The name given (``--by``, ``--as``, or the login name) is not a registered person."""


class AccessDenied(CustodyError):
    """The person's role or clearance does not allow this, or no valid approved request
    covers it."""


class ExportError(EvidockError):
    """A case export could not be written (the target exists, a recording cannot be read)."""


class BagInvalid(EvidockError):
    """``export verify``: a file, manifest or the ledger proof of a bag differs."""


class TimestampUnavailable(EvidockError):
    """The time-stamping authority could not be reached or gave no valid token; the head is
    stamped later and the gap is reported."""


# -- the table -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rule:
    action: Action
    exit_code: int
    counts: bool  # a failed attempt counts towards the file's max_attempts


R, Q, S = Action.RETRY, Action.QUARANTINE, Action.STOP

#: class -> (action, exit code, counts towards quarantine); a class not listed inherits.
# -- derivatives (daemon/derivatives/): ffmpeg runs, recorded on the derivative, never the file

class FfmpegError(EvidockError):
    """An ffmpeg run that did not make its derivative.  ``permanent``: the file itself is
    what ffmpeg refused (trying again gives the same answer)."""

    permanent = False

    def __init__(self, message: str, *, stderr: str = "", hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.stderr = stderr


class FfmpegRefused(FfmpegError):
    """ffmpeg ran and exited with an error: the file is damaged, empty or not supported."""

    permanent = True


class RecoveryImpossible(FfmpegRefused):
    """A battery-cut recording cannot be recovered (no healthy reference recording from its
    device, another codec, no media data); the message says which and what to do."""


class FfmpegTimedOut(FfmpegError):
    """ffmpeg ran longer than derivatives.timeout_seconds allows and was stopped."""


class FfmpegMissing(FfmpegError):
    """The ffmpeg (or ffprobe) program is not installed."""


class DerivativeCancelled(FfmpegError):
    """The daemon is stopping: an ffmpeg run was ended before it finished."""


TABLE: dict[type[EvidockError], Rule] = {
    EvidockError: Rule(S, ExitCode.FAILED, False),
    ConfigError: Rule(S, ExitCode.CONFIG, False),
    # the device: a yanked camera is never given up on; a file's own faults count
    SourceError: Rule(R, ExitCode.FAILED, True),
    SourceVanished: Rule(R, ExitCode.FAILED, False),
    SourceMissing: Rule(R, ExitCode.FAILED, True),
    SizeMismatch: Rule(R, ExitCode.FAILED, True),
    SourceChanged: Rule(R, ExitCode.FAILED, True),
    MountFailed: Rule(R, ExitCode.FAILED, False),
    UnsafeSource: Rule(Q, ExitCode.FAILED, True),
    # the store: an outage, a full disk or refused credentials never use up attempts
    StoreError: Rule(R, ExitCode.FAILED, False),
    StoreUnavailable: Rule(R, ExitCode.FAILED, False),
    StoreMisconfigured: Rule(S, ExitCode.FAILED, False),
    ObjectMissing: Rule(Q, ExitCode.FAILED, True),
    ObjectConflict: Rule(Q, ExitCode.FAILED, True),
    IntegrityError: Rule(R, ExitCode.FAILED, True),
    RetentionError: Rule(Q, ExitCode.FAILED, True),
    # the ledger: nothing can be recorded, so nothing is taken
    LedgerError: Rule(S, ExitCode.LEDGER, False),
    LedgerTooNew: Rule(S, ExitCode.LEDGER, False),
    InvalidTransition: Rule(S, ExitCode.LEDGER, False),
    Claimed: Rule(R, ExitCode.LEDGER, False),
    LedgerFull: Rule(S, ExitCode.LEDGER, False),
    LedgerBusy: Rule(R, ExitCode.LEDGER, False),
    LedgerUnavailable: Rule(R, ExitCode.LEDGER, False),
    LedgerCorrupt: Rule(S, ExitCode.LEDGER, False),
    AnchorMismatch: Rule(S, ExitCode.VERIFY_FAILED, False),
    NotFound: Rule(S, ExitCode.NOT_FOUND, False),
    LedgerMissing: Rule(S, ExitCode.NOT_FOUND, False),
    CaseImportError: Rule(S, ExitCode.CASE_IMPORT, False),
    AlertDeliveryFailed: Rule(R, ExitCode.FAILED, False),
    # derivatives: the original is handed over already; the derivative's attempts count
    FfmpegError: Rule(R, ExitCode.FAILED, True),
    FfmpegRefused: Rule(Q, ExitCode.FAILED, True),
    RecoveryImpossible: Rule(Q, ExitCode.FAILED, True),
    FfmpegTimedOut: Rule(R, ExitCode.FAILED, True),
    FfmpegMissing: Rule(R, ExitCode.FAILED, True),
    DerivativeCancelled: Rule(R, ExitCode.FAILED, False),
    # custody: refusals are final for the command; a TSA outage is retried by the schedule
    CustodyError: Rule(S, ExitCode.ACCESS_DENIED, False),
    UnknownPerson: Rule(S, ExitCode.ACCESS_DENIED, False),
    AccessDenied: Rule(S, ExitCode.ACCESS_DENIED, False),
    ExportError: Rule(S, ExitCode.FAILED, False),
    BagInvalid: Rule(S, ExitCode.EXPORT_INVALID, False),
    TimestampUnavailable: Rule(R, ExitCode.FAILED, False),
}

for _cls, _rule in TABLE.items():
    _cls.action, _cls.exit_code, _cls.counts = _rule.action, int(_rule.exit_code), _rule.counts
del _cls, _rule

