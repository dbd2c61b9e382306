"""The one TOML configuration file, validated strictly.

Found by ``--config PATH``, then ``$EVIDOCK_CONFIG``, then ``/etc/evidock/evidock.toml``;
with none, the embedded defaults below run a complete station with no external service
(a data directory, an SQLite ledger, a local WORM store).  Unknown keys and bad values are
errors that name the key, the value and the file.  Rule numbers (R1..) refer to RULES.md.
"""

from __future__ import annotations

import os
import socket
import tomllib
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from evidock.daemon.errors import ConfigError
from evidock.drivers.watchfolder import DEFAULT_IGNORE

SYSTEM_CONFIG = Path("/etc/evidock/evidock.toml")
SERVICE_DATA_DIR = Path("/var/lib/evidock")

#: R3: recordings are kept at least two years; configuration may only raise this.
MIN_RETENTION_DAYS = 730
#: R1: recordings are handed over within 24 hours; configuration may only shorten this.
MAX_HANDOVER_HOURS = 24


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_default=True, frozen=True)


class StationConfig(Section):
    id: str = Field(
        default_factory=socket.gethostname,
        min_length=1,
        description="Name of this station in the ledger and in alerts (default: host name).",
    )
    custodian: str = Field(
        "", description="The person in charge of this station's footage (R5: 专人专管)."
    )
    data_dir: Path = Field(
        default_factory=lambda: Path(os.environ.get("STATE_DIRECTORY", SERVICE_DATA_DIR)),
        description="Where the ledger, the local store and mount points live.",
    )


class LedgerConfig(Section):
    backend: Literal["sqlite"] = Field("sqlite", description="Ledger database kind.")
    path: Path | None = Field(
        None, description="SQLite file (default: <data_dir>/ledger.sqlite3)."
    )


class LocalStoreConfig(Section):
    type: Literal["local"] = "local"
    path: Path | None = Field(None, description="Store root (default: <data_dir>/store).")
    verify_after_write: bool = Field(
        True, description="Re-read and hash each object after fsync, before handing over."
    )


StoreConfig = Annotated[LocalStoreConfig, Field(discriminator="type")]


class PolicyConfig(Section):
    retention_days: int = Field(
        MIN_RETENTION_DAYS,
        ge=MIN_RETENTION_DAYS,
        le=36500,
        description="Minimum retention of every recording after it was made (R3, floor 730).",
    )
    handover_hours: float = Field(
        MAX_HANDOVER_HOURS,
        gt=0,
        le=MAX_HANDOVER_HOURS,
        description="Hours from the end of a recording to its handover deadline (R1, at most 24).",
    )


class IngestConfig(Section):
    workers: int = Field(2, ge=1, le=64, description="Files read at once (one per device).")
    chunk_size: int = Field(
        1 << 20, ge=4096, le=64 << 20, description="Bytes per read from a device."
    )
    max_attempts: int = Field(
        5, ge=1, le=1000, description="Attempts before a file is quarantined with an alert."
    )
    retry_base_seconds: float = Field(2.0, gt=0, le=3600, description="First retry delay.")
    retry_max_seconds: float = Field(300.0, gt=0, le=86400, description="Longest retry delay.")


class WatchConfig(Section):
    folders: list[Path] = Field(
        default_factory=list,
        description="Folders where recorders or shares drop files, as <folder>/<serial>/...",
    )
    settle_seconds: float = Field(
        5.0, ge=0, le=3600, description="A file is taken once size and mtime stay unchanged this long."
    )
    rescan_seconds: float = Field(
        60.0, ge=1, le=86400, description="Full rescan interval, in case file events were missed."
    )
    ignore: list[str] = Field(
        default_factory=lambda: list(DEFAULT_IGNORE),
        description="Glob patterns of names that are never taken (partial downloads, hidden).",
    )


class UsbConfig(Section):
    enabled: bool = Field(
        True, description="Detect cameras docked over USB (udev) and read them; needs root.")
    profiles_dir: Path | None = Field(
        None, description="Folder of device profiles (*.toml); default: 'profiles' beside "
                          "the configuration file, if there is one.")
    generic_cameras: bool = Field(
        True, description="Take any USB mass-storage device no profile names, with the "
                          "built-in generic profile; false: only profiled models, others alert.")


