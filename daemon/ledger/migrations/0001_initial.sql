-- evidock ledger, schema 1. See daemon/FORMATS.md. Forward-only: never edit a released file.

CREATE TABLE events (
    seq        INTEGER PRIMARY KEY,   -- 1, 2, 3, ... with no gaps
    at         TEXT    NOT NULL,      -- UTC, YYYY-MM-DDTHH:MM:SS.ffffffZ
    station    TEXT    NOT NULL,
    kind       TEXT    NOT NULL,      -- snake_case past tense: media_seen, media_verified, ...
    subject    TEXT    NOT NULL,      -- media:<id>, device:<serial>, station:<id>, ...
    data       TEXT    NOT NULL,      -- canonical JSON (sorted keys, no spaces)
    prev_hash  TEXT    NOT NULL,      -- hash of event seq-1; 64 zeros for seq 1
    hash       TEXT    NOT NULL       -- sha256 over the canonical form of this row
);
CREATE TRIGGER events_append_only_update BEFORE UPDATE ON events
BEGIN SELECT RAISE(ABORT, 'ledger events are append-only'); END;
CREATE TRIGGER events_append_only_delete BEFORE DELETE ON events
BEGIN SELECT RAISE(ABORT, 'ledger events are append-only'); END;

CREATE TABLE devices (
    serial          TEXT PRIMARY KEY,
    model           TEXT,
    vendor          TEXT,
    officer_id      TEXT,               -- badge number (警号) of the assigned officer
    officer_name    TEXT,
    unit            TEXT,
    source          TEXT NOT NULL,      -- driver that first saw it: watch, usb
    registered      INTEGER NOT NULL DEFAULT 0,
    first_seen_at   TEXT NOT NULL,
    last_dock_at    TEXT,
    last_undock_at  TEXT,
    last_port       TEXT
);

CREATE TABLE media (
    id               INTEGER PRIMARY KEY,
    device_serial    TEXT    NOT NULL REFERENCES devices(serial),
    officer_id       TEXT,
    source_path      TEXT    NOT NULL,  -- path on the device, undecodable bytes as \xNN
    source_path_raw  BLOB    NOT NULL,  -- the exact bytes of that path
    size             INTEGER NOT NULL,
    mtime_ns         INTEGER NOT NULL,
    kind             TEXT    NOT NULL,  -- video, audio, photo, other
    recorded_at      TEXT    NOT NULL,
    deadline_at      TEXT    NOT NULL,  -- handover deadline (R1)
    found_at         TEXT    NOT NULL,
    state            TEXT    NOT NULL
        CHECK (state IN ('seen', 'copying', 'stored', 'verified', 'failed')),
    attempts         INTEGER NOT NULL DEFAULT 0,
    retry_at         TEXT,              -- failed: next automatic attempt; NULL: gave up
    last_error       TEXT,
    blake3           TEXT,
    sha256           TEXT,
    store            TEXT,
    object_key       TEXT,
    retain_until     TEXT,
    ingested_at      TEXT,              -- when the stored copy was verified (handed over)
    clock_offset_s   REAL,
    flags            TEXT    NOT NULL DEFAULT '',
    UNIQUE (device_serial, source_path_raw, size, mtime_ns)
);
CREATE INDEX media_by_state ON media (state, deadline_at);
CREATE INDEX media_by_blake3 ON media (blake3);
CREATE INDEX media_by_sha256 ON media (sha256);
CREATE INDEX media_by_officer ON media (officer_id, recorded_at);

CREATE TABLE attempts (
    id          INTEGER PRIMARY KEY,
    media_id    INTEGER NOT NULL REFERENCES media(id),
    station     TEXT    NOT NULL,
    started_at  TEXT    NOT NULL,
    ended_at    TEXT,
    outcome     TEXT CHECK (outcome IN ('verified', 'failed', 'interrupted')),
    bytes       INTEGER,
    error       TEXT
);
CREATE INDEX attempts_by_media ON attempts (media_id);
