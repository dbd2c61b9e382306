-- PostgreSQL mirror of migrations/0013_probe_times_tags.sql (tools/pg-mirror, reviewed).
-- evidock ledger, schema 13: more of what ffprobe says of a recording (frame rate, rotation,
-- the container's creation time, device and GPS tags), and when it was recorded: start and
-- end from the best of the device's times (container, file name, mtime), corrected by the
-- device's measured clock offset, which source won, each source's time (JSON) and whether
-- they disagree by more than a minute. All NULL for recordings probed before.

ALTER TABLE media_probe ADD COLUMN frame_rate        DOUBLE PRECISION;
ALTER TABLE media_probe ADD COLUMN rotation          BIGINT;
ALTER TABLE media_probe ADD COLUMN creation_time     TEXT COLLATE "C";
ALTER TABLE media_probe ADD COLUMN device_make       TEXT COLLATE "C";
ALTER TABLE media_probe ADD COLUMN device_model      TEXT COLLATE "C";
ALTER TABLE media_probe ADD COLUMN location          TEXT COLLATE "C";
ALTER TABLE media_probe ADD COLUMN latitude          DOUBLE PRECISION;
ALTER TABLE media_probe ADD COLUMN longitude         DOUBLE PRECISION;
ALTER TABLE media_probe ADD COLUMN recorded_start    TEXT COLLATE "C";
ALTER TABLE media_probe ADD COLUMN recorded_end      TEXT COLLATE "C";
ALTER TABLE media_probe ADD COLUMN time_source       TEXT COLLATE "C"
    CHECK (time_source IN ('container', 'name', 'mtime'));
ALTER TABLE media_probe ADD COLUMN time_sources      TEXT COLLATE "C";
ALTER TABLE media_probe ADD COLUMN time_correction_s DOUBLE PRECISION;
ALTER TABLE media_probe ADD COLUMN time_spread_s     DOUBLE PRECISION;
ALTER TABLE media_probe ADD COLUMN time_disagree     BIGINT CHECK (time_disagree IN (0, 1));
