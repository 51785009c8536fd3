-- Journey analytics counters (core.JourneyStat): n of a metric at a step
-- ('' for the journey) of a journey version, per dimension value (an arm,
-- a rule, a reason, channel/offer, a duration bucket) and UTC day
-- (YYYYMMDD; 0 for the metrics not kept per day). ApplyBatch adds the
-- deltas of the inputs it applies, so replays count nothing twice. The
-- free-form parts are bytea: message events name them, and text cannot
-- hold every string.
CREATE TABLE journey_stats (
    journey_id bytea   NOT NULL,
    version    integer NOT NULL,
    step       bytea   NOT NULL,
    metric     text    COLLATE "C" NOT NULL,
    dim        bytea   NOT NULL,
    day        integer NOT NULL,
    n          bigint  NOT NULL,
    PRIMARY KEY (journey_id, version, step, metric, dim, day)
);
