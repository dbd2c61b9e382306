"""Devices and recordings that need a person (R12, R1, R4).

* A recording evidock gave up on (``failed`` with no retry time: a refused path, a store
  conflict, too many failed attempts) will never be handed over by itself: critical, per
  device, until it is handed over (a re-dock tries it again).
* A USB disk that is not a camera, or a camera whose volume could not be mounted or read,
  docked within ``lookback``: warning, per port.
* Files on a device that could not be read or were refused (symlinks, device nodes, I/O
  errors) within ``lookback``: warning, per device.

The dock and scan findings come from the ledger's events, so they stay raised for the
look-back period after the last occurrence and then resolve by themselves.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from evidock.daemon.alerts.book import Finding
from evidock.daemon.ledger.base import Ledger
from evidock.daemon.timeutil import stamp


class DevicesCheck:
    name = "devices"

    def __init__(self, ledger: Ledger, *, lookback_hours: float = 24) -> None:
        self.ledger = ledger
        self.lookback = timedelta(hours=lookback_hours)

    def run(self, now: datetime) -> list[Finding]:
        return self._given_up() + self._unknown(now) + self._unreadable(now)

    def _given_up(self) -> list[Finding]:
        rows = self.ledger.given_up()
        return [Finding(
            f"devices:given_up:{r['device_serial']}", "R1", "critical",
            f"device:{r['device_serial']}",
            f"{r['n']} recording(s) on device {r['device_serial']} (officer "
            f"{r['officer_id'] or 'unassigned'}) could not be taken and will not be retried by "
            f"themselves; the earliest is due {r['first']}. Last error: {r['error']}. See "
            f"'evidock ledger list --state failed --device {r['device_serial']}', fix the cause, "
            "then dock the device again (or restart evidock for a watch folder).")
            for r in rows]

    def _events(self, kinds: tuple[str, ...], now: datetime) -> list[dict]:
        events = self.ledger.events(kinds=kinds, since=stamp(now - self.lookback))
        return [{"kind": e.kind, "subject": e.subject, "at": e.at, **json.loads(e.data)}
                for e in events]

    def _unknown(self, now: datetime) -> list[Finding]:
        latest: dict[str, dict] = {}
        for ev in self._events(("unknown_device_docked", "device_unreadable"), now):
            latest[ev["subject"]] = ev
        findings = []
        for subject, ev in latest.items():
            what = " ".join(filter(None, (ev.get("id_vendor"), ev.get("id_model"),
                                          ev.get("id_serial_short")))) or ev.get("devname", "")
            if ev["kind"] == "device_unreadable":
                message = (f"a camera docked at {ev['port']} ({what}) could not be read: "
                           f"{ev.get('reason', '')}. Its recordings are still only on the device: "
                           "keep it, check its file system on another machine, and dock it again.")
            else:
                message = (f"an unknown USB device was docked at {ev['port']} ({what}) at "
                           f"{ev['at']}: {ev.get('reason', '')}. If it is a camera, add a device "
                           "profile for it (config/profiles/) and dock it again.")
            findings.append(Finding(f"devices:{ev['kind']}:{subject}", "R12", "warning",
                                    subject, message))
        return findings

    def _unreadable(self, now: datetime) -> list[Finding]:
        per_device: dict[str, list[dict]] = {}
        for ev in self._events(("source_unreadable",), now):
            per_device.setdefault(ev["serial"], []).append(ev)
        return [Finding(
            f"devices:unreadable_files:{serial}", "R4", "warning", f"device:{serial}",
            f"{len(evs)} file(s) on device {serial} could not be read or were refused in the "
            f"last {self.lookback.total_seconds() / 3600:.0f} h, e.g. {evs[-1]['path']}: "
            f"{evs[-1]['reason']}. They are not in the store: inspect the device before it is "
            "cleared or reissued.")
            for serial, evs in sorted(per_device.items())]
