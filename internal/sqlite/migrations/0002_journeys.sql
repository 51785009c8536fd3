-- Journeys: each journey's state, and every version of its definition
-- that was applied (a version is added only when the source changes).
CREATE TABLE journeys (
    id         TEXT    NOT NULL PRIMARY KEY,
    state      TEXT    NOT NULL,
    updated_at INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE journey_versions (
    journey_id TEXT    NOT NULL,
    version    INTEGER NOT NULL,
    source     TEXT    NOT NULL,
    hash       TEXT    NOT NULL, -- SHA-256 of source, hex
    created_at INTEGER NOT NULL,
    PRIMARY KEY (journey_id, version)
);

-- Journey instances: state is the whole core.Instance as JSON; the columns
-- are what the queries select on. profile_id is authoritative (a merge
-- moves instances without rewriting state). due is NULL when no timer is
-- set.
CREATE TABLE journey_instances (
    id         TEXT    NOT NULL PRIMARY KEY,
    profile_id TEXT    NOT NULL,
    journey_id TEXT    NOT NULL,
    version    INTEGER NOT NULL,
    status     TEXT    NOT NULL,
    step       TEXT    NOT NULL,
    due        INTEGER,
    entered_at INTEGER NOT NULL,
    state      BLOB    NOT NULL
);
CREATE INDEX journey_instances_profile ON journey_instances (profile_id, entered_at, id);
CREATE INDEX journey_instances_due ON journey_instances (due, id) WHERE status = 'active' AND due IS NOT NULL;
CREATE INDEX journey_instances_step ON journey_instances (journey_id, version, step) WHERE status = 'active';

-- The transactional outbox: messages send steps queued, written with the
-- step that queued them. key makes a replayed step queue nothing new.
-- AUTOINCREMENT: an id is never reused after an erasure, so a relay's
-- cursor stays valid.
CREATE TABLE outbox (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    key         TEXT    NOT NULL UNIQUE,
    instance_id TEXT    NOT NULL,
    profile_id  TEXT    NOT NULL,
    journey_id  TEXT    NOT NULL,
    version     INTEGER NOT NULL,
    step        TEXT    NOT NULL,
    channel     TEXT    NOT NULL,
    template    TEXT    NOT NULL,
    offer       TEXT    NOT NULL,
    vars        TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    sent_at     INTEGER
);
CREATE INDEX outbox_pending ON outbox (id) WHERE sent_at IS NULL;
CREATE INDEX outbox_profile ON outbox (profile_id, id);
