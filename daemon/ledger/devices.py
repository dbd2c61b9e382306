"""The device registry (R12) and the dock history, kept in the ledger.

A device row is created unregistered the first time a device is seen (evidence is never
refused); an assignment (``evidock devices assign`` or an import) names its officer and unit
and marks it registered.  Every assignment, dock, undock and unreadable file is a chained
ledger event, so who carried which camera, and when it was docked where, can be proved later.
"""

from __future__ import annotations

import csv
import io
import os
import tomllib
from dataclasses import dataclass
from pathlib import Path

from evidock.daemon.errors import ConfigError
from evidock.daemon.ledger.base import Ledger
from evidock.daemon.ledger.records import DeviceRecord

_FIELDS = ("model", "vendor", "officer_id", "officer_name", "unit")


@dataclass(frozen=True)
class Assignment:
    serial: str
    officer_id: str | None = None
    officer_name: str | None = None
    unit: str | None = None
    model: str | None = None
    vendor: str | None = None


def assign(ledger: Ledger, a: Assignment, *, by: str = "cli") -> DeviceRecord:
    """Register the device (creating its row if it was never seen) with what ``a`` gives;
    fields left None keep their value."""
    if not a.serial.strip():
        raise ConfigError("a device serial cannot be empty")
    return ledger.assign_device(a.serial, {k: getattr(a, k) for k in _FIELDS}, by=by)


def record_dock(ledger: Ledger, serial: str, port: str, data: dict | None = None) -> None:
    ledger.record_dock(serial, port, data)


def record_undock(ledger: Ledger, serial: str, port: str) -> None:
    ledger.record_undock(serial, port)


def record_unreadable(ledger: Ledger, serial: str, port: str, relpath: str,
                      reason: str) -> None:
    """A file or folder on the device that could not be read or was refused (a symlink, a
    device node, an I/O error); the raw bytes of its name are kept as hex."""
    raw = os.fsencode(relpath)
    ledger.record("source_unreadable", f"device:{serial}", {
        "serial": serial, "port": port, "path": raw.decode("utf-8", "backslashreplace"),
        "path_raw": raw.hex(), "reason": reason})


def verified_sha256(ledger: Ledger, serial: str, relpath: str, size: int,
                    mtime_ns: int) -> str | None:
    """The SHA-256 of the verified copy of exactly this device file, or None."""
    return ledger.verified_sha256(serial, relpath, size, mtime_ns)


def record_cleared(ledger: Ledger, serial: str, relpaths: list[str]) -> None:
    """The device's copies of these (verified) recordings were deleted from it."""
    ledger.record_cleared(serial, relpaths)


def read_registry_file(path: Path) -> list[Assignment]:
    """Assignments from a CSV file (header: serial, officer_id, officer_name, unit, model,
    vendor; ``badge``/``officer``/``name`` are accepted too) or a TOML file
    (``[[device]]`` tables with the same keys)."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"device registry {path}: cannot read it: {exc}") from exc
    if path.suffix.lower() == ".toml":
        try:
            rows = tomllib.loads(text).get("device", [])
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"device registry {path}: not valid TOML: {exc}") from exc
    else:
        rows = list(csv.DictReader(io.StringIO(text)))
    aliases = {"badge": "officer_id", "officer": "officer_id", "name": "officer_name",
               "警号": "officer_id", "姓名": "officer_name", "单位": "unit", "序列号": "serial"}
    out = []
    for n, row in enumerate(rows, start=1):
        clean = {aliases.get(k.strip(), k.strip()): (str(v).strip() or None)
                 for k, v in row.items() if k is not None and v is not None}
        unknown = set(clean) - {"serial", *_FIELDS}
        if unknown:
            raise ConfigError(f"device registry {path}, entry {n}: unknown column(s) "
                              f"{sorted(unknown)}", hint="use serial, officer_id, officer_name, "
                              "unit, model, vendor")
        if not clean.get("serial"):
            raise ConfigError(f"device registry {path}, entry {n}: no serial")
        out.append(Assignment(**clean))
    return out


def import_registry(ledger: Ledger, path: Path) -> list[DeviceRecord]:
    return [assign(ledger, a, by=f"import:{path.name}") for a in read_registry_file(path)]
