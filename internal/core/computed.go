package core

import (
	"bytes"
	"cmp"
	"encoding/json"
	"math"
	"slices"
	"sort"
)

// DistinctCap is how many value hashes a bucket of a distinct_count trait
// keeps: the smallest DistinctCap hashes of the values it saw. While no
// bucket in the window has seen more distinct values than that, the count
// is exact (64-bit hash collisions aside); beyond it, the count is a
// k-minimum-values estimate (about ±20%).
const DistinctCap = 32

// Computed is one profile's computed-trait state (maintained by package
// computed): a window per trait name. Its JSON form is compact and
// stable, for storing with the profile.
type Computed struct {
	Traits map[string]*Window `json:"traits,omitempty"`

	// Complete is the fingerprint of the trait set whose every window
	// this state was last found to hold (package computed sets it, so
	// the check runs once per set, not per batch); 0 when unknown. Not
	// stored.
	Complete uint64 `json:"-"`
}

// Window is one trait's buckets for one profile.
type Window struct {
	Def     uint32   `json:"d"`           // fingerprint of the definition it was built for
	Buckets []Bucket `json:"b,omitempty"` // ascending by K; only buckets with events
}

// Bucket is what a trait's aggregate needs of the events in one bucket
// width. Only the fields the aggregate uses are set. Times are Unix
// nanoseconds.
type Bucket struct {
	K   int64           `json:"k"`            // index: the bucket covers [K·w, (K+1)·w) seconds since the epoch
	N   int64           `json:"n"`            // events counted
	Sum float64         `json:"s,omitempty"`  // sum
	Min float64         `json:"lo,omitempty"` // min
	Max float64         `json:"hi,omitempty"` // max
	F   int64           `json:"f,omitempty"`  // first_time: earliest event time
	L   int64           `json:"l,omitempty"`  // last, last_time: latest event time
	Q   int64           `json:"q,omitempty"`  // last: the latest event's log position, breaking time ties
	V   json.RawMessage `json:"v,omitempty"`  // last: the latest event's value (compact JSON)
	D   []uint64        `json:"h,omitempty"`  // distinct_count: smallest value hashes, ascending, at most DistinctCap
	X   bool            `json:"x,omitempty"`  // distinct_count: D was truncated
}

// LaterThan reports whether b's latest event comes after o's: by time,
// then log position, then value bytes, so the choice does not depend on
// arrival order.
func (b *Bucket) LaterThan(o *Bucket) bool {
	if b.L != o.L {
		return b.L > o.L
	}
	if b.Q != o.Q {
		return b.Q > o.Q
	}
	return bytes.Compare(b.V, o.V) > 0
}

// Merge folds o into b (same K).
func (b *Bucket) Merge(o *Bucket) {
	if o.N == 0 {
		return
	}
	if b.N == 0 {
		*b = *o
		b.D = slices.Clone(o.D)
		return
	}
	b.N += o.N
	b.Sum += o.Sum
	b.Min = math.Min(b.Min, o.Min)
	b.Max = math.Max(b.Max, o.Max)
	b.F = min(b.F, o.F)
	if o.LaterThan(b) {
		b.L, b.Q, b.V = o.L, o.Q, o.V
	}
	b.D, b.X = UnionHashes(b.D, o.D, b.X || o.X)
}

// UnionHashes is the union of two ascending hash lists, cut to DistinctCap;
// truncated says whether anything was ever cut.
func UnionHashes(a, b []uint64, truncated bool) ([]uint64, bool) {
	if len(b) == 0 {
		return a, truncated
	}
	out := make([]uint64, 0, min(len(a)+len(b), DistinctCap))
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		var h uint64
		switch {
		case j == len(b) || (i < len(a) && a[i] < b[j]):
			h, i = a[i], i+1
		case i == len(a) || b[j] < a[i]:
			h, j = b[j], j+1
		default:
			h, i, j = a[i], i+1, j+1
		}
		if len(out) == DistinctCap {
			return out, true
		}
		out = append(out, h)
	}
	return out, truncated
}

// AddHash inserts h into the bucket's ascending hash list, keeping the
// smallest DistinctCap.
func (b *Bucket) AddHash(h uint64) {
	i, found := slices.BinarySearch(b.D, h)
	if found {
		return
	}
	if len(b.D) == DistinctCap {
		b.X = true
		if i == DistinctCap {
			return
		}
		b.D = b.D[:DistinctCap-1]
	}
	b.D = slices.Insert(b.D, i, h)
}

// Bucket returns the bucket with index k, adding it in order if missing.
func (w *Window) Bucket(k int64) *Bucket {
	if n := len(w.Buckets); n > 0 && w.Buckets[n-1].K == k {
		return &w.Buckets[n-1] // in-order events: the newest bucket
	}
	if n := len(w.Buckets); n == 0 || w.Buckets[n-1].K < k {
		w.Buckets = append(w.Buckets, Bucket{K: k})
		return &w.Buckets[n]
	}
	i, found := sort.Find(len(w.Buckets), func(i int) int { return cmp.Compare(k, w.Buckets[i].K) })
	if !found {
		w.Buckets = slices.Insert(w.Buckets, i, Bucket{K: k})
	}
	return &w.Buckets[i]
}

// Expire drops the buckets before index lo.
func (w *Window) Expire(lo int64) {
	i := 0
	for i < len(w.Buckets) && w.Buckets[i].K < lo {
		i++
	}
	if i > 0 {
		// Reslicing, not copying: append reallocates once the front of
		// the array is used up, so the array stays under twice the
		// buckets held.
		clear(w.Buckets[:i])
		w.Buckets = w.Buckets[i:]
	}
}

// merge folds o's buckets into w's.
func (w *Window) merge(o *Window) {
	for i := range o.Buckets {
		w.Bucket(o.Buckets[i].K).Merge(&o.Buckets[i])
	}
}

// Merge folds o into st, as when two profiles merge: the values are then
// those of one profile that had received all the events of both (sums of
// non-integers aside, which may differ in the last bits). A trait whose
// two windows were built for different definitions keeps st's; o is not
// changed.
func (st *Computed) Merge(o *Computed) {
	if o == nil {
		return
	}
	for name, ow := range o.Traits {
		w := st.Traits[name]
		switch {
		case w == nil:
			if st.Traits == nil {
				st.Traits = map[string]*Window{}
			}
			c := &Window{Def: ow.Def}
			c.merge(ow)
			st.Traits[name] = c
		case w.Def == ow.Def:
			w.merge(ow)
		}
	}
}
