-- Journey analytics, paths and drivers.
--
-- The instances of a journey version by entry time, with their ids (the
-- sample's hash key), so that sampling them (SampleInstances) reads this
-- index and only the sampled rows of the table.
CREATE INDEX journey_instances_entry ON journey_instances (journey_id, version, entered_at) INCLUDE (id);

-- A customer's sequence of events (WindowEvents) from the index alone
-- (an index-only scan), not from rows scattered across the table. An
-- index row cannot exceed about 2.7 kB, and event names are bounded only
-- by the size of an event, so the index leaves out labels over 1,000
-- bytes; the second, nearly empty, index finds those.
CREATE INDEX events_profile_timeline ON events (profile_id, seq) INCLUDE (timestamp, label) WHERE octet_length(label) <= 1000;
CREATE INDEX events_profile_long_label ON events (profile_id, seq) WHERE octet_length(label) > 1000;
