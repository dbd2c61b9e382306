-- evidock ledger, schema 5: what ffprobe says of each stored recording (a derivative: the
-- original is never changed). One row per recording once probed; `error` when it could not be.

CREATE TABLE media_probe (
    media_id     INTEGER PRIMARY KEY REFERENCES media(id),
    probed_at    TEXT    NOT NULL,
    duration_s   REAL,
    container    TEXT,
    video_codec  TEXT,
    width        INTEGER,
    height       INTEGER,
    audio_codec  TEXT,
    error        TEXT
);
