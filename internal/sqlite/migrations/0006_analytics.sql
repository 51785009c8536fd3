-- Journey analytics counters (core.JourneyStat): n of a metric at a step
-- ('' for the journey) of a journey version, per dimension value (an arm,
-- a rule, a reason, channel/offer, a duration bucket) and UTC day
-- (YYYYMMDD; 0 for the metrics not kept per day). ApplyBatch adds the
-- deltas of the inputs it applies, so replays count nothing twice.
CREATE TABLE journey_stats (
    journey_id TEXT    NOT NULL,
    version    INTEGER NOT NULL,
    step       TEXT    NOT NULL,
    metric     TEXT    NOT NULL,
    dim        TEXT    NOT NULL,
    day        INTEGER NOT NULL,
    n          INTEGER NOT NULL,
    PRIMARY KEY (journey_id, version, step, metric, dim, day)
) WITHOUT ROWID;
