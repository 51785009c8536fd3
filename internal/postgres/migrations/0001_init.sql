-- The event log: every accepted event, in the order ingestion appended it,
-- until a checkpoint lets it go. seq comes from log_seq: increasing, with a
-- gap where an append failed.
CREATE SEQUENCE log_seq AS bigint;
CREATE TABLE log (
    seq  bigint NOT NULL PRIMARY KEY,
    body bytea  NOT NULL
);

-- The timeline: every applied event, under the profile it belongs to. seq
-- is the event's position in the log. Times are unix nanoseconds, as in the
-- SQLite store, so they round-trip exactly. Strings a client or an admin
-- chose (message ids, event names, identifiers, quarantined items, key
-- names) are bytea: text cannot hold NUL or invalid UTF-8.
CREATE TABLE events (
    seq         bigint NOT NULL PRIMARY KEY,
    source_id   text   NOT NULL,
    message_id  bytea  NOT NULL,
    type        text   NOT NULL,
    label       bytea  NOT NULL,
    timestamp   bigint NOT NULL,
    received_at bigint NOT NULL,
    profile_id  text   COLLATE "C" NOT NULL,
    body        bytea  NOT NULL
);
CREATE INDEX events_profile ON events (profile_id, seq);

-- messageId dedupe: when each (source, messageId) was last applied.
CREATE TABLE dedupe (
    source_id  text   COLLATE "C" NOT NULL,
    message_id bytea  NOT NULL,
    seen_at    bigint NOT NULL,
    PRIMARY KEY (source_id, message_id)
);
CREATE INDEX dedupe_seen ON dedupe (seen_at);

-- The identity index: identifier key -> canonical profile.
CREATE TABLE identities (
    key        bytea NOT NULL PRIMARY KEY,
    kind       text  COLLATE "C" NOT NULL,
    value      bytea NOT NULL,
    profile_id text  COLLATE "C" NOT NULL
);
CREATE INDEX identities_profile ON identities (profile_id);

-- Merges decided by the router, until a partition worker has combined the
-- two profiles.
CREATE TABLE merges (
    id      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    from_id text COLLATE "C" NOT NULL,
    into_id text COLLATE "C" NOT NULL
);

-- Profiles as the JSON of core.Profile. bytea, not jsonb: trait values are
-- compared byte for byte (last-write-wins ties), so they must come back
-- exactly as written.
CREATE TABLE profiles (
    id          text  COLLATE "C" NOT NULL PRIMARY KEY,
    merged_into text  COLLATE "C",
    body        bytea NOT NULL
);
CREATE INDEX profiles_merged_into ON profiles (merged_into) WHERE merged_into IS NOT NULL;

CREATE TABLE write_keys (
    id         text   COLLATE "C" NOT NULL PRIMARY KEY,
    name       bytea  NOT NULL,
    hash       text   COLLATE "C" NOT NULL UNIQUE,
    prefix     text   NOT NULL,
    created_at bigint NOT NULL,
    revoked_at bigint
);

CREATE TABLE quarantine (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    source_id   text    NOT NULL,
    received_at bigint  NOT NULL,
    idx         integer NOT NULL,
    code        text    NOT NULL,
    field       bytea   NOT NULL,
    message     bytea   NOT NULL,
    payload     bytea   NOT NULL
);

-- Small settings, such as the event log checkpoint.
CREATE TABLE meta (
    key   text COLLATE "C" NOT NULL PRIMARY KEY,
    value text NOT NULL
);
