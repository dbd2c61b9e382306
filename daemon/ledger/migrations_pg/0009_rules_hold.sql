-- PostgreSQL mirror of migrations/0009_rules_hold.sql (tools/pg-mirror, reviewed).
-- evidock ledger, schema 9 (issue 11): the rules hold against a wrong clock, a weakened
-- bucket and a late camera.

-- The S3 version that holds the recording (NULL: a store without versions).  Every read,
-- audit and export addresses this version, never "the latest".
ALTER TABLE media ADD COLUMN version_id TEXT COLLATE "C";

-- Why an alert was acknowledged (a late handover needs a supervisor's reason).
ALTER TABLE alerts ADD COLUMN acknowledged_reason TEXT COLLATE "C";

-- A late handover acknowledged by a supervisor, with the reason.
ALTER TABLE late_handovers ADD COLUMN acknowledged_by TEXT COLLATE "C";
ALTER TABLE late_handovers ADD COLUMN acknowledged_at TEXT COLLATE "C";
ALTER TABLE late_handovers ADD COLUMN acknowledged_reason TEXT COLLATE "C";

-- Exemptions are withdrawn or corrected, never edited behind the ledger's back.
ALTER TABLE exemptions ADD COLUMN withdrawn_at TEXT COLLATE "C";
ALTER TABLE exemptions ADD COLUMN withdrawn_by TEXT COLLATE "C";
ALTER TABLE exemptions ADD COLUMN withdraw_reason TEXT COLLATE "C";
ALTER TABLE exemptions ADD COLUMN corrected_at TEXT COLLATE "C";
ALTER TABLE exemptions ADD COLUMN corrected_by TEXT COLLATE "C";
ALTER TABLE exemptions ADD COLUMN correct_reason TEXT COLLATE "C";

-- R10: why a full-process case has no footage, who recorded it and who approved it.
CREATE TABLE case_no_footage (
    case_id     TEXT COLLATE "C" PRIMARY KEY REFERENCES cases(case_id),
    reason      TEXT COLLATE "C" NOT NULL,
    recorded_by TEXT COLLATE "C" NOT NULL,
    approver    TEXT COLLATE "C" NOT NULL,
    recorded_at TEXT COLLATE "C" NOT NULL
);

-- Recordings moved from the spool to S3 before schema 9: their media_relocated events
-- already carry the version id, so the projection (and verify) now set it; fill it in.
UPDATE media SET version_id = (
    SELECT (e.data::jsonb) ->> 'version_id' FROM events e
    WHERE e.kind = 'media_relocated' AND e.subject = 'media:' || media.id
    ORDER BY e.seq DESC LIMIT 1)
WHERE store IS NOT NULL;
