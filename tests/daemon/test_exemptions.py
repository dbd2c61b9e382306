"""Duty exemptions (R2) move the handover clock to the first dock after the exempted span."""

from __future__ import annotations

from datetime import timedelta

import pytest

from evidock.daemon.errors import EvidockError
from evidock.daemon.timeutil import parse, stamp

from .world import T0, World


@pytest.fixture
def world(tmp_path):
    return World(tmp_path)


def test_without_an_exemption_the_deadline_is_the_recording_time_plus_24_hours(world):
    media, _ = world.found(recorded_at=T0)
    assert stamp(T0 + timedelta(hours=24)) == media.deadline_at


def test_an_exemption_starts_the_clock_at_the_first_dock_after_the_span(world):
    world.clock.set(T0 + timedelta(days=3))  # the officer is back and docks on day 3
    media, _ = world.found(officer="110001", recorded_at=T0)
    world.c.exemptions.add(officer_id="110001", device_serial=None, start=T0 - timedelta(hours=2),
                           end=T0 + timedelta(days=2), reason="remote_area", note="mountain",
                           by="chief Zhao")
    moved = world.ledger.media(media.id)
    assert stamp(T0 + timedelta(days=4)) == moved.deadline_at
    [event] = [e for e in world.ledger.events(subject=f"media:{media.id}")
               if e.kind == "deadline_moved"]
    assert world.ledger.verify().ok, world.ledger.verify().problems
    assert event.subject == f"media:{media.id}"


def test_a_recording_found_mid_span_gets_the_window_from_when_it_was_found(world):
    """The exemption would start the clock at the span's end, but the station already has
    the file: its deadline is never later than first seen + 24 h."""
    media, _ = world.found(serial="DSJ-9", officer=None, recorded_at=T0 - timedelta(hours=20))
    assert stamp(T0 + timedelta(hours=4)) == world.ledger.media(media.id).deadline_at
    world.c.exemptions.add(officer_id=None, device_serial="DSJ-9", start=T0 - timedelta(hours=21),
                           end=T0 + timedelta(hours=30), reason="continuous_duty", note="",
                           by="zhao")
    assert stamp(T0 + timedelta(hours=24)) == world.ledger.media(media.id).deadline_at


def test_recordings_outside_the_span_or_of_others_keep_their_deadline(world):
    outside, _ = world.found(officer="110001", recorded_at=T0 - timedelta(days=2))
    other, _ = world.found(serial="DSJ-2", officer="110002", recorded_at=T0)
    world.c.exemptions.add(officer_id="110001", device_serial=None, start=T0 - timedelta(hours=1),
                           end=T0 + timedelta(days=1), reason="away_from_unit", note="", by="z")
    assert outside.deadline_at == world.ledger.media(outside.id).deadline_at
    assert other.deadline_at == world.ledger.media(other.id).deadline_at


def test_the_queue_takes_the_moved_deadline(world):
    world.c.exemptions.add(officer_id="110001", device_serial=None, start=T0 - timedelta(hours=5),
                           end=T0 + timedelta(days=1), reason="remote_area", note="", by="z")
    exempt, _ = world.found(officer="110001", recorded_at=T0 - timedelta(hours=4))
    normal, _ = world.found(serial="DSJ-2", officer="110002", recorded_at=T0 - timedelta(hours=1))
    world.c.exemptions.adjust(exempt)
    assert [normal.id, exempt.id] == [m.id for m in world.ledger.due()]
    assert parse(world.ledger.media(exempt.id).deadline_at) > parse(normal.deadline_at)


@pytest.mark.parametrize("kw, says", [
    ({"officer_id": None, "device_serial": None}, "names an officer"),
    ({"reason": "holiday"}, "not one of continuous_duty"),
    ({"end": T0 - timedelta(hours=1)}, "ends"),
    ({"by": " "}, "who registers"),
])
def test_an_incomplete_exemption_is_refused(world, kw, says):
    args = {"officer_id": "110001", "device_serial": None, "start": T0,
            "end": T0 + timedelta(hours=1), "reason": "remote_area", "note": "", "by": "z", **kw}
    with pytest.raises(EvidockError, match=says):
        world.c.exemptions.add(**args)


def test_a_withdrawn_exemption_gives_back_the_deadline_it_moved_and_late_is_late(world):
    """R2 undone: the clock is computed again (earlier now), and a handover after the
    restored deadline is recorded late."""
    media, item = world.found(officer="110001", recorded_at=T0 - timedelta(hours=20))
    ex = world.c.exemptions.add(officer_id="110001", device_serial=None,
                                start=T0 - timedelta(days=1), end=T0 + timedelta(hours=1),
                                reason="remote_area", note="", by="zhao")
    assert stamp(T0 + timedelta(hours=24)) == world.ledger.media(media.id).deadline_at
    withdrawn, moved = world.c.exemptions.withdraw(ex.id, by="zhao", reason="wrong officer")
    assert (1, "wrong officer") == (moved, withdrawn.withdraw_reason)
    assert stamp(T0 + timedelta(hours=4)) == world.ledger.media(media.id).deadline_at
    [event] = [e for e in world.ledger.events(subject=f"media:{media.id}")
               if e.kind == "deadline_recomputed"]
    assert "exemption 1 withdrawn" in event.data
    world.clock.set(T0 + timedelta(hours=10))
    world.hand_over(media, item)
    world.c.runner.run("handover")
    [late] = world.c.runner.checks["handover"].late
    assert 6 * 3600 == late.late_seconds
    world.ledger.verify()


def test_a_corrected_span_recomputes_the_recordings_it_no_longer_covers(world):
    inside, _ = world.found(officer="110001", recorded_at=T0 - timedelta(hours=20))
    ex = world.c.exemptions.add(officer_id="110001", device_serial=None,
                                start=T0 - timedelta(days=1), end=T0 + timedelta(hours=1),
                                reason="remote_area", note="", by="zhao")
    assert stamp(T0 + timedelta(hours=24)) == world.ledger.media(inside.id).deadline_at
    new, changed, moved = world.c.exemptions.correct(
        ex.id, by="zhao", reason="it began later", start=T0 - timedelta(hours=2))
    assert ({"start_at": stamp(T0 - timedelta(hours=2))}, 1) == (changed, moved)
    assert stamp(T0 + timedelta(hours=4)) == world.ledger.media(inside.id).deadline_at
    assert "it began later" == new.correct_reason
    world.ledger.verify()