class LogConfig(Section):
    level: Literal["debug", "info", "warning", "error"] = "info"
    format: Literal["auto", "json", "console"] = Field(
        "auto", description="auto: readable on a terminal, JSON lines otherwise."
    )


class Config(Section):
    station: StationConfig = Field(default_factory=StationConfig)
    ledger: LedgerConfig = Field(default_factory=LedgerConfig)
    store: StoreConfig = Field(default_factory=LocalStoreConfig)
    policy: PolicyConfig = Field(default_factory=PolicyConfig)
    ingest: IngestConfig = Field(default_factory=IngestConfig)
    watch: WatchConfig = Field(default_factory=WatchConfig)
    usb: UsbConfig = Field(default_factory=UsbConfig)
    log: LogConfig = Field(default_factory=LogConfig)

    source: str = Field("embedded defaults", exclude=True, description="Where this came from.")

    # -- derived paths -----------------------------------------------------------------------

    @property
    def data_dir(self) -> Path:
        return self.station.data_dir

    @property
    def ledger_path(self) -> Path:
        return self.ledger.path or self.data_dir / "ledger.sqlite3"

    @property
    def store_path(self) -> Path:
        return self.store.path or self.data_dir / "store"

    @property
    def run_dir(self) -> Path:
        return self.data_dir / "run"


def find_config_file(explicit: str | os.PathLike | None) -> Path | None:
    """``--config``, then ``$EVIDOCK_CONFIG``, then the system file, else embedded defaults."""
    if explicit:
        return Path(explicit)
    env = os.environ.get("EVIDOCK_CONFIG")
    if env:
        return Path(env)
    if SYSTEM_CONFIG.exists():
        return SYSTEM_CONFIG
    return None


def load(path: str | os.PathLike | None = None, *, overrides: dict | None = None) -> Config:
    """Read, merge command-line overrides into, and validate the configuration."""
    file = find_config_file(path)
    raw: dict = {}
    if file is not None:
        try:
            with open(file, "rb") as fh:
                raw = tomllib.load(fh)
        except FileNotFoundError as exc:
            raise ConfigError(
                f"config file {file} does not exist",
                hint="pass an existing file with --config, or none to use the embedded defaults",
            ) from exc
        except OSError as exc:
            raise ConfigError(f"config file {file}: cannot read it: {exc.strerror}") from exc
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config file {file}: not valid TOML: {exc}") from exc
    for dotted, value in (overrides or {}).items():
        node = raw
        *parents, leaf = dotted.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    where = str(file) if file is not None else "embedded defaults"
    try:
        return Config.model_validate({**raw, "source": where})
    except ValidationError as exc:
        raise ConfigError(_describe(exc, where), hint="fix the key named above; "
                          "config/evidock.toml documents every key") from None


def _describe(exc: ValidationError, where: str) -> str:
    lines = [f"invalid configuration in {where}:"]
    for err in exc.errors():
        key = ".".join(str(p) for p in err["loc"] if not str(p).startswith("function-"))
        if err["type"] == "extra_forbidden":
            lines.append(f"  {key}: unknown key")
            continue
        value = err.get("input")
        shown = "" if isinstance(value, dict) else f" = {value!r}"
        lines.append(f"  {key}{shown}: {err['msg']}")
    return "\n".join(lines)


def effective(config: Config) -> dict:
    """The configuration as it will be used, secrets masked, for ``config check``."""
    doc = config.model_dump(mode="json")
    doc["ledger"]["path"] = str(config.ledger_path)
    if doc["store"].get("type") == "local":
        doc["store"]["path"] = str(config.store_path)
    return _mask(doc)


def _mask(node):
    if isinstance(node, dict):
        return {
            k: ("********" if v and any(s in k for s in ("secret", "password", "token")) else _mask(v))
            for k, v in node.items()
        }
    if isinstance(node, list):
        return [_mask(v) for v in node]
    return node
