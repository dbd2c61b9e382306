"""``evidock ledger migrate --to postgres``: a station's SQLite ledger, made by a real run,
moves into PostgreSQL with its chain intact (same head, so the store's anchors still agree)
and verified; the password comes from a systemd credential; a second move is refused."""

from __future__ import annotations

import json

import pytest

from ...daemon_proc import evidock
from ..pg_helpers import ledger_for, password
from ..test_service import make_footage

pytestmark = pytest.mark.postgres


def pg_config(tmp_path, server, schema: str, data) -> tuple[str, dict]:
    creds = tmp_path / "credentials"
    creds.mkdir(exist_ok=True)
    (creds / "ledger-password").write_text(password(server) + "\n")
    path = tmp_path / "pg.toml"
    path.write_text(f'[station]\nid = "st-1"\ndata_dir = "{data}"\n[usb]\nenabled = false\n'
                    f'[ingest]\nprobe = false\n[derivatives]\nenabled = false\n'
                    f'[ledger]\ntype = "postgres"\ndsn = "{server.dsn}"\n'
                    f'schema = "{schema}"\n')
    return str(path), {"CREDENTIALS_DIRECTORY": str(creds)}


def test_a_stations_sqlite_ledger_moves_into_postgres_chain_intact_and_verified(
        tmp_path, pg_server, pg_schema):
    data = tmp_path / "d"
    make_footage(tmp_path / "in", "CAM1", {"DCIM/1.mp4": 200_000, "DCIM/2.wav": 3000})
    evidock("run", "--data-dir", str(data), "--watch", str(tmp_path / "in"), "--until-idle",
            "--settle", "0", "--no-derivatives", timeout=120)
    before = evidock("ledger", "verify", "--json", "--no-store", "--data-dir", str(data))
    sqlite_rows = evidock("ledger", "list", "--json", "--data-dir", str(data)).stdout
    config, env = pg_config(tmp_path, pg_server, pg_schema, data)

    moved = evidock("ledger", "migrate", "--to", "postgres", "--json", "--config", config,
                    env=env)
    doc = json.loads(moved.stdout)
    assert (True, []) == (doc["ok"], doc["problems"])
    want = json.loads(before.stdout)
    assert want["events"] == doc["events"] and 2 == doc["media"]
    after = evidock("ledger", "verify", "--json", "--no-store", "--config", config, env=env)
    check = json.loads(after.stdout)
    assert (True, want["events"], want["rows"]) == (check["ok"], check["events"], check["rows"])
    assert sqlite_rows == evidock("ledger", "list", "--json", "--config", config,
                                  env=env).stdout

    again = evidock("ledger", "migrate", "--to", "postgres", "--config", config, env=env,
                    check=False)
    assert 0 != again.returncode and "already holds" in again.stderr
    assert check["events"] == json.loads(evidock(
        "ledger", "verify", "--json", "--no-store", "--config", config, env=env).stdout)["events"]


def test_a_postgres_ledger_without_a_password_says_where_to_put_one(tmp_path, pg_server,
                                                                     pg_schema):
    config, _ = pg_config(tmp_path, pg_server, pg_schema, tmp_path / "d")
    proc = evidock("ledger", "list", "--config", config, check=False,
                   env={"CREDENTIALS_DIRECTORY": str(tmp_path / "none")})
    assert 0 != proc.returncode
    assert "password" in proc.stderr


def test_doctor_names_a_stations_role_that_could_drop_the_append_only_triggers(
        tmp_path, pg_server, pg_schema):
    config, env = pg_config(tmp_path, pg_server, pg_schema, tmp_path / "d")
    proc = evidock("doctor", "--json", "--no-write", "--config", config, env=env, check=False)
    rows = {r["check"]: r for r in map(json.loads, proc.stdout.splitlines())}
    assert ("problem", True) == (rows["ledger"]["level"], "no ledger" in rows["ledger"]["message"])
    ledger_for(pg_server, pg_schema).close()  # the first station made it
    proc = evidock("doctor", "--json", "--no-write", "--config", config, env=env, check=False)
    rows = {r["check"]: r for r in map(json.loads, proc.stdout.splitlines())}
    assert "ok" == rows["ledger_durability"]["level"]
    assert ("warning", True) == (rows["ledger_role"]["level"],
                                 "superuser" in rows["ledger_role"]["message"])
    # a least-privilege role for the stations: read and append events, nothing else on them
    with pg_server.connect(autocommit=True) as conn:
        conn.execute("CREATE ROLE station LOGIN PASSWORD 'station-pw'")
        conn.execute(f"GRANT USAGE ON SCHEMA {pg_schema} TO station")
        conn.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {pg_schema} "
                     "TO station")
        conn.execute(f"REVOKE UPDATE, DELETE ON {pg_schema}.events FROM station")
    (tmp_path / "credentials" / "ledger-password").write_text("station-pw")
    text = open(config).read().replace(f"user={pg_server.dsn.split('user=')[1]}", "user=station")
    open(config, "w").write(text)
    proc = evidock("doctor", "--json", "--no-write", "--config", config, env=env, check=False)
    rows = {r["check"]: r for r in map(json.loads, proc.stdout.splitlines())}
    assert "ok" == rows.get("ledger_role", rows)["level"], rows
