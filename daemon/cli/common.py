"""What the commands share: their parts come from the composition root (daemon/wiring.py), built
the same way as the daemon's and only as far as the command needs them."""

from __future__ import annotations

import getpass

from evidock.daemon import logging as evidock_logging
from evidock.daemon.config import Config
from evidock.daemon.errors import EvidockError
from evidock.daemon.ledger.sqlite import SqliteLedger
from evidock.daemon.wiring import Compliance, Wiring


def wiring(config: Config, *, ledger_may_be_new: bool = False, repair: bool = True) -> Wiring:
    """The parts of a command.  Only commands that register something may create the ledger
    (``ledger_may_be_new``); for every other one a missing ledger is an error."""
    # log events (alerts raised, holds placed) go to stderr: stdout is the command's output
    evidock_logging.configure(config.log.level, config.log.format)
    return Wiring(config, ledger_may_be_new=ledger_may_be_new, repair=repair)


def open_ledger(config: Config, *, may_be_new: bool = False) -> SqliteLedger:
    return wiring(config, ledger_may_be_new=may_be_new).ledger


def open_compliance(config: Config, *, repair: bool = True,
                    ledger_may_be_new: bool = False) -> tuple[SqliteLedger, Compliance]:
    parts = wiring(config, ledger_may_be_new=ledger_may_be_new, repair=repair)
    return parts.ledger, parts.compliance


def default_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def person(name: str | None, *, what: str = "--by") -> str:
    """Who did something (``--by``, ``--approver``): free text today, in this one place, so it
    can become a registered person (the people registry) without touching every command."""
    text = (name or "").strip()
    if not text:
        raise EvidockError(f"{what} needs a name", hint=f"pass {what} NAME")
    return text
