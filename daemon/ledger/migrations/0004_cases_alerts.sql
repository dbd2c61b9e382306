-- evidock ledger, schema 4: cases and links (R6), duty exemptions (R2), legal holds (R3),
-- alerts, fixity audits and late handovers.  See daemon/FORMATS.md.  Forward-only.
-- Every row here changes only together with a chained event that records the change.

CREATE TABLE cases (
    case_id      TEXT PRIMARY KEY,    -- as the enforcement case system names it
    type         TEXT NOT NULL,       -- case type: selects retention (R3) and full-process (R10)
    officers     TEXT NOT NULL,       -- JSON list of badge numbers (警号)
    subject      TEXT NOT NULL DEFAULT '',
    start_at     TEXT NOT NULL,       -- the enforcement action's time window
    end_at       TEXT NOT NULL,
    status       TEXT NOT NULL CHECK (status IN ('open', 'closed')),
    closed_at    TEXT,
    sensitivity  TEXT NOT NULL DEFAULT 'normal',
    imported_at  TEXT NOT NULL,
    updated_at   TEXT NOT NULL
);

CREATE TABLE case_links (
    id            INTEGER PRIMARY KEY,
    case_id       TEXT    NOT NULL REFERENCES cases(case_id),
    media_id      INTEGER NOT NULL REFERENCES media(id),
    kind          TEXT    NOT NULL CHECK (kind IN ('candidate', 'evidence')),
    note          TEXT    NOT NULL DEFAULT '',   -- the text note of R6 (文字说明)
    linked_by     TEXT    NOT NULL,
    linked_at     TEXT    NOT NULL,
    unlinked_by   TEXT,
    unlinked_at   TEXT,
    unlink_reason TEXT
);
CREATE UNIQUE INDEX case_links_active ON case_links (case_id, media_id) WHERE unlinked_at IS NULL;
CREATE INDEX case_links_by_media ON case_links (media_id);

-- What the store must hold under legal hold: one row per recording, kept until a person
-- releases it by name.  placed_at is set once the store confirmed the hold (stat).
CREATE TABLE legal_holds (
    media_id     INTEGER PRIMARY KEY REFERENCES media(id),
    case_id      TEXT NOT NULL,
    requested_at TEXT NOT NULL,
    requested_by TEXT NOT NULL,
    placed_at    TEXT,
    released_at  TEXT,
    released_by  TEXT,
    release_reason TEXT
);

CREATE TABLE exemptions (
    id            INTEGER PRIMARY KEY,
    officer_id    TEXT,
    device_serial TEXT,
    start_at      TEXT NOT NULL,
    end_at        TEXT NOT NULL,
    reason        TEXT NOT NULL,
    note          TEXT NOT NULL DEFAULT '',
    registered_by TEXT NOT NULL,
    registered_at TEXT NOT NULL,
    CHECK (officer_id IS NOT NULL OR device_serial IS NOT NULL),
    CHECK (end_at > start_at)
);

CREATE TABLE alerts (
    id              INTEGER PRIMARY KEY,
    key             TEXT NOT NULL,        -- de-duplication: one open alert per key
    check_name      TEXT NOT NULL,        -- handover, retention, fixity, archive
    rule            TEXT NOT NULL,        -- R1..R12
    severity        TEXT NOT NULL CHECK (severity IN ('info', 'warning', 'critical')),
    subject         TEXT NOT NULL,        -- device:<serial>, officer:<id>, case:<id>, media:<id>
    message         TEXT NOT NULL,        -- what happened and what to do
    state           TEXT NOT NULL CHECK (state IN ('raised', 'acknowledged', 'resolved')),
    raised_at       TEXT NOT NULL,
    acknowledged_at TEXT,
    acknowledged_by TEXT,
    resolved_at     TEXT
);
CREATE UNIQUE INDEX alerts_open_key ON alerts (key) WHERE state != 'resolved';
CREATE INDEX alerts_by_state ON alerts (state, rule, severity);

-- Alert changes a sink (the webhook) could not take; sent again at each check run until it
-- answers, so a receiver that was down still gets every change, in order.
CREATE TABLE alert_outbox (
    id           INTEGER PRIMARY KEY,
    alert_id     INTEGER NOT NULL REFERENCES alerts(id),
    change       TEXT NOT NULL,
    sink         TEXT NOT NULL,
    failed_at    TEXT NOT NULL,
    tries        INTEGER NOT NULL DEFAULT 1,
    last_error   TEXT NOT NULL,
    delivered_at TEXT
);
CREATE INDEX alert_outbox_pending ON alert_outbox (sink, delivered_at);

CREATE TABLE fixity (
    media_id    INTEGER PRIMARY KEY REFERENCES media(id),
    checked_at  TEXT NOT NULL,
    ok          INTEGER NOT NULL,
    detail      TEXT NOT NULL DEFAULT ''
);
CREATE INDEX fixity_by_checked ON fixity (checked_at);

CREATE TABLE late_handovers (
    media_id      INTEGER PRIMARY KEY REFERENCES media(id),
    device_serial TEXT NOT NULL,
    officer_id    TEXT,
    deadline_at   TEXT NOT NULL,
    handed_over_at TEXT NOT NULL,
    late_seconds  REAL NOT NULL
);
