-- evidock ledger, schema 11 (issue 15): a file that changed after it was found.
--
-- A watch folder's file may still be written to after it settled (a copy tool touching it,
-- a recorder appending).  Its new size and mtime make it a new row; the old row names a
-- version of the file that no longer exists and was never stored, so it must not be read,
-- given up on or raise a handover alert.  It ends 'superseded', pointing at the row that
-- replaced it.  A row that reached the store is never superseded: its bytes are evidence.
--
-- SQLite cannot change a CHECK constraint in place: the table is rebuilt as its documented
-- procedure says (the migration runner turns foreign keys off around it and checks them
-- before it commits).  Columns keep their order; superseded_by is added last.

CREATE TABLE media_next (
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
        CHECK (state IN ('seen', 'copying', 'stored', 'verified', 'failed', 'superseded')),
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
    version_id       TEXT,
    superseded_by    INTEGER,           -- superseded: the row of the file's new version
    UNIQUE (device_serial, source_path_raw, size, mtime_ns)
);
INSERT INTO media_next SELECT *, NULL FROM media;
DROP TABLE media;
ALTER TABLE media_next RENAME TO media;
CREATE INDEX media_by_state ON media (state, deadline_at);
CREATE INDEX media_by_blake3 ON media (blake3);
CREATE INDEX media_by_sha256 ON media (sha256);
CREATE INDEX media_by_officer ON media (officer_id, recorded_at);
-- the rows of one file on one device, newest last (a new version supersedes the older)
CREATE INDEX media_by_source ON media (device_serial, source_path_raw);
