-- Journeys: each journey's state, and every version of its definition
-- that was applied (a version is added only when the source changes). The
-- source is bytea: a file as an admin applied it.
CREATE TABLE journeys (
    id         text   COLLATE "C" NOT NULL PRIMARY KEY,
    state      text   NOT NULL,
    updated_at bigint NOT NULL
);

CREATE TABLE journey_versions (
    journey_id text    COLLATE "C" NOT NULL,
    version    integer NOT NULL,
    source     bytea   NOT NULL,
    hash       text    NOT NULL, -- SHA-256 of source, hex
    created_at bigint  NOT NULL,
    PRIMARY KEY (journey_id, version)
);

-- Journey instances: state is the whole core.Instance as JSON; the columns
-- are what the queries select on. profile_id is authoritative (a merge
-- moves instances without rewriting state). due is NULL when no timer is
-- set. Ids and step names are the journey loader's names
-- ([a-z0-9][a-z0-9_-]*) and server-made profile ids, so text.
CREATE TABLE journey_instances (
    id         text    COLLATE "C" NOT NULL PRIMARY KEY,
    profile_id text    COLLATE "C" NOT NULL,
    journey_id text    COLLATE "C" NOT NULL,
    version    integer NOT NULL,
    status     text    COLLATE "C" NOT NULL,
    step       text    COLLATE "C" NOT NULL,
    due        bigint,
    entered_at bigint  NOT NULL,
    state      bytea   NOT NULL
);
CREATE INDEX journey_instances_profile ON journey_instances (profile_id, entered_at, id);
CREATE INDEX journey_instances_due ON journey_instances (due, id) WHERE status = 'active' AND due IS NOT NULL;
CREATE INDEX journey_instances_step ON journey_instances (journey_id, version, step) WHERE status = 'active';

-- The transactional outbox: messages send steps queued, written with the
-- step that queued them. key makes a replayed step queue nothing new.
-- Channel, template, offer and vars come from definitions and customer
-- data, so bytea.
CREATE TABLE outbox (
    id          bigint  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    key         text    COLLATE "C" NOT NULL UNIQUE,
    instance_id text    COLLATE "C" NOT NULL,
    profile_id  text    COLLATE "C" NOT NULL,
    journey_id  text    COLLATE "C" NOT NULL,
    version     integer NOT NULL,
    step        text    COLLATE "C" NOT NULL,
    channel     bytea   NOT NULL,
    template    bytea   NOT NULL,
    offer       bytea   NOT NULL,
    vars        bytea   NOT NULL,
    created_at  bigint  NOT NULL,
    sent_at     bigint
);
CREATE INDEX outbox_pending ON outbox (id) WHERE sent_at IS NULL;
CREATE INDEX outbox_profile ON outbox (profile_id, id);
