-- The decision log: every arbitration outcome of a send step (sent,
-- delayed until, suppressed; the rule and why), written by ApplyBatch with
-- the step. key makes a replayed step log nothing new.
CREATE TABLE decisions (
    id         bigint  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    key        text    COLLATE "C" NOT NULL UNIQUE,
    profile_id text    COLLATE "C" NOT NULL,
    at         bigint  NOT NULL,
    journey_id text    COLLATE "C" NOT NULL,
    outcome    text    NOT NULL,
    rule       bytea   NOT NULL,
    body       bytea   NOT NULL -- the core.Decision as JSON
);
CREATE INDEX decisions_profile ON decisions (profile_id, id);
CREATE INDEX decisions_journey ON decisions (journey_id, at);

-- Learned model state: trials and successes per (model, key, bucket), e.g.
-- offer impressions and conversions per offer and context bucket, or
-- deliveries and engagements per channel. ApplyBatch adds the deltas of
-- the events it applies, so replays count nothing twice.
CREATE TABLE model_stats (
    model     text   COLLATE "C" NOT NULL,
    key       bytea  NOT NULL,
    bucket    bytea  NOT NULL,
    trials    bigint NOT NULL,
    successes bigint NOT NULL,
    PRIMARY KEY (model, key, bucket)
);
