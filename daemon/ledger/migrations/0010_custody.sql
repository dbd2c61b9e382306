-- evidock ledger, schema 10: custody (R8, R9). Who uses the station and the archive, the
-- sensitivity of recordings, access requests and their decisions, and the RFC 3161 time
-- stamps of the chain head. Every row changes only with the chained event that records it.

CREATE TABLE people (
    person_id      TEXT PRIMARY KEY,  -- badge or staff number
    name           TEXT NOT NULL,
    role           TEXT NOT NULL,
    unit           TEXT,
    os_user        TEXT,
    clearance      TEXT NOT NULL DEFAULT '',  -- labels beyond the role's, comma separated
    active         INTEGER NOT NULL DEFAULT 1,
    registered_by  TEXT NOT NULL,
    registered_at  TEXT NOT NULL,
    updated_at     TEXT
);
CREATE UNIQUE INDEX people_os_user ON people (os_user) WHERE os_user IS NOT NULL;

CREATE TABLE media_sensitivity (
    media_id  INTEGER PRIMARY KEY REFERENCES media(id),
    label     TEXT NOT NULL,
    reason    TEXT NOT NULL,
    set_by    TEXT NOT NULL,
    set_at    TEXT NOT NULL
);

CREATE TABLE access_requests (
    id               INTEGER PRIMARY KEY,
    case_id          TEXT NOT NULL,
    requested_by     TEXT NOT NULL,
    purpose          TEXT NOT NULL,
    scope            TEXT NOT NULL CHECK (scope IN ('view', 'export')),
    media            TEXT,  -- JSON list of media ids; NULL: every recording linked to the case
    requested_at     TEXT NOT NULL,
    state            TEXT NOT NULL CHECK (state IN ('pending', 'approved', 'denied')),
    decided_by       TEXT,
    decided_at       TEXT,
    decision_reason  TEXT,
    expires_at       TEXT
);
CREATE INDEX access_requests_case ON access_requests (case_id, id);

CREATE TABLE timestamps (
    seq         INTEGER PRIMARY KEY,  -- the event whose hash was time-stamped
    head_hash   TEXT NOT NULL,
    tsa         TEXT NOT NULL,
    token       TEXT NOT NULL,  -- the DER TimeStampToken, base64
    gen_time    TEXT NOT NULL,
    stamped_at  TEXT NOT NULL
);
