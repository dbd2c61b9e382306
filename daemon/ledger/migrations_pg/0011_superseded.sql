-- evidock ledger, schema 11 (issue 15): a file that changed after it was found ends
-- 'superseded' (see the SQLite migration of the same number for why).  PostgreSQL changes
-- the CHECK constraint in place.

ALTER TABLE media DROP CONSTRAINT media_state_check;
ALTER TABLE media ADD CONSTRAINT media_state_check
    CHECK (state IN ('seen', 'copying', 'stored', 'verified', 'failed', 'superseded'));
ALTER TABLE media ADD COLUMN superseded_by BIGINT;
CREATE INDEX media_by_source ON media (device_serial, source_path_raw);
