"""People, roles and clearance from the command line (R8, R9)."""

from __future__ import annotations

from evidock.daemon.errors import ExitCode


def test_the_registry_lists_people_with_their_roles_and_clearance(station):
    rows = {r["person_id"]: r for r in station.json("people", "list")}
    assert ["A0", "AP1", "AP2", "AR1", "AU1", "O1"] == sorted(rows)
    assert ("approver", ["normal", "privacy", "state_secret", "trade_secret"]) == (
        rows["AP1"]["role"], rows["AP1"]["clearance"])
    assert ["normal"] == rows["O1"]["clearance"]


def test_an_unknown_name_is_refused_with_what_to_do(station):
    code, _, err = station("cases", "link", "C-1", "1", "--note", "x", "--by", "Nobody")
    assert ExitCode.ACCESS_DENIED == code
    assert "'Nobody' is not a registered person" in err
    assert "evidock people add" in err


def test_only_an_admin_registers_people(station):
    code, _, err = station("people", "add", "X9", "--name", "X", "--role", "officer",
                           "--by", "AR1")
    assert (ExitCode.ACCESS_DENIED, True) == (code, "only an admin may" in err)
    assert 0 == station("people", "add", "X9", "--name", "X", "--role", "officer",
                        "--by", "A0")[0]


def test_the_login_maps_to_a_person(station):
    import getpass

    login = getpass.getuser()
    code, _, err = station("ledger", "list")
    assert (ExitCode.ACCESS_DENIED, True) == (code, f"the login {login!r} is not mapped" in err)
    assert 0 == station("people", "add", "AR1", "--name", "Archivist Wang", "--role",
                        "archivist", "--unit", "Unit 1", "--os-user", login, "--by", "A0")[0]
    code, out, _ = station("ledger", "list")
    assert 0 == code and "2 recording(s)" in out


def test_a_listing_without_clearance_shows_only_a_count_of_restricted_recordings(station):
    # recording 3 is linked to C-2, a state secret: only the approver sees it
    officer = station.json("ledger", "list", "--as", "O1")
    approver = station.json("ledger", "list", "--as", "AP1")
    assert ([1, 2], [1, 2, 3]) == ([r["id"] for r in officer], [r["id"] for r in approver])
    code, out, err = station("ledger", "list", "--as", "O1")
    assert "1 restricted recording(s) not shown" in err
    assert "REC2" not in out


def test_probing_by_hash_prefix_answers_as_for_a_recording_that_does_not_exist(station):
    secret = station.json("ledger", "show", "3", "--as", "AP1")[0]
    probe = station("ledger", "show", secret["sha256"][:10], "--as", "O1")
    absent = station("ledger", "show", "ffffffffff", "--as", "O1")
    assert ExitCode.NOT_FOUND == probe[0] == absent[0]
    assert probe[2].replace(secret["sha256"][:10], "X") == absent[2].replace("ffffffffff", "X")
    refused = [e for e in station.json("access", "log", "--as", "AU1")
               if e["kind"] == "access_refused" and e["action"] == "show"]
    assert [("O1", 3)] == [(e["person"], e["media_id"]) for e in refused]


def test_linking_to_a_case_beyond_ones_clearance_is_refused_and_logged(station):
    code, _, err = station("cases", "link", "C-2", "1", "--note", "x", "--by", "AR1")
    assert (ExitCode.ACCESS_DENIED, True) == (code, "no clearance" in err)
    code, _, err = station("cases", "show", "C-2", "--as", "AR1")
    assert ExitCode.NOT_FOUND == code
    log = station.json("access", "log", "--as", "AU1", "--person", "AR1")
    assert {"link", "show"} <= {e["action"] for e in log if e["kind"] == "access_refused"}


def test_marking_a_recording_restricts_it_and_the_ledger_still_verifies(station):
    assert 0 == station("sensitivity", "set", "privacy", "--media", "2", "--by", "AR1",
                        "--reason", "a bystander's face")[0]
    assert [1] == [r["id"] for r in station.json("ledger", "list", "--as", "O1")]
    assert [1, 2] == [r["id"] for r in station.json("ledger", "list", "--as", "AR1")]
    code, out, err = station("ledger", "verify", "--no-store")
    assert 0 == code, err
