"""One error hierarchy for the whole daemon.

Each error class says what the caller must do with the failure (``action``) and which exit
code a command ends with when the error reaches the top.  Messages name the file, device or
call that failed and what the user can do about it.  Catch broadly only at the top of a job,
and record the failure in the ledger there.
"""

from __future__ import annotations

import enum


class Action(enum.Enum):
    """What the pipeline does with a failed attempt."""

    RETRY = "retry"  # transient: try the same file again later, with backoff
    QUARANTINE = "quarantine"  # this file cannot be taken as it is: stop trying, raise an alert
    STOP = "stop"  # the daemon cannot go on safely: stop taking work


class EvidockError(Exception):
    """Base of every error the daemon raises on purpose."""

    action: Action = Action.STOP
    exit_code: int = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message


# -- configuration ---------------------------------------------------------------------------


class ConfigError(EvidockError):
    """The configuration file is missing, unreadable or invalid."""

    exit_code = 2


# -- reading from a device or folder ---------------------------------------------------------


class SourceError(EvidockError):
    """Reading a recording from its device failed; the device copy is untouched."""

    action = Action.RETRY


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

    action = Action.QUARANTINE


# -- write-once stores -----------------------------------------------------------------------


class StoreError(EvidockError):
    """The store could not complete a call; nothing was committed under a final key."""

    action = Action.RETRY


class StoreUnavailable(StoreError):
    """The store cannot be reached or is full; work waits and is retried."""


class StoreMisconfigured(StoreError):
    """The store refuses the daemon's requests: wrong credentials, bucket or lock set-up."""

    action = Action.STOP


class ObjectMissing(StoreError):
    """The store has no object under this key."""

    action = Action.QUARANTINE


class ObjectConflict(StoreError):
    """An object already exists under this content key with different bytes.

    Content keys derive from the BLAKE3 digest, so this means corruption or tampering in
    the store: the object is never overwritten and an operator must look.
    """

    action = Action.QUARANTINE


class IntegrityError(StoreError):
    """What the store holds does not match the digests computed while reading."""


class RetentionError(StoreError):
    """A retention or legal-hold request would weaken a lock, or the store dropped one."""

    action = Action.QUARANTINE


# -- the ledger ------------------------------------------------------------------------------


class LedgerError(EvidockError):
    """The ledger could not be read or written."""

    exit_code = 3


class LedgerTooNew(LedgerError):
    """The ledger was written by a newer evidock than this one."""


class InvalidTransition(LedgerError):
    """A media file was asked to move to a state its state machine forbids."""


class NotFound(EvidockError):
    """No ledger entry matches what was asked for."""

    exit_code = 4


# -- the ledger, by what failed (added with the Ledger protocol) -----------------------------


class LedgerFull(LedgerError):
    """The ledger's file system is full: nothing was written; retry once space is back."""

    action = Action.RETRY


class LedgerBusy(LedgerError):
    """Another writer held the ledger longer than the wait allows; nothing was written."""

    action = Action.RETRY


class LedgerCorrupt(LedgerError):
    """The ledger file is damaged or is not a ledger: stop and restore it."""


class LedgerMissing(NotFound):
    """There is no ledger at the path given (a mistyped data directory?); none was created."""


class AnchorMismatch(LedgerError):
    """The ledger does not hold the history anchored in the store (cut, rolled back, rewritten,
    or lost): no new anchor is written over it; ``evidock ledger verify`` says what differs."""

    exit_code = 5
