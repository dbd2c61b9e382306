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
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from evidock.daemon.errors import ConfigError, StoreMisconfigured
from evidock.drivers.watchfolder import DEFAULT_IGNORE

SYSTEM_CONFIG = Path("/etc/evidock/evidock.toml")
SERVICE_DATA_DIR = Path("/var/lib/evidock")

#: R3: recordings are kept at least two years; configuration may only raise this.
MIN_RETENTION_DAYS = 730
#: R1: recordings are handed over within 24 hours; configuration may only shorten this.
MAX_HANDOVER_HOURS = 24


def read_secret(credential: str, env: str) -> str:
    """A secret from systemd's credentials ($CREDENTIALS_DIRECTORY/<credential>, from
    LoadCredential=) or else from the environment variable ``env``; "" when neither has it."""
    creds = os.environ.get("CREDENTIALS_DIRECTORY")
    path = Path(creds, credential) if creds else None
    if path is not None and path.is_file():
        return path.read_text().strip()
    return os.environ.get(env, "").strip() if env else ""


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
    time_zone: str = Field(
        "", description="Zone that tables show times in, with their offset (e.g. "
        "Asia/Shanghai); empty: this machine's zone. The ledger and --json stay in UTC.")

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        if value:
            try:
                ZoneInfo(value)
            except (ZoneInfoNotFoundError, ValueError) as exc:
                raise ValueError(f"unknown time zone {value!r}") from exc
        return value
    name: str = Field(
        "", description="Name shown to people at the station (status, kiosk screen); "
        "default: the id.")
    language: Literal["zh-CN", "en"] = Field(
        "zh-CN", description="Language of the station's kiosk screen (/station).")
    undocked_linger_seconds: float = Field(
        60.0, ge=0, le=3600,
        description="How long a device that was undocked stays on the status and the kiosk "
        "screen, so its officer sees how it ended.")
    slots: dict[str, str] = Field(
        default_factory=dict,
        description="Labels printed on the docks, by port (udev ID_PATH, as `evidock status` "
        "shows it): shown instead of the port.")

    @property
    def display_name(self) -> str:
        return self.name or self.id


class LedgerConfig(Section):
    """``type = "sqlite"``: this station's own file (the embedded default).  ``"postgres"``:
    one ledger shared by many stations (``dsn``; the password never in this file: the
    systemd credential ``ledger-password``, ``password_file``, or ``$EVIDOCK_LEDGER_PASSWORD``)."""

    type: Literal["sqlite", "postgres"] = Field(
        "sqlite", validation_alias=AliasChoices("type", "backend"),
        description="Ledger database kind (the older key `backend` is read too).")
    path: Path | None = Field(
        None, description="SQLite file (default: <data_dir>/ledger.sqlite3)."
    )
    dsn: str = Field(
        "", description="PostgreSQL connection string without the password, e.g. "
        "'host=db.example port=5432 dbname=evidock user=evidock sslmode=verify-full'.")
    schema_name: str = Field(
        "public", alias="schema", pattern=r"^[a-z_][a-z0-9_]{0,62}$",
        description="PostgreSQL schema holding the ledger's tables.")
    password_file: Path | None = Field(
        None, description="File with the PostgreSQL password (used when no systemd credential "
        "`ledger-password` is given).")
    password_env: str = Field(
        "EVIDOCK_LEDGER_PASSWORD", description="Env var with the PostgreSQL password (last).")
    pool_size: int = Field(4, ge=1, le=64, description="PostgreSQL connections per station.")
    busy_timeout_seconds: float = Field(
        30.0, gt=0, le=600, description="Longest wait for the ledger's write lock before the "
        "work is retried (LedgerBusy).")
    lease_seconds: float = Field(
        120.0, ge=1, le=86400, description="PostgreSQL: a recording claimed (being copied) by "
        "a station that is gone (its session ended) for this long is taken over by another.")

    @model_validator(mode="after")
    def _postgres_needs_a_dsn(self) -> LedgerConfig:
        if self.type == "postgres" and not self.dsn.strip():
            raise ValueError("ledger.type = \"postgres\" needs ledger.dsn (host, port, dbname, "
                             "user; the password comes from a credential or password_file)")
        return self

    def password(self) -> str | None:
        """The PostgreSQL password, read now: systemd credential ``ledger-password``, then
        ``password_file``, then the environment; None when none has one (trust/peer auth)."""
        found = read_secret("ledger-password", "")
        if not found and self.password_file is not None:
            try:
                found = self.password_file.read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise ConfigError(f"ledger.password_file {self.password_file}: cannot read "
                                  f"it: {exc.strerror}") from exc
        if not found:
            found = os.environ.get(self.password_env, "").strip()
        return found or None


