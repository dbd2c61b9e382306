"""Linking footage to cases: notes, who and when, legal holds the store confirms, and the
automatic rule."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from evidock.daemon.cases.importer import CaseRow
from evidock.daemon.errors import EvidockError

from ..world import T0, World


def case(case_id="C-1", officers=("110001",), start=T0 - timedelta(hours=3),
         end=T0 + timedelta(hours=3), status="open", closed_at=None, type_="seizure"):
    return CaseRow(case_id, type_, tuple(officers), "Shop A", start, end, status, closed_at,
                   "normal")


@pytest.fixture
def world(tmp_path):
    return World(tmp_path, {"cases": {"auto_link": "off",
                                      "retention_days_by_type": {"seizure": 3650}}})


def test_import_adds_then_updates_only_what_changed(world):
    def counts(result):
        return result.added, result.updated, result.unchanged

    assert (1, 0, 0) == counts(world.c.cases.import_rows([case()], by="li", source="a.csv"))
    assert (0, 0, 1) == counts(world.c.cases.import_rows([case()], by="li", source="a.csv"))
    result = world.c.cases.import_rows([case(status="closed", closed_at=T0)], by="li",
                                       source="b.csv")
    assert (0, 1, 0) == counts(result)
    update = [json.loads(e.data) for e in world.ledger.events(subject="case:C-1")][-1]
    assert {"status": "open", "closed_at": None} == update["before"]


def test_linking_as_evidence_puts_a_legal_hold_the_store_confirms(world):
    media = world.handed_over()
    world.c.cases.import_rows([case()], by="li", source="a.csv")
    world.c.cases.link("C-1", [media.id], kind="evidence", note="the seizure", by="Officer Li")
    assert world.store.stat(media.object_key).legal_hold
    [link] = world.c.cases.links("C-1")
    assert ("evidence", "the seizure", "Officer Li") == (link["kind"], link["note"],
                                                         link["linked_by"])
    assert link["hold_placed_at"] is not None
    kinds = [e.kind for e in world.ledger.events(subject=f"media:{media.id}")]
    assert ["legal_hold_requested", "legal_hold_placed"] == [k for k in kinds if "hold" in k]


def test_evidence_of_a_case_type_with_longer_retention_is_retained_longer(world):
    media = world.handed_over()
    world.c.cases.import_rows([case()], by="li", source="a.csv")
    world.c.cases.link("C-1", [media.id], kind="evidence", note="", by="li")
    retained = world.store.stat(media.object_key).retain_until
    assert retained >= T0 - timedelta(hours=1) + timedelta(days=3650)
    assert world.ledger.media(media.id).retain_until == \
        retained.astimezone(T0.tzinfo).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    assert world.ledger.verify().ok


def test_evidence_not_yet_handed_over_is_held_once_it_is_stored(world):
    media, item = world.found()
    world.c.cases.import_rows([case()], by="li", source="a.csv")
    world.c.cases.link("C-1", [media.id], kind="evidence", note="", by="li")
    media = world.hand_over(media, item)
    assert not world.store.stat(media.object_key).legal_hold
    world.c.runner.run("retention")
    assert world.store.stat(media.object_key).legal_hold


def test_unlinking_evidence_keeps_the_hold_unless_release_is_asked_by_name(world):
    media = world.handed_over()
    world.c.cases.import_rows([case()], by="li", source="a.csv")
    world.c.cases.link("C-1", [media.id], kind="evidence", note="", by="li")
    result = world.c.cases.unlink("C-1", media.id, by="wang", reason="wrong case")
    assert result.hold_kept
    assert world.store.stat(media.object_key).legal_hold
    world.c.holds.release(media.id, "wang", "not evidence in any case")
    assert not world.store.stat(media.object_key).legal_hold
    events = [json.loads(e.data) for e in world.ledger.events(subject="case:C-1")
              if e.kind == "case_unlinked"]
    assert [("wang", "wrong case", True)] == [(d["by"], d["reason"], d["hold_kept"])
                                              for d in events]


def test_a_hold_is_not_released_while_another_case_holds_the_recording(world):
    media = world.handed_over()
    world.c.cases.import_rows([case("C-1"), case("C-2")], by="li", source="a.csv")
    world.c.cases.link("C-1", [media.id], kind="evidence", note="", by="li")
    world.c.cases.link("C-2", [media.id], kind="evidence", note="", by="li")
    with pytest.raises(EvidockError, match="still evidence in case"):
        world.c.cases.unlink("C-1", media.id, by="wang", reason="dup", release_hold=True)
    assert world.store.stat(media.object_key).legal_hold
    assert 1 == len(world.c.cases.links("C-1"))  # refused as a whole: still linked


def test_the_rule_links_a_case_officers_recordings_inside_the_window(tmp_path):
    world = World(tmp_path, {"cases": {"auto_link": "candidate"}})
    inside = world.handed_over(officer="110001", recorded_at=T0 - timedelta(hours=1))
    other = world.handed_over(officer="110009", recorded_at=T0 - timedelta(hours=1))
    before = world.handed_over(officer="110001", recorded_at=T0 - timedelta(hours=5))
    result = world.c.cases.import_rows([case()], by="li", source="a.csv")
    assert 1 == result.linked
    assert [(inside.id, "candidate", "auto-link rule")] == [
        (lk["media_id"], lk["kind"], lk["linked_by"]) for lk in world.c.cases.links("C-1")]
    assert {other.id, before.id}.isdisjoint(lk["media_id"] for lk in world.c.cases.links("C-1"))


def test_the_rule_never_relinks_what_a_person_unlinked(tmp_path):
    world = World(tmp_path, {"cases": {"auto_link": "evidence"}})
    media = world.handed_over(recorded_at=T0 - timedelta(hours=1))
    world.c.cases.import_rows([case()], by="li", source="a.csv")
    assert world.store.stat(media.object_key).legal_hold
    world.c.cases.unlink("C-1", media.id, by="wang", reason="not this case")
    assert 0 == world.c.cases.auto_link()
    assert [] == world.c.cases.links("C-1")


def test_a_candidate_is_upgraded_to_evidence_with_a_note(world):
    media = world.handed_over()
    world.c.cases.import_rows([case()], by="li", source="a.csv")
    world.c.cases.link("C-1", [media.id], kind="candidate", note="", by="rule")
    assert [media.id] == world.c.cases.link("C-1", [media.id], kind="evidence",
                                            note="shows the seizure", by="li")
    [link] = world.c.cases.links("C-1")
    assert ("evidence", "shows the seizure") == (link["kind"], link["note"])
    assert world.store.stat(media.object_key).legal_hold
