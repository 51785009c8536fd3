-- The timeline: every applied event, under the profile it belongs to. seq
-- is the event's position in the event log (segment files beside the
-- database).
CREATE TABLE events (
    seq         INTEGER PRIMARY KEY,
    source_id   TEXT    NOT NULL,
    message_id  TEXT    NOT NULL,
    type        TEXT    NOT NULL,
    label       TEXT    NOT NULL,
    timestamp   INTEGER NOT NULL,
    received_at INTEGER NOT NULL,
    profile_id  TEXT    NOT NULL,
    body        BLOB    NOT NULL
);
CREATE INDEX events_profile ON events (profile_id, seq);

-- messageId dedupe: when each (source, messageId) was last applied.
CREATE TABLE dedupe (
    source_id  TEXT    NOT NULL,
    message_id TEXT    NOT NULL,
    seen_at    INTEGER NOT NULL,
    PRIMARY KEY (source_id, message_id)
) WITHOUT ROWID;
CREATE INDEX dedupe_seen ON dedupe (seen_at);

-- The identity index: identifier key -> canonical profile.
CREATE TABLE identities (
    key        TEXT    NOT NULL PRIMARY KEY,
    kind       TEXT    NOT NULL,
    value      TEXT    NOT NULL,
    profile_id TEXT    NOT NULL
) WITHOUT ROWID;
CREATE INDEX identities_profile ON identities (profile_id);

-- Merges decided by the router, until a partition worker has combined the
-- two profiles.
CREATE TABLE merges (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    from_id    TEXT    NOT NULL,
    into_id    TEXT    NOT NULL
);

CREATE TABLE profiles (
    id          TEXT    NOT NULL PRIMARY KEY,
    merged_into TEXT,
    body        BLOB    NOT NULL
) WITHOUT ROWID;
CREATE INDEX profiles_merged_into ON profiles (merged_into) WHERE merged_into IS NOT NULL;

CREATE TABLE write_keys (
    id         TEXT    NOT NULL PRIMARY KEY,
    name       TEXT    NOT NULL,
    hash       TEXT    NOT NULL UNIQUE,
    prefix     TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    revoked_at INTEGER
);

CREATE TABLE quarantine (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    source_id   TEXT    NOT NULL,
    received_at INTEGER NOT NULL,
    idx         INTEGER NOT NULL,
    code        TEXT    NOT NULL,
    field       TEXT    NOT NULL,
    message     TEXT    NOT NULL,
    payload     TEXT    NOT NULL
);

-- Small settings, such as the event log checkpoint.
CREATE TABLE meta (
    key   TEXT NOT NULL PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;
