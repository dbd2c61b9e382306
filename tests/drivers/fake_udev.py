"""A stand-in for the udev netlink monitor, built on ``os.pipe()`` (the idea of pyudev's own
test plugin): the watcher's select loop runs for real, the events come from the test."""

from __future__ import annotations

import json
import os


class FakeSource:
    def __init__(self, present=()):
        self._r, self._w = os.pipe()
        os.set_blocking(self._r, False)
        self._present = list(present)
        self._buf = b""

    def fileno(self) -> int:
        return self._r

    def send(self, action: str, **props: str) -> None:
        os.write(self._w, json.dumps([action, props]).encode() + b"\n")

    def receive(self):
        try:
            self._buf += os.read(self._r, 65536)
        except BlockingIOError:
            pass
        *lines, self._buf = self._buf.split(b"\n")
        for line in lines:
            action, props = json.loads(line)
            yield action, props

    def present(self):
        return iter(self._present)


def usb_disk(n: int = 0, seq: int = 10, serial: str = "SN1", **extra: str) -> dict[str, str]:
    """Properties of a whole-disk exFAT camera as the dock-sim rule makes them."""
    props = {
        "DEVNAME": f"/dev/loop{n}", "DEVPATH": f"/devices/virtual/block/loop{n}",
        "DEVTYPE": "disk", "DISKSEQ": str(seq), "ID_FS_TYPE": "exfat",
        "ID_FS_USAGE": "filesystem", "ID_FS_LABEL": "BWC", "ID_BUS": "usb",
        "ID_VENDOR": "ZFYSIM", "ID_MODEL": "DSJ-SIM", "ID_VENDOR_ID": "1d6b",
        "ID_MODEL_ID": "0104", "ID_SERIAL_SHORT": serial, "SIZE": "131072",
    }
    props.update(extra)
    return {k: v for k, v in props.items() if v is not None}
