"""The anchor segments: what one holds, how they chain, and that no anchor is ever written over
a ledger that lost anchored history (a critical alert instead)."""

from __future__ import annotations

import json
import shutil

import pytest

from evidock.daemon.errors import AnchorMismatch
from evidock.daemon.ledger import anchor
from tests.daemon.world import World


@pytest.fixture
def world(tmp_path):
    return World(tmp_path)


def test_a_segment_holds_the_events_since_the_last_anchor_and_names_it(world):
    world.handed_over()
    anchorer = world.c.anchorer
    first = anchorer.write()
    assert first.startswith("ledger/st-test/")
    assert anchorer.write() is None  # nothing new: nothing written
    world.handed_over()
    second = anchorer.write()
    segments = anchor.read_segments(world.store, "st-test")
    assert [first, second] == [s.key for s in segments]
    one, two = segments
    assert 1 == one.events[0].seq and two.events[0].seq == one.seq + 1
    assert (first, one.sha256) == (two.head["previous"], two.head["previous_sha256"])
    assert [] == anchor.chain_problems(segments)
    lines = world.store.read_record(second).decode().splitlines()
    assert [e.seq for e in world.ledger.events(after=one.seq)] == \
        [json.loads(line)["seq"] for line in lines[:-1]]
    head = json.loads(lines[-1])
    assert ("evidock.anchor/1", "st-test", world.ledger.head()) == \
        (head["format"], head["station"], (head["seq"], head["hash"]))


def test_many_events_make_several_chained_segments_of_bounded_size(world):
    """A run that made more events than one segment holds (100,000 files make 400,000)
    writes several segments at once, each naming the one before: memory stays bounded when
    they are written and when the newest is read back."""
    world.handed_over()
    world.handed_over(data=b"a second recording")
    head = world.ledger.head()
    anchorer = anchor.Anchorer(world.ledger, world.store, station="st-test",
                               retention_days=1, segment_events=3)
    newest = anchorer.write()
    segments = anchor.read_segments(world.store, "st-test")
    assert len(segments) == -(-head[0] // 3) and newest == segments[-1].key
    assert [3] * (len(segments) - 1) == [len(s.events) for s in segments[:-1]]
    assert [] == anchor.chain_problems(segments)
    assert (head[0], head[1]) == (segments[-1].seq, segments[-1].hash)
    assert [e.seq for e in world.ledger.events()] == \
        [e.seq for s in segments for e in s.events]
    assert anchorer.write() is None  # nothing new: nothing written


def test_no_anchor_is_written_over_a_rolled_back_ledger(tmp_path):
    world = World(tmp_path)
    world.handed_over()
    world.c.anchorer.write()
    world.ledger.close()
    shutil.copy(world.ledger.path, tmp_path / "old.sqlite3")  # a backup, taken now
    later = World(tmp_path)  # the same files, opened again
    later.handed_over(data=b"the next day")
    later.c.anchorer.write()
    later.ledger.close()
    shutil.copy(tmp_path / "old.sqlite3", later.ledger.path)  # the backup restored
    again = World(tmp_path)
    with pytest.raises(AnchorMismatch, match="no longer holds the anchored head"):
        again.c.anchorer.write()
    result = again.c.runner.run("anchor")
    assert result.ok
    [alert] = again.open_alerts("anchor")
    assert ("R4", "critical") == (alert.rule, alert.severity)
    assert 2 == len(anchor.read_segments(again.store, "st-test"))  # nothing papered over


def test_a_station_id_with_other_characters_gets_a_safe_prefix():
    assert "ledger/st-01/" == anchor.station_prefix("st-01")
    assert "ledger/x-" + "金山".encode().hex() + "/" == anchor.station_prefix("金山")


def test_a_damaged_segment_is_refused_with_the_reason(world):
    world.handed_over()
    key = world.c.anchorer.write()
    data = world.store.read_record(key).replace(b'"kind":"media_seen"', b'"kind":"media_gone"')
    with pytest.raises(ValueError, match="does not match its hash"):
        anchor.parse(key, data)
