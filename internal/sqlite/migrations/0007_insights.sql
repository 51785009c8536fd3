-- Journey analytics, paths and drivers.
--
-- The instances of a journey version by entry time, so that sampling them
-- (SampleInstances) reads this index (the row number it holds is the
-- sample's hash key) and only the sampled rows of the table.
CREATE INDEX journey_instances_entry ON journey_instances (journey_id, version, entered_at);

-- The timeline index also holds each event's timestamp and label, so
-- that a customer's sequence of events (WindowEvents without bodies)
-- is read from the index alone, not from rows scattered across the
-- table. It replaces the (profile_id, seq) index, whose queries it
-- serves as well.
CREATE INDEX events_profile_timeline ON events (profile_id, seq, timestamp, label);
DROP INDEX events_profile;
