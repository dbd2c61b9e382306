"""Clearing and unmounting docked devices, off the main loop.

An unmount waits for readers to let go and a clear deletes files on a slow card: either can
take seconds.  The main loop only says which devices are done (:meth:`Releaser.offer`); this
thread clears them (when their profile asks for it) and unmounts them, so a slow device never
delays the systemd watchdog ping.  Its top catches, records and goes on: a device that cannot
be released stays mounted and is tried again at the next offer.
"""

from __future__ import annotations

import threading

import structlog

from evidock.daemon.errors import EvidockError
from evidock.daemon.ledger import devices as registry

log = structlog.get_logger("evidock.releaser")


class Releaser:
    def __init__(self, usb, ledger) -> None:
        self.usb, self.ledger = usb, ledger
        self._wanted: set[str] = set()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self.thread: threading.Thread | None = None

    def start(self) -> None:
        self.thread = threading.Thread(target=self._run, name="device-release", daemon=True)
        self.thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        self._wake.set()
        if self.thread is not None:
            self.thread.join(timeout)

    def alive(self) -> bool:
        return self.thread is not None and self.thread.is_alive()

    def offer(self, status: dict) -> None:
        """Devices in the status snapshot that are done and still mounted get released; the
        snapshot shows a device safe to undock only once it is unmounted."""
        for device in status["devices"]:
            serial = device["serial"]
            mounted = self.usb.mounted(serial)
            if device["docked"] and device["safe_to_undock"] and mounted:
                with self._lock:
                    self._wanted.add(serial)
                self._wake.set()
            device["safe_to_undock"] = device["safe_to_undock"] and not mounted

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(1.0)
            self._wake.clear()
            with self._lock:
                wanted, self._wanted = self._wanted, set()
            for serial in sorted(wanted):
                if self._stop.is_set():
                    return
                try:
                    self.release(serial)
                except Exception as exc:  # noqa: BLE001 - top of the thread: record, go on
                    log.exception("device_release_failed", device_serial=serial,
                                  error=str(exc))
                    try:
                        self.ledger.record("device_release_failed", f"device:{serial}",
                                           {"error": f"{type(exc).__name__}: {exc}"})
                    except Exception:  # noqa: BLE001, S110 - the log has it
                        pass

    def release(self, serial: str) -> None:
        """Clear what the profile says to clear, then unmount."""
        if not self.usb.mounted(serial):
            return
        try:
            cleared = self.usb.clear_handed_over(serial, lambda item: registry.verified_sha256(
                self.ledger, item.device.serial, item.relpath, item.size, item.mtime_ns))
            if cleared:
                registry.record_cleared(self.ledger, serial, cleared)
        except EvidockError as exc:  # the device keeps its files; reading is done
            log.error("device_clear_failed", device_serial=serial, error=str(exc))
        self.usb.release(serial)
        log.info("device_released", device_serial=serial)
