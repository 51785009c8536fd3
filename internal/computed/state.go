package computed

import (
	"encoding/json"
	"math"
	"time"

	"github.com/overture-cjo/overture/internal/core"
)

// State is a profile's computed-trait state; see core.Computed.
type State = core.Computed

// DistinctCap is core.DistinctCap: the value hashes a distinct_count
// bucket keeps.
const DistinctCap = core.DistinctCap

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
func (t *Trait) value(w *core.Window, lo, hi int64) any {
	var acc core.Bucket
	var hashes []uint64
	for i := range w.Buckets {
		b := &w.Buckets[i]
		if b.K < lo || b.K > hi || b.N == 0 {
			continue
		}
		if t.Aggregate == DistinctCount {
			hashes, acc.X = core.UnionHashes(hashes, b.D, acc.X || b.X)
			acc.N += b.N
			continue
		}
		acc.Merge(b)
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
