package computed

import (
	"bytes"
	"cmp"
	"encoding/json"
	"math"
	"slices"
	"sort"
	"time"
)

// DistinctCap is how many value hashes a bucket of a distinct_count trait
// keeps: the smallest DistinctCap hashes of the values it saw. While no
// bucket in the window has seen more distinct values than that, the count
// is exact (64-bit hash collisions aside); beyond it, the count is a
// k-minimum-values estimate (about ±20%).
const DistinctCap = 32

// State is one profile's computed-trait state: a window per trait name.
// Its JSON form is compact and stable, for storing with the profile.
type State struct {
	Traits map[string]*Window `json:"traits,omitempty"`
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

// laterThan reports whether b's latest event comes after o's: by time,
// then log position, then value bytes, so the choice does not depend on
// arrival order.
func (b *Bucket) laterThan(o *Bucket) bool {
	if b.L != o.L {
		return b.L > o.L
	}
	if b.Q != o.Q {
		return b.Q > o.Q
	}
	return bytes.Compare(b.V, o.V) > 0
}

// merge folds o into b (same K).
func (b *Bucket) merge(o *Bucket) {
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
	if o.laterThan(b) {
		b.L, b.Q, b.V = o.L, o.Q, o.V
	}
	b.D, b.X = unionCap(b.D, o.D, b.X || o.X)
}

// unionCap is the union of two ascending hash lists, cut to DistinctCap;
// truncated says whether anything was ever cut.
func unionCap(a, b []uint64, truncated bool) ([]uint64, bool) {
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

// addHash inserts h into the bucket's ascending hash list, keeping the
// smallest DistinctCap.
func (b *Bucket) addHash(h uint64) {
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

// bucket returns the bucket with index k, adding it in order if missing.
func (w *Window) bucket(k int64) *Bucket {
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

// expire drops the buckets before index lo.
func (w *Window) expire(lo int64) {
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
		w.bucket(o.Buckets[i].K).merge(&o.Buckets[i])
	}
}

// Merge folds o into st, as when two profiles merge: the values are then
// those of one profile that had received all the events of both (sums of
// non-integers aside, which may differ in the last bits). A trait whose
// two windows were built for different definitions keeps st's; o is not
// changed.
func (st *State) Merge(o *State) {
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

// floorDiv is a/b rounded down (b > 0).
func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && a < 0 {
		q--
	}
	return q
}

// bucketOf is the index of the bucket holding t.
func (t *Trait) bucketOf(at time.Time) int64 { return floorDiv(at.Unix(), t.width) }

// bounds returns the first and last bucket in the window at now.
func (t *Trait) bounds(now time.Time) (lo, hi int64) {
	return t.bucketOf(now.Add(-t.Window)), t.bucketOf(now)
}

// value aggregates the window's buckets in [lo, hi].
func (t *Trait) value(w *Window, lo, hi int64) any {
	var acc Bucket
	var hashes []uint64
	for i := range w.Buckets {
		b := &w.Buckets[i]
		if b.K < lo || b.K > hi || b.N == 0 {
			continue
		}
		if t.Aggregate == DistinctCount {
			hashes, acc.X = unionCap(hashes, b.D, acc.X || b.X)
			acc.N += b.N
			continue
		}
		acc.merge(b)
	}
	switch t.Aggregate {
	case Count:
		return float64(acc.N)
	case Sum:
		return acc.Sum
	case DistinctCount:
		if !acc.X {
			return float64(len(hashes))
		}
		// k-minimum-values: the k-th smallest of n uniform hashes is
		// about k/n of the hash space.
		kth := float64(hashes[len(hashes)-1]) / math.MaxUint64
		return math.Round(float64(len(hashes)-1) / kth)
	}
	if acc.N == 0 {
		return nil
	}
	switch t.Aggregate {
	case Min:
		return acc.Min
	case Max:
		return acc.Max
	case Last:
		var v any
		if json.Unmarshal(acc.V, &v) != nil {
			return nil
		}
		return v
	case FirstTime:
		return time.Unix(0, acc.F).UTC().Format(time.RFC3339Nano)
	case LastTime:
		return time.Unix(0, acc.L).UTC().Format(time.RFC3339Nano)
	}
	return nil
}
