// Package analytics is the statistics core of journey analytics: how
// journeys perform, whether they cause what they are meant to, where
// customers go and who gets into trouble. It is pure: no I/O, no clock,
// no goroutines, no randomness. Its inputs are counts, feature sets and
// label sequences that the engine's counters and SQL queries provide; its
// results marshal to JSON (camelCase, never NaN or infinity) for
// GET /v1/journeys/{id}/analytics, /paths and /drivers, and are flat
// enough to print as tables for `overture report`.
//
// # Proportions and uplift
//
// Wilson gives the Wilson score interval of a rate; Newcombe the hybrid
// score interval (Newcombe 1998, method 10) of the difference of two
// independent rates. Uplift compares a treatment group with its control
// (hold-out) group: both rates with their intervals, the absolute
// difference with Newcombe's interval, the relative lift, and whether the
// difference is significant (its interval excludes 0). RelativeRisk is
// the risk ratio with Katz's log interval and a 0.5 continuity correction
// when a cell is zero.
//
// # Drivers
//
// Drivers answers "who calls the contact centre?": given observations (a
// set of "name=value" features and an outcome each), it ranks features,
// and optionally two-feature conjunctions of the top ones, by the lower
// bound of the relative risk of the outcome, with against without the
// feature. Featurize turns nested JSON documents (traits, context, event
// flags) into such features. Population takes observations one by one
// for callers that stream them.
//
// # Paths
//
// Paths counts the sequences of event labels that instances follow from
// entry to their end (goal, leak event or window end): the most frequent
// ones, and the whole flow as a Sankey diagram whose nodes are (step,
// label).
//
// # Durations
//
// Times (to goal, say) are kept as counts in a fixed histogram of
// DurationBuckets log-scale buckets from 1 s to about 97 days (Bucket,
// DurationBounds), which counters maintain incrementally and merge by
// addition (MergeCounts); Quantile reads p50 and p90 from the counts.
//
// Confidence levels are fractions (0.95); 0, or any value outside (0, 1),
// means DefaultConfidence.
package analytics
