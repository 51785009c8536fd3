-- Computed-trait and audience definitions: each definition's newest
-- version and whether it was deleted (deleted_at NULL while active), and
-- every version that was applied (a version is added only when the source
-- changes, or when a deleted definition is saved again). Ids are the
-- definition loader's names, so text; the source is bytea, a file as an
-- admin applied it.
CREATE TABLE definitions (
    kind       text    COLLATE "C" NOT NULL, -- 'trait' or 'audience'
    id         text    COLLATE "C" NOT NULL,
    version    integer NOT NULL, -- the newest
    deleted_at bigint,
    updated_at bigint  NOT NULL,
    PRIMARY KEY (kind, id)
);

CREATE TABLE definition_versions (
    kind       text    COLLATE "C" NOT NULL,
    id         text    COLLATE "C" NOT NULL,
    version    integer NOT NULL,
    source     bytea   NOT NULL,
    hash       text    NOT NULL, -- SHA-256 of source, hex
    created_at bigint  NOT NULL,
    PRIMARY KEY (kind, id, version)
);

-- Audience membership: one row per member, written by ApplyBatch with the
-- profiles. The profile_id index serves merges and erasures.
CREATE TABLE audience_members (
    audience   text   COLLATE "C" NOT NULL,
    profile_id text   COLLATE "C" NOT NULL,
    since      bigint NOT NULL,
    PRIMARY KEY (audience, profile_id)
);
CREATE INDEX audience_members_profile ON audience_members (profile_id);

-- Finished audience refreshes, for the console and the API.
CREATE TABLE audience_refreshes (
    id           bigint  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    audience     text    COLLATE "C" NOT NULL,
    version      integer NOT NULL,
    triggered_by text    NOT NULL, -- core.Refresh.Trigger
    started_at   bigint  NOT NULL,
    finished_at  bigint  NOT NULL,
    scanned      bigint  NOT NULL,
    size         bigint  NOT NULL,
    entered      bigint  NOT NULL,
    exited       bigint  NOT NULL
);
CREATE INDEX audience_refreshes_audience ON audience_refreshes (audience, id);

-- Events a partition committed (audience entries and exits) that the
-- engine has still to append to the log: body is the event as
-- core.Event.AppendJSON writes it; profile_id is its profile, for erasure.
CREATE TABLE emits (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    profile_id text   COLLATE "C" NOT NULL,
    body       bytea  NOT NULL
);
CREATE INDEX emits_profile ON emits (profile_id);
