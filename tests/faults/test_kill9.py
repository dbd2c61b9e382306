"""``kill -9`` at each stage of an ingest, then a restart: nothing lost, duplicated or altered.

The daemon kills itself with SIGKILL at a named point (``EVIDOCK_FAULT``, daemon/faults.py),
exactly as a power cut would; the next ``evidock run --until-idle`` must finish the work.
Before the restart each case checks that the kill really landed at its stage (what the
ledger and the store hold), so a moved fault point cannot make a case test something else.
"""

from __future__ import annotations

import pytest

from .invariants import assert_nothing_lost, leftovers, local_objects
from .station import MiB, Station, footage

pytestmark = pytest.mark.slow

ORDER = ("seen", "copying", "stored", "verified")
FILES = {"DCIM/big.mp4": 3 * MiB, "DCIM/a.mp4": 200_000, "AUDIO/b.wav": 50_000}


def stage(station: Station, objects) -> tuple[str | None, bool]:
    """(the state of the recording in flight, whether the store holds a copy of it).

    In flight: the one recording ``copying`` or ``stored``; with none, the furthest state
    any reached.  ``objects()`` gives the content keys the store holds."""
    rows = station.rows()
    inflight = [r["state"] for r in rows if r["state"] in ("copying", "stored")]
    states = {r["state"] for r in rows}
    state = inflight[0] if inflight else next((s for s in reversed(ORDER) if s in states), None)
    done = {r["object_key"] for r in rows if r["state"] == "verified"}
    return state, bool(set(objects()) - done)


def restart_and_check(station: Station, **kw) -> list[dict]:
    code = station.run_until_idle()
    assert 0 == code, station.log_tail()
    return assert_nothing_lost(station, **kw)


def test_killed_mid_read_leaves_a_partial_copy_that_the_restart_cleans_up(stations):
    station = stations()
    footage(station.watch, "CAM1", FILES)
    station.killed_by_fault("read")  # after the first 1 MiB chunk of the first file
    assert ("copying", False) == stage(station, lambda: local_objects(station.store_root))
    assert 1 == len(leftovers(station.store_root)), "no half-written copy: not mid-read"
    restart_and_check(station)


def test_killed_after_the_store_write_before_the_ledger_knew_stores_nothing_twice(stations):
    station = stations()
    footage(station.watch, "CAM1", FILES)
    station.killed_by_fault("after_store_put")
    assert ("copying", True) == stage(station, lambda: local_objects(station.store_root))
    rows = restart_and_check(station)
    assert [1, 1, 2] == sorted(r["attempts"] for r in rows)  # one read again, once


def test_killed_before_verification_verifies_after_the_restart(stations):
    station = stations()
    footage(station.watch, "CAM1", FILES)
    station.killed_by_fault("before_verify")
    assert ("stored", True) == stage(station, lambda: local_objects(station.store_root))
    rows = restart_and_check(station)
    assert [1, 1, 1] == sorted(r["attempts"] for r in rows)  # verified without a new read


#: the ledger commit of media_stored (the store holds it, the ledger still says copying) and
#: of media_verified (the ledger still says stored)
COMMITS = {"stored": ("copying", True), "verified": ("stored", True)}
#: where to start looking: the n-th write transaction of a one-file run (daemon_started,
#: recovery, device, dock, media, attempt, stored, verified); the search below adapts if the
#: ledger writes more or fewer transactions
FIRST_GUESS = {"stored": 7, "verified": 8}


def kill_at_commit(make, which: str, files: dict, objects, **station_kw) -> Station:
    """A station killed inside the ledger transaction that commits ``which``.

    ``ledger_commit@n`` counts write transactions, whose number depends on the ledger's
    internals; so the n is found by trying (each try on a fresh station) and looking at what
    the kill left: the right commit leaves exactly the state of ``COMMITS[which]``."""
    want = COMMITS[which]
    n, tried = FIRST_GUESS[which], {}
    for attempt in range(12):
        station = make(f"{which}-{attempt}", **station_kw)
        footage(station.watch, "CAM1", files)
        station.killed_by_fault(f"ledger_commit@{n}")
        got = stage(station, lambda st=station: objects(st))
        tried[n] = got
        if got == want:
            return station
        station.kill_all()
        behind = got[0] is None or ORDER.index(got[0]) < ORDER.index(want[0]) or (
            got[0] == want[0] and not got[1])
        n = n + 1 if behind else n - 1
        if n in tried or n < 1:
            break
    raise AssertionError(f"no ledger commit left {want}; tried {tried}")


@pytest.mark.parametrize("which", sorted(COMMITS))
def test_killed_during_the_ledger_commit_loses_and_duplicates_nothing(stations, which):
    station = kill_at_commit(stations, which, {"DCIM/only.mp4": 2 * MiB},
                             lambda st: local_objects(st.store_root))
    restart_and_check(station)
