-- evidock ledger, schema 7: perceptual fingerprints and their index (issue 9).
-- One row per fingerprinted video: its PDQ hashes, one per sampled second, as JSON
-- [[seconds, "64 hex digits"], ...]. The index holds, for the hashes that differ from the
-- one indexed before them, each of their 16 bands of 16 bits (key = band * 65536 + value),
-- so `ledger similar` looks up recordings sharing a band instead of comparing every pair.

CREATE TABLE fingerprints (
    media_id       INTEGER PRIMARY KEY REFERENCES media(id),
    derivative_id  INTEGER NOT NULL REFERENCES derivatives(id),
    algorithm      TEXT    NOT NULL,
    duration_s     REAL,
    frames         INTEGER NOT NULL,
    hashes         TEXT    NOT NULL
);

-- id: assigned in insertion order, so replaying the events (verify, rebuild) gives the same
CREATE TABLE fingerprint_bands (
    id        INTEGER PRIMARY KEY,
    key       INTEGER NOT NULL,
    media_id  INTEGER NOT NULL REFERENCES fingerprints(media_id),
    t         REAL    NOT NULL
);
CREATE INDEX fingerprint_bands_key ON fingerprint_bands (key, media_id);
CREATE INDEX fingerprint_bands_media ON fingerprint_bands (media_id);
