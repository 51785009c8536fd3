// Package computed maintains computed traits: windowed aggregates per
// profile over its events (count, sum, min, max, last value, first and last
// time, distinct count), declared in YAML and maintained incrementally as
// events arrive.
//
// The package is pure: no I/O and no clock reads. Time is always passed in
// (the worker's clock, or the virtual clock in simulate), so the same
// events and times give the same values.
//
// # Buckets and the window rule
//
// Each trait keeps, per profile, a sliding window of buckets. The bucket
// width w is the window divided by 64, rounded UP to a whole second, and
// at least one second (a 7d window has 9450 s buckets). Bucket k covers the
// seconds [k·w, (k+1)·w) since the Unix epoch; an event falls into the
// bucket of its own timestamp (floor(unix seconds / w)), whatever order
// events arrive in.
//
// At time now, the window covers the buckets overlapping (now−window, now]:
// the buckets k with bucket(now−window) ≤ k ≤ bucket(now). An event at time
// t therefore counts while bucket(now−window) ≤ bucket(t) ≤ bucket(now):
// from the start of the bucket holding t (an event stamped in the future
// counts once now reaches its bucket) until now−window passes the end of
// that bucket, so at most one bucket width longer than the window. At most
// 65 buckets are ever in the window.
//
// Apply drops an event whose bucket is already behind the window (it could
// never count) and an event more than one window ahead of now (clock skew
// beyond the window is treated as bad data), so a state holds at most 65
// buckets in the window plus, only when clocks disagree, up to 64 ahead.
//
// States are JSON-serialisable and mergeable: merging the states of two
// profiles gives the state one profile would have had with all the events
// (see State.Merge).
package computed
