-- PostgreSQL mirror of migrations/0012_person_credentials.sql (tools/pg-mirror, reviewed).
-- evidock ledger, schema 12: the review room's logins. A person's password is kept as a
-- scrypt hash in this table only: the chain records that it was set and by whom
-- (`person_password_set`), never the hash, so export bags (whose ledger proof holds a
-- range of chain entries) carry no credential. Not a projection of the chain: `ledger
-- verify` does not compare it, and a rebuilt ledger has no passwords (set them again).

CREATE TABLE person_credentials (
    person_id  TEXT COLLATE "C" PRIMARY KEY REFERENCES people(person_id),
    hash       TEXT COLLATE "C" NOT NULL,  -- scrypt$N$r$p$salt$digest (base64), daemon/custody/passwords.py
    set_by     TEXT COLLATE "C" NOT NULL,
    set_at     TEXT COLLATE "C" NOT NULL
);
