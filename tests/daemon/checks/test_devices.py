"""Devices and recordings that need a person: each alert is raised and then resolved."""

from __future__ import annotations

import os

import pytest

from evidock.daemon.ledger import devices as registry

from ..world import World


@pytest.fixture
def world(tmp_path):
    return World(tmp_path, {"checks": {"device_lookback_hours": 24}})


def alerts(world):
    return [(a.key, a.rule, a.severity) for a in world.open_alerts("devices")]


def test_a_recording_given_up_on_raises_a_critical_alert_until_handed_over(world):
    media, item = world.found()
    os.rename(os.path.join(item.root, item.relpath), os.path.join(item.root, "moved"))
    os.symlink("/etc/hostname", os.path.join(item.root, item.relpath))  # refused: a symlink
    assert "quarantined" == world.ingestor.ingest(world.ledger.media(media.id), item).state
    world.c.runner.run("devices")
    assert [("devices:given_up:DSJ-001", "R1", "critical")] == alerts(world)
    assert "evidock ledger list --state failed --device DSJ-001" in world.open_alerts()[0].message
    os.unlink(os.path.join(item.root, item.relpath))
    os.rename(os.path.join(item.root, "moved"), os.path.join(item.root, item.relpath))
    world.hand_over(media, item)  # docked again with the real file: a new chance
    world.c.runner.run("devices")
    assert [] == alerts(world)


def test_an_unknown_device_is_alerted_and_resolves_after_the_look_back(world):
    world.ledger.record("unknown_device_docked", "port:usb-1-2", {
        "port": "usb-1-2", "devname": "/dev/sdb", "reason": "no camera profile matches",
        "id_vendor": "Kingston", "id_model": "DataTraveler"})
    world.c.runner.run("devices")
    [(key, rule, severity)] = alerts(world)
    assert ("R12", "warning") == (rule, severity)
    assert "Kingston DataTraveler" in world.open_alerts()[0].message
    world.clock.advance(hours=25)
    world.c.runner.run("devices")
    assert [] == alerts(world)


def test_a_camera_that_could_not_be_read_is_alerted(world):
    world.ledger.record("device_unreadable", "port:usb-1-3", {
        "port": "usb-1-3", "devname": "/dev/sdc1", "reason": "mount failed: bad superblock"})
    world.c.runner.run("devices")
    assert "could not be read: mount failed" in world.open_alerts()[0].message


def test_unreadable_files_on_a_device_are_alerted_per_device(world):
    for name in ("DCIM/a.mp4", "DCIM/b.mp4"):
        registry.record_unreadable(world.ledger, "DSJ-002", "usb-1-4", name, "I/O error")
    world.c.runner.run("devices")
    assert [("devices:unreadable_files:DSJ-002", "R4", "warning")] == alerts(world)
    assert "2 file(s) on device DSJ-002" in world.open_alerts()[0].message
    world.clock.advance(hours=30)
    world.c.runner.run("devices")
    assert [] == alerts(world)
