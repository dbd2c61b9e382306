"""Stations of one fleet: real daemons on one PostgreSQL ledger and one shared write-once
store.  The same bytes docked at two stations at once end as one stored object; a station
killed mid-ingest has its recordings finished by another station, or by itself started again
on a new, empty disk, with nothing lost and nothing handed over twice."""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import pytest

from ..daemon_proc import EVIDOCK, evidock
from .pg_helpers import password
from .test_service import make_footage

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


@pytest.fixture
def fleet(tmp_path, pg_server, pg_schema):
    """``station(name, data=None)`` -> (config path, env) of a station on the shared ledger
    and the shared store ``tmp_path/store``."""
    creds = tmp_path / "credentials"
    creds.mkdir()
    (creds / "ledger-password").write_text(password(pg_server))
    env = {"CREDENTIALS_DIRECTORY": str(creds)}

    def station(name: str, data: str | None = None, lease: float = 5) -> str:
        path = tmp_path / f"{name}-{data or 'd'}.toml"
        path.write_text(
            f'[station]\nid = "{name}"\ndata_dir = "{tmp_path / (data or name)}"\n'
            f'[usb]\nenabled = false\n[ingest]\nprobe = false\n[derivatives]\nenabled = false\n'
            f'[store]\ntype = "local"\npath = "{tmp_path / "store"}"\n'
            f'[ledger]\ntype = "postgres"\ndsn = "{pg_server.dsn}"\nschema = "{pg_schema}"\n'
            f'lease_seconds = {lease}\n')
        return str(path)
    station.env = env
    return station


