"""Watch folders: stable files only, files present at start-up, sources never touched."""

from __future__ import annotations

import os
import threading
import time

import pytest

from evidock.drivers.watchfolder import WatchFolderDriver

from ..daemon_proc import wait_for


class Recorder:
    """An IngestSink that remembers what it was told."""

    def __init__(self) -> None:
        self.items = []
        self.docked = []
        self.lock = threading.Lock()

    def device_docked(self, device, port):
        self.docked.append(device.serial)

    def media_found(self, item):
        with self.lock:
            self.items.append(item)

    def scan_finished(self, device, port, total):
        pass

    def device_undocked(self, device, port):
        pass

    def names(self):
        with self.lock:
            return sorted(f"{i.device.serial}/{i.relpath}" for i in self.items)


@pytest.fixture
def watch(tmp_path):
    drivers = []

    def start(settle=0.3, **kw):
        sink = Recorder()
        driver = WatchFolderDriver([tmp_path / "in"], settle_seconds=settle, rescan_seconds=30,
                                   **kw)
        driver.start(sink)
        drivers.append(driver)
        return driver, sink

    (tmp_path / "in").mkdir()
    yield tmp_path / "in", start
    for driver in drivers:
        driver.stop()


def test_files_present_at_start_up_are_found(watch):
    folder, start = watch
    (folder / "CAM1" / "DCIM").mkdir(parents=True)
    (folder / "CAM1" / "DCIM" / "a.mp4").write_bytes(b"a")
    driver, sink = start()
    wait_for(lambda: sink.names() == ["CAM1/DCIM/a.mp4"], 10, what="the file")
    wait_for(driver.idle, 10, what="idle")
    assert ["CAM1"] == sink.docked


def test_a_file_still_growing_is_not_taken_until_stable(watch):
    folder, start = watch
    (folder / "CAM2").mkdir()
    path = folder / "CAM2" / "rec.mp4"
    driver, sink = start(settle=1.0)
    with open(path, "wb") as fh:
        for _ in range(12):  # grows for about 2.4 s, longer than the settle time
            fh.write(os.urandom(1000))
            fh.flush()
            time.sleep(0.2)
            assert [] == sink.names()
    wait_for(lambda: sink.names() == ["CAM2/rec.mp4"], 10, what="the settled file")
    assert 12000 == sink.items[0].size


def test_new_files_are_found_while_running(watch):
    folder, start = watch
    driver, sink = start()
    (folder / "CAM3").mkdir()
    (folder / "CAM3" / "x.wav").write_bytes(b"audio")
    wait_for(lambda: sink.names() == ["CAM3/x.wav"], 10, what="the new file")
    assert "audio" == sink.items[0].kind


def test_ignored_and_loose_files_are_not_taken(watch):
    folder, start = watch
    (folder / "CAM4").mkdir()
    (folder / "CAM4" / "clip.mp4.part").write_bytes(b"partial")
    (folder / "CAM4" / ".hidden").write_bytes(b"h")
    (folder / "loose.mp4").write_bytes(b"no serial folder")
    (folder / "CAM4" / "ok.mp4").write_bytes(b"ok")
    driver, sink = start()
    wait_for(driver.idle, 10, what="idle")
    assert ["CAM4/ok.mp4"] == sink.names()


def test_the_source_folder_is_never_modified(watch):
    folder, start = watch
    (folder / "CAM5").mkdir()
    (folder / "CAM5" / "a.mp4").write_bytes(b"a" * 5000)
    before = {p: (p.stat().st_size, p.stat().st_mtime_ns) for p in folder.rglob("*")}
    driver, sink = start()
    wait_for(lambda: sink.names() == ["CAM5/a.mp4"], 10, what="the file")
    with sink.items[0].open() as fh:
        fh.read()
    driver.stop()
    assert before == {p: (p.stat().st_size, p.stat().st_mtime_ns) for p in folder.rglob("*")}
