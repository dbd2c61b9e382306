"""RFC 3161 time stamps of the chain head against a real authority on loopback (OpenSSL's
``ts -reply`` behind an HTTP handler): at export, on schedule, checked by ``ledger verify``
and ``export verify``; an authority that is down never stops an export, and the gap shows."""

from __future__ import annotations

import base64
import json
import subprocess
from datetime import UTC, datetime, timedelta

from evidock.daemon import config as config_mod
from evidock.daemon.custody.tsa import Stamper, stamp_job
from evidock.daemon.errors import ExitCode
from evidock.daemon.ledger.sqlite import SqliteLedger
from tests.daemon.custody.test_access_and_export import approved
from tests.daemon.custody.test_bag_tampered import rebag, run_manual


def test_an_export_time_stamps_the_head_and_the_bag_carries_the_token(station, tsa):
    station.use_tsa(tsa)
    rid = approved(station)
    bag = station.tmp / "bag"
    code, out, err = station("export", "C-1", "--request", rid, "--to", str(bag), "--as", "AR1")
    assert 0 == code, err
    assert "time-stamped (RFC 3161)" in out
    head = json.loads((bag / "data/ledger-proof/head.json").read_text())
    checked = subprocess.run(
        ["openssl", "ts", "-verify", "-digest", head["hash"], "-in",
         str(bag / "data/ledger-proof/head.tst"), "-token_in", "-CAfile",
         str(bag / "data/ledger-proof/tsa-ca.pem")], capture_output=True, text=True)
    assert "Verification: OK" in checked.stdout, checked.stderr
    assert [0] * 5 == [r.returncode for r in run_manual(bag)]
    code, out, err = station("export", "verify", str(bag))
    assert (0, True) == (code, "time-stamped 20" in out), err
    code, out, err = station("ledger", "verify", "--no-store")
    assert 0 == code and "1 time stamp(s) verified" in err, err


def test_a_forged_head_does_not_match_the_token(station, tsa):
    station.use_tsa(tsa)
    rid = approved(station)
    bag = station.tmp / "bag"
    assert 0 == station("export", "C-1", "--request", rid, "--to", str(bag), "--as", "AR1")[0]
    proof = bag / "data/ledger-proof"
    head = json.loads((proof / "head.json").read_text())
    head["hash"] = "ab" * 32
    (proof / "head.json").write_text(json.dumps(head, indent=2, sort_keys=True) + "\n")
    rebag(bag)
    code, _, err = station("export", "verify", str(bag), "--no-ledger")
    assert ExitCode.EXPORT_INVALID == code
    assert "head.json names" in err


def test_an_authority_that_is_down_leaves_a_gap_that_is_reported_and_filled(station, tsa):
    station.use_tsa(tsa)
    tsa.stop()
    rid = approved(station)
    bag = station.tmp / "bag"
    code, out, err = station("export", "C-1", "--request", rid, "--to", str(bag), "--as", "AR1")
    assert 0 == code, err  # the export does not wait for the authority
    assert "the bag has no time stamp" in err
    assert not (bag / "data/ledger-proof/head.tst").exists()
    code, _, err = station("export", "verify", str(bag))
    assert (0, True) == (code, "no RFC 3161 time stamp in this bag" in err)
    code, out, _ = station("doctor", "--json")
    rows = {json.loads(line)["check"]: json.loads(line) for line in out.splitlines()}
    assert ExitCode.FAILED == code
    assert "problem" == rows["timestamps"]["level"]
    assert "failed tr(ies)" in rows["timestamps"]["message"]
    code, _, err = station("ledger", "stamp")
    assert (ExitCode.FAILED, True) == (code, "no token for event" in err)

    tsa.start()  # back on the same port
    code, out, err = station("ledger", "stamp")
    assert 0 == code, err
    code, out, _ = station("doctor", "--json")
    rows = {json.loads(line)["check"]: json.loads(line) for line in out.splitlines()}
    assert "ok" == rows["timestamps"]["level"], rows["timestamps"]
    stamped = [json.loads(line) for line in station("ledger", "stamp", "--json")[1].splitlines()]
    assert stamped[0]["gap"]["failed_since"] == 0
    cfg = config_mod.load(station.folder / "evidock.toml")
    ledger = SqliteLedger(cfg.ledger_path, station=cfg.station.id, create=False)
    late = [json.loads(e.data)["late"] for e in ledger.events(kinds=["ledger_timestamped"])]
    assert [True] == late[:1]
    code, _, err = station("ledger", "verify", "--no-store")
    assert 0 == code, err


def test_the_schedule_stamps_when_due_and_tries_again_after_a_failure(station, tsa):
    station.use_tsa(tsa)
    cfg = config_mod.load(station.folder / "evidock.toml")
    ledger = SqliteLedger(cfg.ledger_path, station=cfg.station.id, create=False)
    stamper = Stamper(ledger, cfg.timestamps)
    later = [timedelta(0)]
    job = stamp_job(stamper, clock=lambda: datetime.now(UTC) + later[0])
    job()  # nothing stamped yet: due
    assert [ledger.head()[0] - 1] == [r["seq"] for r in ledger.timestamps()]
    job()  # stamped less than every_hours ago: not due
    assert 1 == len(ledger.timestamps())
    ledger.record("daemon_started", "station:x", {})
    tsa.stop()
    later[0] = timedelta(hours=25)  # a day on: due again
    job()  # authority down: recorded, not raised
    assert 1 == len(list(ledger.events(kinds=["timestamp_failed"])))
    tsa.start()
    later[0] = timedelta(0)  # not due by age, but a try failed since: stamped again
    job()
    assert 2 == len(ledger.timestamps())


def test_ledger_verify_names_a_token_the_configured_authority_did_not_sign(station, tsa):
    station.use_tsa(tsa)
    assert 0 == station("ledger", "stamp")[0]
    assert 0 == station("ledger", "verify", "--no-store")[0]
    conf = station.folder / "evidock.toml"
    # the station now trusts another key (here: the CA's own), so the token is not its
    conf.write_text(conf.read_text().replace(str(tsa.folder / "tsa.pem"), str(tsa.ca_pem)))
    code, _, err = station("ledger", "verify", "--no-store")
    assert ExitCode.VERIFY_FAILED == code
    assert "the token does not verify" in err, err


def test_an_edited_token_row_is_named_by_the_replay(station, tsa):
    station.use_tsa(tsa)
    assert 0 == station("ledger", "stamp")[0]
    cfg = config_mod.load(station.folder / "evidock.toml")
    ledger = SqliteLedger(cfg.ledger_path, station=cfg.station.id, create=False)
    token = bytearray(base64.b64decode(ledger.timestamps()[0]["token"]))
    token[-10] ^= 0xFF
    ledger._conn().execute("UPDATE timestamps SET token = ?",
                           (base64.b64encode(token).decode(),))
    code, _, err = station("ledger", "verify", "--no-store")
    assert (ExitCode.VERIFY_FAILED, True) == (code, "timestamps" in err and "token" in err)


def test_doctor_says_when_no_authority_is_configured(station):
    code, out, _ = station("doctor", "--json")
    rows = {json.loads(line)["check"]: json.loads(line) for line in out.splitlines()}
    assert "warning" == rows["timestamps"]["level"]
    assert "no time-stamping authority is configured" in rows["timestamps"]["message"]
    code, _, err = station("ledger", "verify", "--no-store")
    assert (0, True) == (code, "no RFC 3161 time stamp in the ledger" in err)
