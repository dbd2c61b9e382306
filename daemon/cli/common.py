"""What the compliance commands share: opening the ledger, the store and the objects built
on them, the same way the daemon does."""

from __future__ import annotations

import getpass

from evidock.daemon import logging as evidock_logging
from evidock.daemon.compliance import Compliance, build
from evidock.daemon.config import Config
from evidock.daemon.ledger.sqlite import SqliteLedger
from evidock.daemon.store.factory import open_store


def open_compliance(config: Config, *, repair: bool = True) -> tuple[SqliteLedger, Compliance]:
    # log events (alerts raised, holds placed) go to stderr: stdout is the command's output
    evidock_logging.configure(config.log.level, config.log.format)
    ledger = SqliteLedger(config.ledger_path, station=config.station.id)
    return ledger, build(config, ledger, open_store(config), repair=repair)


def default_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"
