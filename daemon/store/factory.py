"""Build the configured store; the only place that knows every store type."""

from __future__ import annotations

from evidock.daemon.config import Config
from evidock.daemon.store.base import WormStore


def open_store(config: Config) -> WormStore:
    if config.store.type == "local":
        from evidock.daemon.store.local import LocalWormStore

        return LocalWormStore(config.store_path,
                              verify_after_write=config.store.verify_after_write)
    raise AssertionError(f"unhandled store type {config.store.type!r}")  # config validated it