class LocalStoreConfig(Section):
    type: Literal["local"] = "local"
    path: Path | None = Field(None, description="Store root (default: <data_dir>/store).")
    verify_after_write: bool = Field(
        True, description="Re-read and hash each object after fsync, before handing over."
    )


class SpoolConfig(Section):
    path: Path | None = Field(None, description="Spool root (default: <data_dir>/spool).")
    max_gib: float = Field(
        50.0, gt=0, le=1 << 20,
        description="Largest spool; when full, new files wait on the device (R1 alerts follow).")
    warn_fraction: float = Field(
        0.8, gt=0, le=1, description="Warn (log + status) once the spool is this full.")
    max_age_hours: float = Field(
        12.0, gt=0, le=24 * 30, description="Warn when a spooled file has waited this long for S3.")
    deadline_margin_minutes: float = Field(
        60.0, ge=0, le=23 * 60, description="A recording that S3, at the rate it has shown, "
        "would finish later than this before its handover deadline goes to the spool (R1).")
    drain_interval_seconds: float = Field(
        10.0, gt=0, le=3600, description="How often the drainer looks for spooled files.")
    retry_max_seconds: float = Field(
        300.0, gt=0, le=86400, description="Longest wait between drain attempts while S3 is down.")


class S3StoreConfig(Section):
    """An S3 bucket with versioning and Object Lock (COMPLIANCE).  The access key and secret
    are never in this file: they come from systemd credentials (``LoadCredential=`` names
    ``s3-access-key`` and ``s3-secret-key``) or from the environment variables named below."""

    type: Literal["s3"]
    endpoint: str = Field(
        ..., min_length=1, description="host[:port] or http(s)://host[:port] of the S3 service.")
    region: str = Field("us-east-1", min_length=1, description="Bucket region.")
    bucket: str = Field(
        ..., pattern=r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", description="Evidence bucket.")
    secure: bool = Field(True, description="Use TLS (https); an http:// endpoint turns it off.")
    ca_bundle: Path | None = Field(None, description="PEM file of CAs to trust (private CA).")
    access_key_env: str = Field("EVIDOCK_S3_ACCESS_KEY", description="Env var with the key id.")
    secret_key_env: str = Field("EVIDOCK_S3_SECRET_KEY", description="Env var with the secret.")
    custodian_releases_holds: bool = Field(
        False, description="Release legal holds only with the custodian's own S3 credential "
        "(LoadCredential= s3-custodian-access-key / s3-custodian-secret-key, or the variables "
        "below), so the daemon's policy can deny hold release (config/s3-policy.json).")
    custodian_access_key_env: str = Field("EVIDOCK_S3_CUSTODIAN_ACCESS_KEY",
                                          description="Env var with the custodian's key id.")
    custodian_secret_key_env: str = Field("EVIDOCK_S3_CUSTODIAN_SECRET_KEY",
                                          description="Env var with the custodian's secret.")
    part_size_mib: int = Field(16, ge=5, le=512, description="Multipart part size, MiB.")
    concurrency: int = Field(4, ge=1, le=32, description="Parts uploaded at once per file.")
    timeout_seconds: float = Field(
        30.0, gt=0, le=600, description="Network timeout; longer stalls count as S3 down.")
    staging_retention_hours: float = Field(
        24.0, ge=1, le=24 * 30, description="Lock on staged uploads before a lifecycle rule "
        "clears them (daemon/FORMATS.md, S3 store).")
    allow_unlocked_bucket: bool = Field(
        False, description="Start even if the bucket has no Object Lock (tests only: recordings "
        "could then be deleted).")
    spool: SpoolConfig = Field(default_factory=SpoolConfig)

    def credentials(self, *, custodian: bool = False) -> tuple[str, str]:
        """The access key and secret, read now from $CREDENTIALS_DIRECTORY or the environment
        (``custodian``: the custodian's, which alone may release legal holds).

        Read when the S3 store talks to S3, never while the configuration is validated: a
        command that needs only the ledger works on a station whose secrets it cannot see."""
        who = "s3-custodian" if custodian else "s3"
        envs = ((self.custodian_access_key_env, self.custodian_secret_key_env) if custodian
                else (self.access_key_env, self.secret_key_env))
        found = {name: read_secret(name, env) for name, env in (
            (f"{who}-access-key", envs[0]), (f"{who}-secret-key", envs[1]))}
        missing = [n for n, v in found.items() if not v]
        if missing:
            raise StoreMisconfigured(
                f"S3 {'custodian ' if custodian else ''}credentials not found "
                f"({', '.join(missing)})",
                hint=f"set {envs[0]} and {envs[1]}, or give systemd "
                f"LoadCredential={who}-access-key:FILE and LoadCredential={who}-secret-key:FILE")
        return found[f"{who}-access-key"], found[f"{who}-secret-key"]

    def host_and_tls(self) -> tuple[str, bool]:
        for scheme, tls in (("https://", True), ("http://", False)):
            if self.endpoint.startswith(scheme):
                return self.endpoint[len(scheme):].rstrip("/"), tls
        return self.endpoint.rstrip("/"), self.secure


StoreConfig = Annotated[LocalStoreConfig | S3StoreConfig, Field(discriminator="type")]


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
    probe: bool = Field(
        True, description="ffprobe each stored video and audio recording (duration, codecs) "
        "while no device is being read; needs the ffmpeg package.")
    stuck_seconds: float = Field(
        300.0, ge=5, le=86400,
        description="A worker that has read nothing of its file for this long is stuck: it "
        "shows in status, /metrics and an alert, and systemd's watchdog is no longer pinged.")


class DerivativesConfig(Section):
    enabled: bool = Field(
        True, description="Make review derivatives of each handed-over recording (video: an "
        "H.264/AAC proxy MP4, a JPEG poster, a sprite sheet with its WebVTT index and a "
        "perceptual fingerprint; audio: an AAC proxy and a waveform; stills: a JPEG "
        "thumbnail), as separate write-once objects, below ingest: only while no device is "
        "being read, niced and in the idle I/O class. Needs the ffmpeg package.")
    concurrency: int = Field(1, ge=1, le=8, description="ffmpeg processes at once.")
    max_attempts: int = Field(
        3, ge=1, le=20, description="Starts of one derivative (a crash counts) before it is "
        "given up as failed; a file ffmpeg refuses fails at the first attempt.")
    timeout_seconds: float = Field(
        1800.0, ge=10, le=86400, description="Longest one ffmpeg run may take (time paused "
        "while a device is read does not count); then it is stopped and the attempt fails.")
    proxy_width: int = Field(640, ge=64, le=3840,
                             description="Proxy frame width (height for a portrait video).")
    proxy_height: int = Field(360, ge=64, le=2160,
                              description="Proxy frame height (width for a portrait video).")
    proxy_video_kbps: int = Field(700, ge=100, le=20000,
                                  description="Proxy video bitrate, kbit/s.")
    proxy_audio_kbps: int = Field(64, ge=16, le=320,
                                  description="Proxy (and audio proxy) AAC bitrate, kbit/s.")
    proxy_preset: Literal["ultrafast", "superfast", "veryfast", "faster", "fast",
                          "medium"] = Field(
        "veryfast", description="x264 preset of the proxy: faster presets cost less CPU and "
        "look worse at the same bitrate.")
    poster_width: int = Field(640, ge=64, le=3840,
                              description="Width of a poster frame or a still's thumbnail.")
    sprite_every_seconds: float = Field(
        5.0, ge=0.5, le=600, description="A scrubbing sprite sheet has one tile per this many "
        "seconds of video (a recording longer than 600 tiles gets longer intervals).")
    sprite_tile_width: int = Field(160, ge=32, le=640,
                                   description="Width of one sprite tile (height by aspect).")
    waveform_width: int = Field(1200, ge=100, le=8000,
                                description="Width of an audio recording's waveform image.")
    waveform_height: int = Field(200, ge=20, le=2000,
                                 description="Height of an audio recording's waveform image.")
    nice: int = Field(19, ge=0, le=19, description="Niceness of each ffmpeg process.")
    ionice_idle: bool = Field(
        True, description="Run ffmpeg in the idle I/O class (ionice -c3), so a device "
        "being read keeps the disk.")


class WatchConfig(Section):
    folders: list[Path] = Field(
        default_factory=list,
        description="Folders where recorders or shares drop files, as <folder>/<serial>/...",
    )
    settle_seconds: float = Field(
        5.0, ge=0, le=3600,
        description="A file is taken once size and mtime stay unchanged this long."
    )
    rescan_seconds: float = Field(
        60.0, ge=1, le=86400, description="Full rescan interval, in case file events were missed."
    )
    ignore: list[str] = Field(
        default_factory=lambda: list(DEFAULT_IGNORE),
        description="Glob patterns of names that are never taken (partial downloads, hidden).",
    )
    profile: str = Field(
        "generic", min_length=1,
        description="Device profile (by name, from the profiles folder) whose file-name "
        "pattern gives the recording start time of dropped files; 'generic' is built in.")


class UsbConfig(Section):
    enabled: bool = Field(
        True, description="Detect cameras docked over USB (udev) and read them; needs root.")
    profiles_dir: Path | None = Field(
        None, description="Folder of device profiles (*.toml); default: 'profiles' beside "
                          "the configuration file, if there is one.")
    generic_cameras: bool = Field(
        True, description="Take any USB mass-storage device no profile names, with the "
                          "built-in generic profile; false: only profiled models, others alert.")


#: R10: activities that must be recorded in full (全程音像记录), named as the seeds name them
#: (003 第十三条: 现场检查、抽样调查、举行听证、留置送达、查封扣押财产; 001 (五): 查封扣押财产、
#: 强制拆除; 004 附件2 第十五条: 限制公民人身自由、查封、扣押; 第二十五条: 留置送达); each agency
#: extends the list (音像记录事项清单).
FULL_PROCESS_TYPES = ["查封扣押", "强制拆除", "现场检查", "抽样取证", "听证", "留置送达",
                      "限制人身自由"]
#: How case systems (and evidock before schema 9) name those activities: the case type an
#: import gives is mapped to the listed name, so 查封扣押财产, 扣押财物 and seizure all count.
TYPE_SYNONYMS = {
    "查封扣押财产": "查封扣押", "查封": "查封扣押", "扣押": "查封扣押", "扣押财物": "查封扣押",
    "查封场所、设施或财物": "查封扣押", "seizure": "查封扣押", "detention": "查封扣押",
    "强制拆除违法建筑": "强制拆除", "forced_demolition": "强制拆除",
    "现场检查勘验": "现场检查", "现场勘验": "现场检查", "现场检查（勘验）": "现场检查",
    "on_site_inspection": "现场检查",
    "抽样调查": "抽样取证", "抽查取样": "抽样取证", "抽样": "抽样取证", "sampling": "抽样取证",
    "举行听证": "听证", "听证会": "听证", "听证取证": "听证", "hearing": "听证",
    "service_by_leaving": "留置送达",
    "限制公民人身自由": "限制人身自由",
}
#: R2: why a handover may wait for the officer's return to the unit.
EXEMPTION_REASONS = ["continuous_duty", "away_from_unit", "remote_area"]
#: R7: records are archived within 30 days of the action ending; configuration may shorten it.
MAX_ARCHIVE_DAYS = 30


class CasesConfig(Section):
    auto_link: Literal["off", "candidate", "evidence"] = Field(
        "candidate", description="Link a case officer's recordings made inside the case's time "
        "window automatically: as candidates for review, as evidence (legal hold), or not at all.")
    full_process_types: list[str] = Field(
        default_factory=lambda: list(FULL_PROCESS_TYPES),
        description="Case types that must have footage (R10): such a case with no linked "
        "recording raises an alert.")
    type_synonyms: dict[str, str] = Field(
        default_factory=lambda: dict(TYPE_SYNONYMS),
        description="Case type as the case system writes it -> the name used here (and in "
        "full_process_types); applied by 'cases import' and by the R10 check.")
    retention_days_by_type: dict[str, Annotated[int, Field(ge=MIN_RETENTION_DAYS, le=36500)]] = (
        Field(default_factory=dict, description="Longer retention for evidence of some case "
              "types, e.g. {hearing = 3650} (R3; never below the policy floor of 730 days)."))
    archive_days: int = Field(
        MAX_ARCHIVE_DAYS, ge=1, le=MAX_ARCHIVE_DAYS,
        description="Days after a case closes by which its footage must be linked and stored "
        "(R7, at most 30).")
    time_zone: str = Field(
        "UTC", description="Zone of imported case times written without an offset "
        "(e.g. Asia/Shanghai).")

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value


ROLES = ("officer", "archivist", "approver", "auditor", "admin")
SENSITIVITY_LABELS = ("normal", "privacy", "trade_secret", "state_secret")


def _default_clearance() -> dict[str, list[str]]:
    # R9: only the agency head (approver) sees every label by default; auditors read the
    # access log, not the footage
    return {"officer": ["normal"], "archivist": ["normal", "privacy"],
            "approver": list(SENSITIVITY_LABELS), "auditor": ["normal"], "admin": ["normal"]}


class CustodyConfig(Section):
    labels: list[str] = Field(
        default_factory=lambda: list(SENSITIVITY_LABELS), min_length=1,
        description="Sensitivity labels of recordings and cases (R9); the first one "
        "restricts nothing.")
    aliases: dict[str, str] = Field(
        default_factory=lambda: {"confidential": "trade_secret", "secret": "state_secret"},
        description="Other names case systems give a label (imported case sensitivities).")
    clearance: dict[Literal["officer", "archivist", "approver", "auditor", "admin"],
                    list[str]] = Field(
        default_factory=_default_clearance,
        description="The labels each role may list, see and export; a person may be given "
        "more (`people add --clearance`).")
    approval_days: float = Field(
        7, gt=0, le=365, description="How long an approved access request stays valid unless "
        "the approver gives --days.")

    @field_validator("clearance")
    @classmethod
    def _known_labels(cls, value, info):
        labels = set(info.data.get("labels") or SENSITIVITY_LABELS)
        for role, given in value.items():
            unknown = sorted(set(given) - labels)
            if unknown:
                raise ValueError(f"role {role}: unknown label(s) {', '.join(unknown)}")
        return {**_default_clearance(), **value}

    def label(self, name: str) -> str:
        """A label by its name or alias, or ValueError naming the known ones."""
        name = self.aliases.get(name, name)
        if name not in self.labels:
            raise ValueError(f"unknown sensitivity {name!r}: one of {', '.join(self.labels)}")
        return name


class TimestampsConfig(Section):
    tsa_url: str = Field(
        "", pattern=r"^(https?://\S+)?$",
        description="RFC 3161 time-stamping authority the chain head is sent to (empty: none; "
        "`doctor` says so).")
    tsa_certificate: Path | None = Field(
        None, description="PEM certificate of the authority's signing key: tokens are checked "
        "against it and it goes into export bags.")
    tsa_ca: Path | None = Field(
        None, description="PEM file of the CA that issued the authority's certificate, for "
        "`openssl ts -verify` (put into export bags).")
    every_hours: float = Field(
        24, ge=0.1, le=24 * 31, description="How often the chain head is time-stamped (also "
        "at every export).")
    timeout_seconds: float = Field(10, gt=0, le=120, description="Per-request timeout.")


class ChecksConfig(Section):
    handover_every_minutes: float = Field(
        5, ge=0.5, le=1440, description="How often the handover clock is checked (R1, R2).")
    handover_lead_hours: float = Field(
        4, ge=0, le=MAX_HANDOVER_HOURS,
        description="Warn this long before a deadline: recordings not yet handed over, devices "
        "out of their dock.")
    device_lookback_hours: float = Field(
        24, ge=1, le=24 * 90, description="How long an unknown or unreadable device, or a file "
        "that could not be read, stays alerted after it was last seen (R12, R4).")
    exemption_reasons: list[str] = Field(
        default_factory=lambda: list(EXEMPTION_REASONS), min_length=1,
        description="Reasons a duty exemption may give (R2).")
    retention_at: str = Field(
        "02:30", pattern=r"^([01]\d|2[0-3]):[0-5]\d$",
        description="Daily time (station local, HH:MM) of the ledger-store retention audit.")
    retention_lead_days: int = Field(
        90, ge=1, le=3650, description="Alert this long before an evidence object's retention "
        "ends while its case is still open (R3).")
    fixity_at: str = Field(
        "03:30", pattern=r"^([01]\d|2[0-3]):[0-5]\d$",
        description="Daily time (HH:MM) of the fixity audit.")
    fixity_cycle_days: int = Field(
        30, ge=1, le=3650, description="Every stored object is re-read and re-hashed at least "
        "once in this many days; each daily run checks its share (R4).")
    archive_every_hours: float = Field(
        6, ge=0.25, le=168, description="How often closed cases are checked (R7) and listed "
        "case types for footage (R10).")
    anchor_every_minutes: float = Field(
        15, ge=0.1, le=1440, description="How often the ledger's chain head and the events "
        "since the last anchor are written into the write-once store (also at stop and after a "
        "device is handed over), so a cut, rolled-back or lost ledger is detected and rebuilt.")
    inventory_at: str = Field(
        "04:30", pattern=r"^([01]\d|2[0-3]):[0-5]\d$",
        description="Daily time (HH:MM) of the store-to-ledger audit: every object in the "
        "store is accounted for by the ledger, every anchor chains to the one before.")


class AlertsConfig(Section):
    log: bool = Field(True, description="Write every raised, acknowledged and resolved alert "
                      "to the log.")
    webhook_url: str = Field(
        "", pattern=r"^(https?://\S+)?$",
        description="POST each alert change as JSON to this URL (empty: no webhook).")
    webhook_retries: int = Field(3, ge=0, le=20, description="Retries after a failed POST.")
    webhook_timeout_seconds: float = Field(5, gt=0, le=120, description="Per-request timeout.")
    webhook_backoff_seconds: float = Field(
        1, ge=0, le=600, description="First delay between retries; doubles each time.")
    webhook_secret_env: str = Field(
        "EVIDOCK_WEBHOOK_SECRET", description="Env var with the key that signs each POST "
        "(HMAC-SHA256; or LoadCredential=webhook-secret:FILE); unset: POSTs are not signed.")

    @property
    def webhook_secret(self) -> str:
        """Read when the webhook sink is built (not while the configuration is validated)."""
        return read_secret("webhook-secret", self.webhook_secret_env)


class MetricsConfig(Section):
    enabled: bool = Field(True, description="Serve Prometheus metrics at /metrics.")
    bind: str = Field("127.0.0.1", min_length=1,
                      description="Address to listen on (0.0.0.0 for every interface).")
    port: int = Field(9580, ge=1, le=65535, description="TCP port of the metrics endpoint.")


class WebConfig(Section):
    enabled: bool = Field(True, description="Serve the kiosk page (/station) for the screen "
                          "beside the docks.")
    bind: str = Field("127.0.0.1", min_length=1,
                      description="Address to listen on: loopback for a screen on the station "
                      "itself; the kiosk needs no login and shows no file names.")
    review: bool = Field(True, description="Serve the review room (/review) beside the kiosk: "
                         "archivists log in (evidock people password) to search, watch under "
                         "an approved access request, link and export.")
    port: int = Field(9581, ge=0, le=65535,
                      description="TCP port of the web pages (0: any free port, shown by "
                      "`evidock status`).")


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
    derivatives: DerivativesConfig = Field(default_factory=DerivativesConfig)
    watch: WatchConfig = Field(default_factory=WatchConfig)
    usb: UsbConfig = Field(default_factory=UsbConfig)
    log: LogConfig = Field(default_factory=LogConfig)
    cases: CasesConfig = Field(default_factory=CasesConfig)
    checks: ChecksConfig = Field(default_factory=ChecksConfig)
    alerts: AlertsConfig = Field(default_factory=AlertsConfig)
    metrics: MetricsConfig = Field(default_factory=MetricsConfig)
    custody: CustodyConfig = Field(default_factory=CustodyConfig)
    timestamps: TimestampsConfig = Field(default_factory=TimestampsConfig)
    web: WebConfig = Field(default_factory=WebConfig)

    source: str = Field("embedded defaults", exclude=True, description="Where this came from.")

    # -- derived paths -----------------------------------------------------------------------

    @property
    def data_dir(self) -> Path:
        return self.station.data_dir

    @property
    def ledger_path(self) -> Path:
        return self.ledger.path or self.data_dir / "ledger.sqlite3"

    @property
    def ledger_name(self) -> str:
        """The ledger as people should see it named: its file, or server and schema."""
        if self.ledger.type == "postgres":
            from evidock.daemon.ledger.postgres import describe

            return describe(self.ledger.dsn, self.ledger.schema_name)
        return str(self.ledger_path)

    @property
    def store_path(self) -> Path:
        return getattr(self.store, "path", None) or self.data_dir / "store"

    @property
    def spool_path(self) -> Path:
        spool = getattr(self.store, "spool", None)
        return (spool and spool.path) or self.data_dir / "spool"

    @property
    def run_dir(self) -> Path:
        return self.data_dir / "run"

    @property
    def display_zone(self) -> ZoneInfo | None:
        """The zone people read times in: ``station.time_zone``; None is this machine's
        (``datetime.astimezone()`` with no argument, offset right for every date)."""
        return ZoneInfo(self.station.time_zone) if self.station.time_zone else None


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
        except UnicodeDecodeError as exc:
            raise ConfigError(f"config file {file}: not UTF-8 text (byte {exc.start}: "
                              f"{exc.object[exc.start:exc.start + 1]!r})",
                              hint="save it as UTF-8") from None
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
    if config.ledger.type == "sqlite":
        doc["ledger"]["path"] = str(config.ledger_path)
    if doc["store"].get("type") == "local":
        doc["store"]["path"] = str(config.store_path)
    if doc["store"].get("type") == "s3":
        doc["store"]["spool"]["path"] = str(config.spool_path)
    # sensitivity labels are names, not secrets ("secret" is one of their aliases)
    return {**_mask(doc), "custody": doc["custody"]}


def _mask(node):
    """Secret values masked; the *names* of the variables that hold secrets (``*_env``) are
    shown, since they say where a secret is read from and are no secret themselves."""
    from evidock.daemon.redact import redact_text

    if isinstance(node, dict):
        return {
            k: ("********" if v and not k.endswith("_env")
                and any(s in k for s in ("secret", "password", "token")) else _mask(v))
            for k, v in node.items()
        }
    if isinstance(node, list):
        return [_mask(v) for v in node]
    if isinstance(node, str):
        return redact_text(node)  # a URL's user:password@ and ?token=, ?access_token=, ...
    return node
