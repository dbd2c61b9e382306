"""``evidock people password``: an admin sets anyone's password for the review room, a person
their own; only a scrypt hash is kept, outside the chain, and the chain says who set it."""

from __future__ import annotations

import io
import json

import pytest

from evidock.daemon.custody.passwords import check_password, hash_password
from evidock.daemon.ledger.sqlite import SqliteLedger

SECRET = "a long enough password"


@pytest.fixture
def typed(monkeypatch):
    def give(text: str) -> None:
        monkeypatch.setattr("sys.stdin", io.StringIO(text + "\n"))
    return give


def ledger(station) -> SqliteLedger:
    return SqliteLedger(station.folder / "data" / "ledger.sqlite3", station="st-cust")


def test_an_admin_sets_a_password_and_only_its_scrypt_hash_is_kept(station, typed):
    typed(SECRET)
    code, out, err = station("people", "password", "AR1", "--by", "A0", "--stdin")
    assert 0 == code, err
    assert "Archivist Wang (AR1, archivist): password set" in out
    db = ledger(station)
    stored = db.credential("AR1")
    assert stored.startswith("scrypt$16384$8$1$") and SECRET not in stored
    assert check_password(SECRET, stored) and not check_password(SECRET + "x", stored)
    [event] = db.events(kinds=["person_password_set"])
    assert {"person_id": "AR1", "by": "A0"} == {k: v for k, v in json.loads(event.data).items()
                                                if k != "set_at"}
    assert 0 == station("ledger", "verify", "--no-store")[0]  # the table is no projection


def test_a_person_sets_their_own_password_but_nobody_elses(station, typed):
    typed(SECRET)
    assert 0 == station("people", "password", "AR1", "--by", "AR1", "--stdin")[0]
    typed(SECRET)
    code, _, err = station("people", "password", "AP1", "--by", "AR1", "--stdin")
    assert 0 != code and "only an admin or the person themselves" in err
    assert None is ledger(station).credential("AP1")


def test_a_short_password_or_an_unknown_person_sets_nothing(station, typed):
    typed("short")
    code, _, err = station("people", "password", "AR1", "--by", "A0", "--stdin")
    assert 0 != code and "at least 10 characters" in err
    typed(SECRET)
    code, _, err = station("people", "password", "NOBODY", "--by", "A0", "--stdin")
    assert 0 != code and "not a registered person" in err
    assert [] == list(ledger(station).events(kinds=["person_password_set"]))


def test_a_login_without_a_password_is_refused_like_a_wrong_one():
    assert not check_password(SECRET, None)
    assert not check_password(SECRET, "md5$whatever")
    assert check_password(SECRET, hash_password(SECRET))
    with pytest.raises(ValueError):
        hash_password("123")
