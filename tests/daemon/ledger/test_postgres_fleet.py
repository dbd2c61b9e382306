"""Several stations on one PostgreSQL ledger: one chain, and claims that are taken over only
from a station that is gone and whose lease ran out - never from a live one, never twice."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest

from evidock.daemon.errors import Claimed, InvalidTransition

from ..pg_helpers import ledger_for
from .contract import T0, Clock, digests

pytestmark = pytest.mark.postgres


@pytest.fixture
def fleet(pg_server, pg_schema):
    opened = []

    def station(name: str, **kw):
        ledger = ledger_for(pg_server, pg_schema, station=name, **kw)
        opened.append(ledger)
        return ledger
    yield station
    for ledger in opened:
        ledger.close()


def copying(ledger):
    ledger.ensure_device("CAM1", source="usb")
    media, _ = ledger.register_media(device_serial="CAM1", source_path="a.mp4", size=1,
                                     mtime_ns=1, kind="video", recorded_at=T0,
                                     handover_hours=24)
    return media, ledger.start_attempt(media.id)


def test_a_live_stations_claim_is_never_taken_over_even_past_its_lease(fleet):
    clock = Clock()
    a, b = fleet("st-a", clock=clock), fleet("st-b", clock=clock, lease_seconds=5)
    media, _ = copying(a)
    clock.now += timedelta(hours=1)
    with pytest.raises(Claimed, match="being copied by station st-a"):
        b.take_over(media.id)
    assert [] == b.recover_interrupted()
    assert "copying" == b.media(media.id).state
    b.record("station_started", "station:st-b", {})
    assert ["st-a", "st-b"] == b.live_stations()  # those that ever wrote and run now


def test_a_dead_stations_claim_is_taken_over_after_the_lease_and_its_results_refused(fleet):
    clock = Clock()
    a, b = fleet("st-a", clock=clock), fleet("st-b", clock=clock, lease_seconds=60)
    media, old = copying(a)
    a._alive.close()  # the station's session ends (killed): its liveness lock goes
    a._alive = None
    with pytest.raises(Claimed):  # gone, but its lease has not run out yet
        b.take_over(media.id)
    clock.now += timedelta(seconds=61)
    assert b.take_over(media.id)
    new = b.start_attempt(media.id)
    keep = dict(store="local:x", object_key="k", retain_until=T0 + timedelta(days=730))
    with pytest.raises(Claimed):  # the old station comes back and reports its upload
        a.record_stored(media.id, old, digests(1), **keep)
    b.record_stored(media.id, new, digests(1), **keep)
    b.record_verified(media.id, new)
    assert [("st-a", "interrupted"), ("st-b", "verified")] == [
        (x["station"], x["outcome"]) for x in b.attempts(media.id)]
    assert b.verify().ok
    assert {"st-a", "st-b"} == {e.station for e in b.events()}


def test_two_stations_racing_for_an_abandoned_claim_take_it_once(fleet):
    clock = Clock()
    a = fleet("st-a", clock=clock)
    media, _ = copying(a)
    a._alive.close()
    a._alive = None
    clock.now += timedelta(hours=1)
    racers = [fleet(f"st-{n}", clock=clock, lease_seconds=5) for n in range(4)]
    won, lost = [], []

    def race(ledger):
        try:
            ledger.take_over(media.id)
            won.append(ledger.start_attempt(media.id))
        except (Claimed, InvalidTransition) as exc:
            lost.append(exc)
    threads = [threading.Thread(target=race, args=(r,)) for r in racers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert (1, 3) == (len(won), len(lost))
    outcomes = [x["outcome"] for x in a.attempts(media.id)]
    assert ["interrupted", None] == outcomes
    assert a.verify().ok


def test_a_station_restarted_on_a_new_disk_takes_back_its_own_claims(fleet):
    """Nothing of a station lives only on its disk: started again (same station id, empty
    data directory), it finds its unfinished claim in the shared ledger and parks it for a
    new attempt."""
    first = fleet("st-a")
    media, _ = copying(first)
    first.close()  # the old disk is gone with its process
    again = fleet("st-a")
    assert [media.id] == again.recover_interrupted()
    assert "seen" == again.media(media.id).state


def test_verify_reports_each_stations_part_of_the_one_chain(fleet):
    from evidock.daemon.ledger.verify import station_part

    a, b = fleet("st-a"), fleet("st-b")
    for n in range(3):
        a.ensure_device(f"A{n}", source="usb")
    b.ensure_device("B0", source="usb")
    assert a.verify().ok
    assert {"station": "st-b", "events": 1, "first_seq": 4, "last_seq": 4, "attempts": 0,
            "recordings": 0} == station_part(a, "st-b")
    assert [("st-a", 3), ("st-b", 1)] == [(r["station"], r["events"]) for r in a.stations()]


def test_stations_starting_at_once_on_a_new_ledger_create_it_once(pg_server, pg_schema):
    # CREATE SCHEMA IF NOT EXISTS from two sessions at once can fail on the catalogue's
    # unique key: the first stations of a fleet often start together
    barrier, opened, failed = threading.Barrier(6), [], []

    def start(n: int) -> None:
        barrier.wait()
        try:
            opened.append(ledger_for(pg_server, pg_schema, station=f"st-{n}"))
        except Exception as exc:  # noqa: BLE001 - collected and shown by the assert
            failed.append(repr(exc))
    threads = [threading.Thread(target=start, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    try:
        assert [] == failed
        assert 6 == len(opened)
        assert opened[0].verify().ok
    finally:
        for ledger in opened:
            ledger.close()
