"""Failure paths of the watch-folder driver: names that are not UTF-8 (GB18030 from a Windows
share), a pipeline that cannot take a file for a while, a sink that raises in the poller.
The poller never dies and no file is lost."""

from __future__ import annotations

import os
import threading

from evidock.drivers.watchfolder import WatchFolderDriver

from ..daemon_proc import evidock, ledger_rows, wait_for

GB_DEVICE = "执法仪-张三".encode("gb18030")  # a device folder named on a Chinese Windows share
GB_FILE = "记录_20261122_101000.MP4".encode("gb18030")


def test_gb18030_device_folder_and_file_names_are_handed_over_and_the_run_ends(tmp_path):
    """The daemon as a real process: the GB18030-named device's file, and a plain device's
    file beside it, are handed over; ``--until-idle`` returns; the bytes of the name are kept."""
    inbox = tmp_path / "in"
    odd = os.path.join(os.fsencode(inbox), GB_DEVICE, b"DCIM")
    os.makedirs(odd)
    with open(os.path.join(odd, GB_FILE), "wb") as f:
        f.write(os.urandom(50_000))
    (inbox / "CAM1").mkdir()
    (inbox / "CAM1" / "a.mp4").write_bytes(os.urandom(20_000))
    conf = tmp_path / "evidock.toml"
    conf.write_text("[usb]\nenabled = false\n")  # watch folders only: no USB disk is taken
    proc = evidock("run", "--config", str(conf), "--data-dir", str(tmp_path / "d"), "--watch",
                   str(inbox), "--settle", "0.2", "--until-idle", timeout=120)
    assert 0 == proc.returncode, proc.stderr
    rows = ledger_rows(tmp_path / "d")
    serial = GB_DEVICE.decode("utf-8", "backslashreplace")
    assert {("CAM1", "a.mp4"),
            (serial, (b"DCIM/" + GB_FILE).decode("utf-8", "backslashreplace"))} == {
        (r["device_serial"], r["source_path"]) for r in rows}
    assert {"verified"} == {r["state"] for r in rows}
    assert "OK" in evidock("ledger", "verify", "--data-dir", str(tmp_path / "d")).stdout


class FlakySink:
    """A pipeline whose ledger refuses the first ``fail`` files (a full disk), then recovers."""

    def __init__(self, fail: int = 1, fail_scan: int = 0) -> None:
        self.fail, self.fail_scan = fail, fail_scan
        self.items, self.lock = [], threading.Lock()

    def device_docked(self, device, port):
        pass

    def media_found(self, item):
        with self.lock:
            if self.fail > 0:
                self.fail -= 1
                raise OSError(28, "database or disk is full")
            self.items.append(item)

    def scan_finished(self, device, port, total):
        with self.lock:
            if self.fail_scan > 0:
                self.fail_scan -= 1
                raise RuntimeError("a bug in the sink")

    def device_undocked(self, device, port):
        pass


def test_a_file_the_pipeline_could_not_take_is_offered_again(tmp_path):
    (tmp_path / "in" / "CAM1").mkdir(parents=True)
    (tmp_path / "in" / "CAM1" / "a.mp4").write_bytes(b"x" * 1000)
    sink = FlakySink(fail=2)
    driver = WatchFolderDriver([tmp_path / "in"], settle_seconds=0.2, rescan_seconds=30)
    driver.start(sink)
    try:
        wait_for(lambda: sink.items, timeout=20, what="the file offered again")
        assert ["a.mp4"] == [i.relpath for i in sink.items]
        assert driver.alive()
    finally:
        driver.stop()


def test_the_poller_survives_a_sink_that_raises_and_goes_on_taking_files(tmp_path):
    (tmp_path / "in" / "CAM1").mkdir(parents=True)
    (tmp_path / "in" / "CAM1" / "a.mp4").write_bytes(b"x" * 1000)
    sink = FlakySink(fail=0, fail_scan=1)
    driver = WatchFolderDriver([tmp_path / "in"], settle_seconds=0.2, rescan_seconds=30)
    driver.start(sink)
    try:
        wait_for(lambda: sink.items, timeout=20)
        (tmp_path / "in" / "CAM1" / "b.mp4").write_bytes(b"y" * 1000)  # after the failure
        wait_for(lambda: len(sink.items) == 2, timeout=20, what="the next file")
        assert driver.alive()
    finally:
        driver.stop()


def test_an_undecodable_device_folder_gives_a_printable_serial_and_opens_by_its_bytes(
        tmp_path):
    odd = os.path.join(os.fsencode(tmp_path / "in"), GB_DEVICE)
    os.makedirs(odd)
    with open(os.path.join(odd, GB_FILE), "wb") as f:
        f.write(b"gb")
    sink = FlakySink(fail=0)
    driver = WatchFolderDriver([tmp_path / "in"], settle_seconds=0.1, rescan_seconds=30)
    driver.start(sink)
    try:
        wait_for(lambda: sink.items, timeout=20)
    finally:
        driver.stop()
    item = sink.items[0]
    assert GB_DEVICE.decode("utf-8", "backslashreplace") == item.device.serial
    assert "undecodable_name" in item.flags
    with item.open() as fh:
        assert b"gb" == fh.read()
