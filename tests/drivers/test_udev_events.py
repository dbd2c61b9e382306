"""The udev event logic, fed recorded property sets (no hardware; real docks are in
test_dock_usb.py)."""

from __future__ import annotations

import threading

from evidock.drivers.profiles import GENERIC, Match, Profile
from evidock.drivers.udev import BlockTracker, UdevWatcher
from tests.drivers.fake_udev import FakeSource, usb_disk

GONE_LOOP = {"SYSTEMD_READY": "0", "ID_FS_TYPE": None, "ID_FS_USAGE": None,
             "ID_FS_LABEL": None, "ID_BUS": None, "SIZE": "0"}


def kinds(events):
    return [e.kind for e in events]


def test_loop_attach_gives_docked_then_volume_ready_once_despite_repeats():
    t = BlockTracker([GENERIC])
    assert ["docked", "volume_ready"] == kinds(t.feed("change", usb_disk()))
    assert [] == t.feed("change", usb_disk())  # the duplicate change (38% of attaches)
    ev = t.feed("change", usb_disk(**GONE_LOOP))
    assert ["undocked"] == kinds(ev)
    assert [] == t.feed("change", usb_disk(DISK_MEDIA_CHANGE="1", **GONE_LOOP))


def test_volume_ready_names_device_fs_label_and_profile():
    ev = BlockTracker([GENERIC]).feed("add", usb_disk(ID_PATH="pci-0000:00:14.0-usb-0:2:1.0"))[1]
    got = (ev.devname, ev.fs_type, ev.label, ev.profile.name)
    assert ("/dev/loop0", "exfat", "BWC", "generic") == got
    assert "pci-0000:00:14.0-usb-0:2:1.0" == ev.port


def test_remove_with_stale_fs_properties_is_an_undock():
    t = BlockTracker([GENERIC])
    t.feed("add", usb_disk())
    assert ["undocked"] == kinds(t.feed("remove", usb_disk()))


def test_new_diskseq_on_same_node_undocks_the_old_medium_first():
    t = BlockTracker([GENERIC])
    t.feed("change", usb_disk(seq=10))
    assert ["undocked", "docked", "volume_ready"] == kinds(t.feed("change", usb_disk(seq=11)))


def test_partitioned_disk_docks_on_disk_and_volume_comes_from_partition():
    t = BlockTracker([GENERIC])
    disk = usb_disk(ID_FS_TYPE=None, ID_FS_USAGE=None, ID_FS_LABEL=None, ID_PART_TABLE_TYPE="dos")
    assert ["docked"] == kinds(t.feed("add", disk))
    part = usb_disk(DEVNAME="/dev/loop0p1", DEVPATH="/devices/virtual/block/loop0/loop0p1",
                    DEVTYPE="partition", ID_FS_TYPE="vfat")
    ev = t.feed("add", part)
    assert ["volume_ready"] == kinds(ev) and "/dev/loop0p1" == ev[0].devname
    assert [] == t.feed("remove", part)
    assert ["undocked"] == kinds(t.feed("remove", disk))


def test_whole_disk_exfat_reporting_a_dos_table_is_still_a_volume():
    ev = BlockTracker([GENERIC]).feed("change", usb_disk(ID_PART_TABLE_TYPE="dos"))
    assert ["docked", "volume_ready"] == kinds(ev)


def test_non_usb_disks_are_ignored_quietly():
    t = BlockTracker([GENERIC])
    assert [] == t.feed("present", usb_disk(ID_BUS=None, DEVNAME="/dev/vda",
                                            DEVPATH="/devices/pci/virtio/block/vda"))


def test_usb_disk_with_unreadable_fs_is_an_unknown_device_once():
    t = BlockTracker([GENERIC])
    ev = t.feed("add", usb_disk(ID_FS_TYPE="crypto_LUKS", ID_FS_USAGE="crypto"))
    assert ["docked", "unknown_device"] == kinds(ev)
    assert "crypto_LUKS" in ev[1].reason
    assert [] == t.feed("change", usb_disk(ID_FS_TYPE="crypto_LUKS", ID_FS_USAGE="crypto"))


def test_without_generic_profile_only_matching_models_are_cameras():
    axon = Profile(name="x", match=Match(usb_ids=("2bc5:0501",)))
    t = BlockTracker([axon, GENERIC], allow_generic=False)
    ev = t.feed("add", usb_disk())
    assert ["docked", "unknown_device"] == kinds(ev) and "profile" in ev[1].reason
    ev = t.feed("add", usb_disk(n=1, ID_VENDOR_ID="2bc5", ID_MODEL_ID="0501"))
    assert "x" == ev[1].profile.name


def test_watcher_enumerates_present_devices_then_follows_the_monitor():
    got, done = [], threading.Event()

    def on_event(ev):
        got.append((ev.kind, ev.devname))
        if ev.kind == "undocked" and ev.devname == "/dev/loop1":
            done.set()

    src = FakeSource(present=[usb_disk(n=0)])
    w = UdevWatcher(BlockTracker([GENERIC]), on_event, lambda: src)
    w.start()
    assert w.ready.wait(2)
    src.send("add", **usb_disk(n=1, seq=20))
    src.send("change", **usb_disk(n=1, seq=20))
    src.send("remove", **usb_disk(n=1, seq=20))
    assert done.wait(2)
    w.stop()
    assert [("docked", "/dev/loop0"), ("volume_ready", "/dev/loop0"), ("docked", "/dev/loop1"),
            ("volume_ready", "/dev/loop1"), ("undocked", "/dev/loop1")] == got


def test_watcher_survives_a_failing_handler():
    seen = threading.Event()

    def on_event(ev):
        if ev.kind == "docked":
            raise RuntimeError("boom")
        seen.set()

    src = FakeSource()
    w = UdevWatcher(BlockTracker([GENERIC]), on_event, lambda: src)
    w.start()
    src.send("add", **usb_disk())
    assert seen.wait(2)
    w.stop()