def run(config: str, watch, env: dict, *, fault: str | None = None) -> subprocess.Popen:
    extra = {"EVIDOCK_FAULT": fault} if fault else {}
    return subprocess.Popen([*EVIDOCK, "run", "--config", config, "--watch", str(watch),
                             "--until-idle", "--settle", "0"], env={**os.environ, **env,
                                                                     **extra},
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def rows(config: str, env: dict) -> list[dict]:
    out = evidock("ledger", "list", "--json", "--config", config, env=env).stdout
    return [json.loads(line) for line in out.splitlines()]


def attempts(config: str, env: dict, media_id: int) -> list[tuple[str, str]]:
    doc = json.loads(evidock("ledger", "show", str(media_id), "--json", "--config", config,
                             env=env).stdout)
    return [(a["station"], a["outcome"]) for a in doc["attempt_history"]]


def verified(config: str, env: dict) -> dict:
    doc = json.loads(evidock("ledger", "verify", "--json", "--no-store", "--config", config,
                             env=env).stdout)
    assert doc["ok"], doc["problems"]
    return doc


def same_card(src, dst) -> None:
    """The same card in another dock: the same serial, paths, bytes and times."""
    shutil.copytree(src, dst, copy_function=shutil.copy2)


def test_the_same_card_docked_at_two_stations_at_once_is_stored_once_and_seen_twice(
        tmp_path, fleet):
    want = make_footage(tmp_path / "dock-a", "CAM1", {"DCIM/1.mp4": 24 << 20,
                                                      "DCIM/2.mp4": 3 << 20})
    same_card(tmp_path / "dock-a", tmp_path / "dock-b")
    a, b = fleet("st-a"), fleet("st-b")
    procs = [run(a, tmp_path / "dock-a", fleet.env), run(b, tmp_path / "dock-b", fleet.env)]
    outs = [p.communicate(timeout=180)[0] for p in procs]
    assert [0, 0] == [p.returncode for p in procs], outs
    found = rows(a, fleet.env)
    assert [("verified", want["DCIM/1.mp4"]), ("verified", want["DCIM/2.mp4"])] == [
        (r["state"], r["sha256"]) for r in found]  # one row per recording, not per dock
    for row in found:
        outcomes = [o for _, o in attempts(a, fleet.env, row["id"])]
        assert 1 == outcomes.count("verified"), outcomes  # handed over once
    objects = [p for p in (tmp_path / "store" / "media").rglob("*")
               if p.is_file() and p.suffix != ".json"]
    assert 2 == len(objects)
    doc = verified(a, fleet.env)
    events = evidock("ledger", "verify", "--json", "--no-store", "--station", "st-b",
                     "--config", a, env=fleet.env)
    assert json.loads(events.stdout)["station"]["events"] > 0  # st-b saw the card too
    docks = _docks(a, fleet.env)
    assert {"st-a", "st-b"} == {station for station, serial in docks if serial == "CAM1"}
    assert doc["events"] >= 8


def _docks(config: str, env: dict) -> list[tuple[str, str]]:
    """(station, serial) of every dock the chain recorded (the sightings)."""
    from evidock.daemon.config import load
    from evidock.daemon.ledger.postgres import PostgresLedger

    os.environ.update(env)
    cfg = load(config).ledger
    ledger = PostgresLedger(cfg.dsn, password=cfg.password(), schema=cfg.schema_name,
                            station="reader", create=False)
    try:
        return [(e.station, json.loads(e.data)["serial"])
                for e in ledger.events(kinds=["device_docked"])]
    finally:
        ledger.close()
        for key in env:
            os.environ.pop(key, None)


def test_the_same_bytes_on_two_cards_at_two_stations_are_one_object_and_two_sightings(
        tmp_path, fleet):
    make_footage(tmp_path / "dock-a", "CAM1", {"DCIM/1.mp4": 8 << 20})
    (tmp_path / "dock-b" / "CAM2" / "DCIM").mkdir(parents=True)
    shutil.copy2(tmp_path / "dock-a" / "CAM1" / "DCIM" / "1.mp4",
                 tmp_path / "dock-b" / "CAM2" / "DCIM" / "1.mp4")
    a, b = fleet("st-a"), fleet("st-b")
    procs = [run(a, tmp_path / "dock-a", fleet.env), run(b, tmp_path / "dock-b", fleet.env)]
    outs = [p.communicate(timeout=180)[0] for p in procs]
    assert [0, 0] == [p.returncode for p in procs], outs
    found = rows(a, fleet.env)
    assert [("CAM1", "verified"), ("CAM2", "verified")] == sorted(
        (r["device_serial"], r["state"]) for r in found)  # whichever station was first
    assert 1 == len({r["object_key"] for r in found})
    objects = [p for p in (tmp_path / "store" / "media").rglob("*")
               if p.is_file() and p.suffix != ".json"]
    assert 1 == len(objects)
    verified(a, fleet.env)


@pytest.mark.parametrize("fault", ["read", "after_store_put"])
def test_a_station_killed_mid_ingest_has_its_recording_finished_by_another(
        tmp_path, fleet, fault):
    want = make_footage(tmp_path / "dock-a", "CAM1", {"DCIM/1.mp4": 6 << 20})
    a, b = fleet("st-a"), fleet("st-b", lease=3)
    killed = run(a, tmp_path / "dock-a", fleet.env, fault=fault)
    killed.communicate(timeout=120)
    assert -9 == killed.returncode
    (row,) = rows(b, fleet.env)
    assert "copying" == row["state"]
    # the officer takes the camera to the next station
    shutil.move(tmp_path / "dock-a", tmp_path / "dock-b")
    other = run(b, tmp_path / "dock-b", fleet.env)
    out = other.communicate(timeout=180)[0]
    assert 0 == other.returncode, out
    (row,) = rows(b, fleet.env)
    assert ("verified", want["DCIM/1.mp4"]) == (row["state"], row["sha256"])
    assert [("st-a", "interrupted"), ("st-b", "verified")] == attempts(b, fleet.env, row["id"])
    objects = [p for p in (tmp_path / "store" / "media").rglob("*")
               if p.is_file() and p.suffix != ".json"]
    assert 1 == len(objects)
    verified(b, fleet.env)


def test_a_station_whose_disk_is_replaced_loses_nothing(tmp_path, fleet):
    want = make_footage(tmp_path / "dock", "CAM1", {"DCIM/1.mp4": 6 << 20,
                                                    "DCIM/2.wav": 40_000})
    old = fleet("st-a", data="old-disk")
    killed = run(old, tmp_path / "dock", fleet.env, fault="read@2")
    killed.communicate(timeout=120)
    assert -9 == killed.returncode
    shutil.rmtree(tmp_path / "old-disk")  # the disk is gone; ledger and store are shared
    new = fleet("st-a", data="new-disk")
    again = run(new, tmp_path / "dock", fleet.env)
    out = again.communicate(timeout=180)[0]
    assert 0 == again.returncode, out
    found = rows(new, fleet.env)
    assert sorted(want.values()) == sorted(r["sha256"] for r in found)
    assert {"verified"} == {r["state"] for r in found}
    assert 1 == sum(o == "verified" for r in found for _, o in attempts(new, fleet.env, r["id"])
                    if r["source_path"].endswith("1.mp4"))
    objects = [p for p in (tmp_path / "store" / "media").rglob("*")
               if p.is_file() and p.suffix != ".json"]
    assert 2 == len(objects)
    verified(new, fleet.env)
