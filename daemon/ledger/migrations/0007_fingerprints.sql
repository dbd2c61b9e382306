-- evidock ledger, schema 7: perceptual fingerprints and their index (issue 9).
-- One row per fingerprinted video: its PDQ hashes, one per sampled second, as JSON
-- [[seconds, "64 hex digits"], ...]. The index holds, for the hashes that differ from the
-- one indexed before them, each of their 16 bands of 16 bits (key = band number * 65536 +
-- the band's value), so `ledger similar` looks up recordings sharing a band instead of
-- comparing every pair.

CREATE TABLE fingerprints (
    media_id       INTEGER PRIMARY KEY REFERENCES media(id),
    derivative_id  INTEGER NOT NULL REFERENCES derivatives(id),
    algorithm      TEXT    NOT NULL,
    duration_s     REAL,
    frames         INTEGER NOT NULL,
    hashes         TEXT    NOT NULL
);

-- One integer per (index key, recording): band = key * 2^32 + media_id, the table's own
-- rowid, so the index is one compact b-tree and a lookup of a key is a range scan.
CREATE TABLE fingerprint_bands (
    band  INTEGER PRIMARY KEY
);

-- What a derivative's maker has to say beyond its object, as JSON: for a recovered copy of
-- a battery-cut MP4, the seconds recovered and the reference recording used.
ALTER TABLE derivatives ADD COLUMN detail TEXT;
