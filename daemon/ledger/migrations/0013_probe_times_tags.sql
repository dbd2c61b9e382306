-- evidock ledger, schema 13: more of what ffprobe says of a recording (frame rate, rotation,
-- the container's creation time, device and GPS tags), and when it was recorded: start and
-- end from the best of the device's times (container, file name, mtime), corrected by the
-- device's measured clock offset, which source won, each source's time (JSON) and whether
-- they disagree by more than a minute. All NULL for recordings probed before.

ALTER TABLE media_probe ADD COLUMN frame_rate        REAL;
ALTER TABLE media_probe ADD COLUMN rotation          INTEGER;
ALTER TABLE media_probe ADD COLUMN creation_time     TEXT;
ALTER TABLE media_probe ADD COLUMN device_make       TEXT;
ALTER TABLE media_probe ADD COLUMN device_model      TEXT;
ALTER TABLE media_probe ADD COLUMN location          TEXT;
ALTER TABLE media_probe ADD COLUMN latitude          REAL;
ALTER TABLE media_probe ADD COLUMN longitude         REAL;
ALTER TABLE media_probe ADD COLUMN recorded_start    TEXT;
ALTER TABLE media_probe ADD COLUMN recorded_end      TEXT;
ALTER TABLE media_probe ADD COLUMN time_source       TEXT
    CHECK (time_source IN ('container', 'name', 'mtime'));
ALTER TABLE media_probe ADD COLUMN time_sources      TEXT;
ALTER TABLE media_probe ADD COLUMN time_correction_s REAL;
ALTER TABLE media_probe ADD COLUMN time_spread_s     REAL;
ALTER TABLE media_probe ADD COLUMN time_disagree     INTEGER CHECK (time_disagree IN (0, 1));
