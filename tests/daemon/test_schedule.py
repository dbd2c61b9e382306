"""The ready queue on its own: per-device heaps, earliest deadline first, stale entries."""

from __future__ import annotations

from evidock.daemon.schedule import Queued, ReadyQueue


def always(_entry):
    return True


def test_earliest_deadline_first_across_devices_skipping_busy_ones():
    q = ReadyQueue()
    for entry in (Queued(1, "2026-03-02T10", "A"), Queued(2, "2026-03-02T09", "B"),
                  Queued(3, "2026-03-02T08", "A")):
        q.push(entry)
    assert 2 == q.take({"A"}, always).media_id
    assert 3 == q.take(set(), always).media_id
    assert 1 == q.take(set(), always).media_id
    assert q.take(set(), always) is None
    assert 0 == len(q)


def test_a_busy_devices_files_stay_queued():
    q = ReadyQueue()
    q.push(Queued(1, "2026-03-02T08", "A"))
    assert q.take({"A"}, always) is None
    assert 1 in q and 1 == len(q)


def test_queuing_a_file_again_replaces_its_entry():
    q = ReadyQueue()
    q.push(Queued(1, "2026-03-02T08", "A"))
    q.push(Queued(1, "2026-03-02T12", "A"))
    q.push(Queued(2, "2026-03-02T10", "A"))
    assert [2, 1] == [q.take(set(), always).media_id, q.take(set(), always).media_id]
    assert q.take(set(), always) is None


def test_entries_refused_as_unusable_are_dropped():
    q = ReadyQueue()
    q.push(Queued(1, "2026-03-02T08", "A"))
    q.push(Queued(2, "2026-03-02T09", "A", stored=True))
    assert 2 == q.take(set(), lambda e: e.stored).media_id
    assert 0 == len(q)
