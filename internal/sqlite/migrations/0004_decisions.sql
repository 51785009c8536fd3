-- The decision log: every arbitration outcome of a send step (sent,
-- delayed until, suppressed; the rule and why), written by ApplyBatch with
-- the step. key makes a replayed step log nothing new.
CREATE TABLE decisions (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    key        TEXT    NOT NULL UNIQUE,
    profile_id TEXT    NOT NULL,
    at         INTEGER NOT NULL,
    journey_id TEXT    NOT NULL,
    outcome    TEXT    NOT NULL,
    rule       TEXT    NOT NULL,
    body       TEXT    NOT NULL -- the core.Decision as JSON
);
CREATE INDEX decisions_profile ON decisions (profile_id, id);
CREATE INDEX decisions_journey ON decisions (journey_id, at);

-- Learned model state: trials and successes per (model, key, bucket), e.g.
-- offer impressions and conversions per offer and context bucket, or
-- deliveries and engagements per channel. ApplyBatch adds the deltas of
-- the events it applies, so replays count nothing twice.
CREATE TABLE model_stats (
    model     TEXT    NOT NULL,
    key       TEXT    NOT NULL,
    bucket    TEXT    NOT NULL,
    trials    INTEGER NOT NULL,
    successes INTEGER NOT NULL,
    PRIMARY KEY (model, key, bucket)
) WITHOUT ROWID;
