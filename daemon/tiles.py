"""One state per device, as the station shows it: the same for ``evidock status`` and the
kiosk page (``/station``), so the terminal and the screen never disagree.

A tile is a plain dict built from the status snapshot (``Pipeline.status`` after the
releaser has had its say): who (officer name and badge, unit), where (the port, or the slot
label ``[station] slots`` gives it), how far (files, bytes, the current rate, ETA) and one
``state``:

=========  ==================================================================================
reading    docked, not everything handed over yet (or still being released): do not undock
safe       every recording verified in the store and the volume unmounted: safe to undock
done       undocked after everything was handed over (shown for a little while, then gone)
failed     dock it again: ``reason`` says why in plain words (a key, worded by the viewer)
unknown    a disk on a port that is not a camera evidock knows: it is not read
stopped    the daemon is not running and the ledger says the device is docked: do not undock
=========  ==================================================================================

``reason`` is a key, never an error text: error texts name files, and the kiosk is read by
passers-by.  Keys: ``undocked_early``, ``read_failed``, ``store_failed``, ``unreadable_files``,
``device_unreadable``, ``not_a_camera``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

STATES = ("reading", "safe", "done", "failed", "unknown", "stopped")
REASONS = ("undocked_early", "read_failed", "store_failed", "unreadable_files",
           "device_unreadable", "not_a_camera")


def device_state(d: Mapping) -> tuple[str, str | None]:
    """``(state, reason)`` of one device of the live status."""
    complete = d["scanned"] and d["files_done"] == d["files_total"]
    gave_up = d.get("files_gave_up", 0)
    cause = "read_failed" if d.get("failure_cause") in (None, "source") else "store_failed"
    if d["docked"]:
        if d["safe_to_undock"]:
            return "safe", None
        if d["scanned"] and d["files_done"] + gave_up == d["files_total"]:
            # nothing left to try in this dock: what is missing needs a new dock
            if gave_up:
                return "failed", cause
            if d.get("unreadable"):
                return "failed", "unreadable_files"
        return "reading", None
    if complete and not d.get("unreadable") and not d.get("files_failed"):
        return "done", None
    if complete and d.get("unreadable"):
        return "failed", "unreadable_files"
    if gave_up and d["files_done"] + gave_up == d["files_total"] and d["scanned"]:
        return "failed", cause
    return "failed", "undocked_early"


_USB_PATH = re.compile(r"-usb-\d+:([\d.]+)")


def slot_of(port: str | None, slots: Mapping[str, str]) -> str:
    """The label printed on the dock for ``port`` (``[station] slots``); else, for a udev
    ID_PATH like ``pci-0000:00:14.0-usb-0:1.2:1.0-scsi-0:0:0:0``, its USB port path
    (``USB 1.2``, the hub ports from the computer out); else the port as it is."""
    if not port:
        return ""
    if port in slots:
        return slots[port]
    usb = _USB_PATH.search(port)
    return f"USB {usb.group(1)}" if usb else port


def _device_tile(d: Mapping, slots: Mapping[str, str], running: bool) -> dict:
    state, reason = device_state(d) if running else ("stopped", None)
    return {
        "kind": "device", "state": state, "reason": reason, "serial": d["serial"],
        "officer_id": d.get("officer_id"), "officer_name": d.get("officer_name"),
        "unit": d.get("unit"), "model": d.get("model"),
        "registered": d.get("registered", True), "port": d.get("port"),
        "slot": slot_of(d.get("port"), slots),
        "files_done": d.get("files_done"), "files_total": d.get("files_total"),
        "bytes_done": d.get("bytes_done"), "bytes_total": d.get("bytes_total"),
        "rate_bps": d.get("rate_bps"), "eta_s": d.get("eta_s"),
    }


def _port_tile(p: Mapping, slots: Mapping[str, str]) -> dict:
    unreadable = p["kind"] == "unreadable"
    return {
        "kind": "port", "state": "failed" if unreadable else "unknown",
        "reason": "device_unreadable" if unreadable else "not_a_camera",
        "serial": None, "officer_id": None, "officer_name": None, "unit": None,
        "model": " ".join(x for x in (p.get("vendor"), p.get("model")) if x) or None,
        "registered": False, "port": p["port"], "slot": slot_of(p["port"], slots),
        "files_done": None, "files_total": None, "bytes_done": None, "bytes_total": None,
        "rate_bps": None, "eta_s": None,
    }


def tiles(doc: Mapping, slots: Mapping[str, str] | None = None) -> list[dict]:
    """Every tile of the status document ``doc`` (``running``, ``devices``, ``ports``), in
    slot order.  A device verified from its stored copy while undocked (after a restart) has
    nothing to tell the officer and gets no tile; an unknown disk that left neither."""
    slots = slots or {}
    running = doc.get("running", True)
    out: list[dict] = []
    for d in doc.get("devices", []):
        if d.get("docked") or d.get("scanned") or d.get("files_total"):
            out.append(_device_tile(d, slots, running))
    if running:
        for p in doc.get("ports", []):
            if p.get("docked") or p["kind"] == "unreadable":
                out.append(_port_tile(p, slots))
    out.sort(key=lambda t: (t["slot"], t["serial"] or ""))
    return out


def docked_per_ledger(devices: Iterable) -> list[dict]:
    """The devices the ledger last saw docked (a dock after their last undock), as status
    entries: what may still be plugged in while the daemon is not running."""
    out = []
    for dev in devices:
        if dev.source == "usb" and dev.last_dock_at and (
                not dev.last_undock_at or dev.last_dock_at > dev.last_undock_at):
            out.append({"serial": dev.serial, "officer_id": dev.officer_id,
                        "officer_name": dev.officer_name, "unit": dev.unit, "model": dev.model,
                        "registered": dev.registered, "port": dev.last_port, "docked": True,
                        "scanned": False, "docked_at": dev.last_dock_at})
    return out
