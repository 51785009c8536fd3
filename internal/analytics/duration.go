package analytics

import (
	"math"
	"sort"
	"time"
)

// DurationBuckets is the number of buckets of a duration histogram: the
// length of a full counts slice (see Bucket).
const DurationBuckets = 94

// durationBounds[i] is 1 s·2^(i/4) rounded to the millisecond, i = 0..92:
// 1 s up to 2^23 s (about 97 days), each bound 19% above the one before.
var durationBounds = func() []time.Duration {
	b := make([]time.Duration, DurationBuckets-1)
	for i := range b {
		b[i] = time.Duration(math.Round(math.Exp2(float64(i)/4)*1000)) * time.Millisecond
	}
	return b
}()

// DurationBounds returns the bucket boundaries of duration histograms,
// ascending: bound i is 1 s·2^(i/4) rounded to the millisecond, for i =
// 0..92, so from 1 s to 2^23 s (97 days 2 h 10 min 8 s) with each bound
// 2^(1/4) ≈ 1.19 times the one before. They are fixed: histograms kept
// by different processes at different times merge by adding counts.
func DurationBounds() []time.Duration {
	return append([]time.Duration(nil), durationBounds...)
}

// Bucket returns the histogram bucket of d, in [0, DurationBuckets):
// bucket 0 holds d < 1 s (negative durations included), bucket i in
// 1..92 holds bounds[i−1] ≤ d < bounds[i], and bucket 93 holds
// d ≥ bounds[92] (about 97 days). See DurationBounds.
func Bucket(d time.Duration) int {
	return sort.Search(len(durationBounds), func(i int) bool { return durationBounds[i] > d })
}

// Quantile returns the q-quantile (q in [0, 1], clamped) of the durations
// counted in counts, where counts[i] is the number of durations in bucket
// i (see Bucket; a shorter slice means zeros for the rest, and entries
// past the last bucket count as in the last). Within its bucket the
// quantile is interpolated on a log scale (linearly in bucket 0, from 0
// to 1 s), so its relative error is below the bucket width, 19%, and for
// smooth distributions much lower. In the last bucket, which has no upper
// bound, it is that bucket's lower bound. Quantile returns 0 when there
// are no counts or q is NaN; negative counts count as 0.
func Quantile(counts []int64, q float64) time.Duration {
	var total int64
	for _, c := range counts {
		total += max(c, 0)
	}
	if total == 0 || math.IsNaN(q) {
		return 0
	}
	rank := min(max(q, 0), 1) * float64(total)
	var cum float64
	for i, c := range counts {
		if c <= 0 {
			continue
		}
		if cum+float64(c) < rank {
			cum += float64(c)
			continue
		}
		f := (rank - cum) / float64(c)
		switch {
		case i == 0:
			return time.Duration(f * float64(durationBounds[0]))
		case i < len(durationBounds):
			lo, hi := float64(durationBounds[i-1]), float64(durationBounds[i])
			return time.Duration(math.Round(lo * math.Pow(hi/lo, f)))
		default:
			return durationBounds[len(durationBounds)-1]
		}
	}
	return durationBounds[len(durationBounds)-1] // unreachable: rank ≤ total
}

// MergeCounts adds the counts of src into dst, growing dst if it is
// shorter, and returns it.
func MergeCounts(dst, src []int64) []int64 {
	if len(dst) < len(src) {
		dst = append(dst, make([]int64, len(src)-len(dst))...)
	}
	for i, c := range src {
		dst[i] += c
	}
	return dst
}

// DurationSummary is the median and 90th percentile of a duration
// histogram, in seconds (see Quantile), for reports.
type DurationSummary struct {
	Count      int64   `json:"count"`
	P50Seconds float64 `json:"p50Seconds"`
	P90Seconds float64 `json:"p90Seconds"`
}

// SummarizeDurations returns the summary of a duration histogram.
func SummarizeDurations(counts []int64) DurationSummary {
	var s DurationSummary
	for _, c := range counts {
		s.Count += max(c, 0)
	}
	s.P50Seconds = Quantile(counts, 0.5).Seconds()
	s.P90Seconds = Quantile(counts, 0.9).Seconds()
	return s
}
