"""The custody API a web layer calls (daemon/custody/): a view under an approved request is
logged, and each refusal is logged before it is raised."""

from __future__ import annotations

import pytest

from evidock.daemon import config as config_mod
from evidock.daemon.custody.access import Custody
from evidock.daemon.errors import AccessDenied, UnknownPerson
from evidock.daemon.ledger.sqlite import SqliteLedger


@pytest.fixture
def custody(station):
    cfg = config_mod.load(station.folder / "evidock.toml")
    ledger = SqliteLedger(cfg.ledger_path, station=cfg.station.id, create=False)
    return Custody(ledger, cfg.custody)


def test_a_view_under_an_approved_request_is_in_the_access_log(custody):
    archivist, head = custody.people.resolve("AR1"), custody.people.resolve("Head Chen")
    rid = custody.request(archivist, "C-1", scope="view", purpose="review", media=None)
    custody.decide(head, rid, approve=True, reason="ok", days=1)
    req, ids = custody.authorize(archivist, rid, action="view", media_ids=[2])
    custody.record_use(archivist, req, action="view", media_ids=ids)
    viewed = [e for e in custody.ledger.access_events() if e["kind"] == "access_viewed"]
    assert [("AR1", [2], "AP1")] == [(e["person"], e["media_ids"], e["approved_by"])
                                     for e in viewed]
    with pytest.raises(AccessDenied, match="viewing only"):
        custody.authorize(archivist, rid, action="export")
    assert custody.ledger.verify().ok


def test_a_restricted_recording_cannot_be_requested_into_view_by_someone_without_clearance(
        custody):
    officer, head = custody.people.resolve("O1"), custody.people.resolve("AP1")
    rid = custody.request(officer, "C-2", scope="view", purpose="curious", media=None)
    custody.decide(head, rid, approve=True, reason="ok")
    with pytest.raises(AccessDenied, match="needs clearance for state_secret"):
        custody.authorize(officer, rid, action="view")
    [refusal] = [e for e in custody.ledger.access_events() if e["kind"] == "access_refused"]
    assert ("O1", "view", 3) == (refusal["person"], refusal["action"], refusal["media_id"])


def test_a_name_shared_by_two_people_is_refused_with_their_badges(custody):
    admin = custody.people.resolve("A0")
    custody.people.register(person_id="O2", name="Officer Zhang", role="officer", unit=None,
                            os_user=None, clearance=[], by=admin.person_id)
    with pytest.raises(UnknownPerson, match="give the badge or staff number instead: O1, O2"):
        custody.people.resolve("Officer Zhang")


def test_a_retired_person_can_no_longer_act(custody):
    custody.people.register(person_id="O1", name="Officer Zhang", role="officer", unit="Unit 1",
                            os_user=None, clearance=[], by="A0", active=False)
    with pytest.raises(UnknownPerson, match="no longer active"):
        custody.people.resolve("O1")
