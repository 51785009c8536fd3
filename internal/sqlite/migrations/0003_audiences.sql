-- Computed-trait and audience definitions: each definition's newest
-- version and whether it was deleted (deleted_at NULL while active), and
-- every version that was applied (a version is added only when the source
-- changes, or when a deleted definition is saved again).
CREATE TABLE definitions (
    kind       TEXT    NOT NULL, -- 'trait' or 'audience'
    id         TEXT    NOT NULL,
    version    INTEGER NOT NULL, -- the newest
    deleted_at INTEGER,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (kind, id)
) WITHOUT ROWID;

CREATE TABLE definition_versions (
    kind       TEXT    NOT NULL,
    id         TEXT    NOT NULL,
    version    INTEGER NOT NULL,
    source     TEXT    NOT NULL,
    hash       TEXT    NOT NULL, -- SHA-256 of source, hex
    created_at INTEGER NOT NULL,
    PRIMARY KEY (kind, id, version)
);

-- Audience membership: one row per member, written by ApplyBatch with the
-- profiles. The profile_id index serves merges and erasures.
CREATE TABLE audience_members (
    audience   TEXT    NOT NULL,
    profile_id TEXT    NOT NULL,
    since      INTEGER NOT NULL,
    PRIMARY KEY (audience, profile_id)
) WITHOUT ROWID;
CREATE INDEX audience_members_profile ON audience_members (profile_id);

-- Finished audience refreshes, for the console and the API.
CREATE TABLE audience_refreshes (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    audience     TEXT    NOT NULL,
    version      INTEGER NOT NULL,
    triggered_by TEXT    NOT NULL, -- core.Refresh.Trigger
    started_at   INTEGER NOT NULL,
    finished_at  INTEGER NOT NULL,
    scanned      INTEGER NOT NULL,
    size         INTEGER NOT NULL,
    entered      INTEGER NOT NULL,
    exited       INTEGER NOT NULL
);
CREATE INDEX audience_refreshes_audience ON audience_refreshes (audience, id);

-- Events a partition committed (audience entries and exits) that the
-- engine has still to append to the event log: body is the event as
-- core.Event.AppendJSON writes it; profile_id is its profile, for erasure.
-- AUTOINCREMENT: an id is never reused, so a reader's cursor stays valid.
CREATE TABLE emits (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    profile_id TEXT    NOT NULL,
    body       BLOB    NOT NULL
);
CREATE INDEX emits_profile ON emits (profile_id);
