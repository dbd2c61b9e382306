"""R11: the annual report counts a year's recordings, devices, late handovers and cases."""

from __future__ import annotations

from datetime import timedelta

from evidock.daemon.cases.importer import CaseRow
from evidock.daemon.report import annual

from .world import T0, World


def test_the_year_s_figures_come_from_the_ledger(tmp_path):
    world = World(tmp_path, {"cases": {"auto_link": "evidence"}})
    media, item = world.found(serial="DSJ-1", officer="110001", recorded_at=T0)
    world.clock.set(T0 + timedelta(hours=30))
    world.hand_over(media, item)  # six hours late
    world.handed_over(serial="DSJ-2", officer="110002", recorded_at=T0 + timedelta(days=1))
    world.found(serial="DSJ-2", recorded_at=T0.replace(year=2025))  # another year
    world.c.cases.import_rows([CaseRow("C-1", "seizure", ("110001",), "", T0 - timedelta(hours=1),
                                       T0 + timedelta(hours=1), "closed",
                                       T0 + timedelta(days=2), "normal")], by="li", source="x")
    doc = annual(world.ledger, 2026)
    assert (2, 2, 2, 1, 1, 1) == (doc["recordings"], doc["handed_over"], doc["devices"],
                                  doc["late_handovers"], doc["cases"], doc["evidence_recordings"])
    assert [("110001", "DSJ-1", 1, 6 * 3600)] == [
        (x["officer_id"], x["device_serial"], x["recordings"], round(x["worst_seconds"]))
        for x in doc["late_by_officer_and_device"]]
    assert (0, "2 of 2 video/audio recordings have no probed duration yet and are not "
            "counted") == (doc["hours"], doc["hours_note"])


def test_late_handovers_are_counted_per_officer_and_per_device_and_acknowledged(tmp_path):
    world = World(tmp_path)
    # officer 110001 late on two devices, device DSJ-2 late for two officers
    for serial, officer in (("DSJ-1", "110001"), ("DSJ-2", "110001"), ("DSJ-2", "110002")):
        world.clock.set(T0)
        media, item = world.found(serial=serial, officer=officer, recorded_at=T0)
        world.clock.set(T0 + timedelta(hours=26))
        world.hand_over(media, item)
    world.c.runner.run("handover")
    first = next(a for a in world.open_alerts("handover") if a.key == "late:media:1")
    world.c.alerts.acknowledge(first.id, "supervisor Li", "device was in repair")
    doc = annual(world.ledger, 2026)
    assert [("110001", 2), ("110002", 1)] == [
        (x["officer_id"], x["recordings"]) for x in doc["late_by_officer"]]
    assert [("DSJ-2", 2), ("DSJ-1", 1)] == [
        (x["device_serial"], x["recordings"]) for x in doc["late_by_device"]]
    assert (3, 1) == (doc["late_handovers"], doc["late_acknowledged"])
