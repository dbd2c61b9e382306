-- evidock ledger, schema 6: the derivative queue. One row per derivative of a handed-over
-- recording (a review proxy, a poster frame ...): its state, and once made, the write-once
-- object that holds it, linked to the original by media id and the original's hashes.

CREATE TABLE derivatives (
    id             INTEGER PRIMARY KEY,
    media_id       INTEGER NOT NULL REFERENCES media(id),
    kind           TEXT    NOT NULL,
    state          TEXT    NOT NULL CHECK (state IN ('pending', 'running', 'done', 'failed')),
    attempts       INTEGER NOT NULL DEFAULT 0,
    source_blake3  TEXT    NOT NULL,
    source_sha256  TEXT    NOT NULL,
    queued_at      TEXT    NOT NULL,
    started_at     TEXT,
    ended_at       TEXT,
    error          TEXT,
    store          TEXT,
    object_key     TEXT,
    blake3         TEXT,
    sha256         TEXT,
    size           INTEGER,
    retain_until   TEXT,
    UNIQUE (media_id, kind)
);
CREATE INDEX derivatives_state ON derivatives (state, id);
