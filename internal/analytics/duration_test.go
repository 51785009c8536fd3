package analytics

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// TestDurationBoundsFixed pins the boundaries (values of 1000·2^(i/4)
// rounded, in ms, computed independently): persisted histograms depend on
// them, so they must never change.
func TestDurationBoundsFixed(t *testing.T) {
	b := DurationBounds()
	if len(b) != DurationBuckets-1 {
		t.Fatalf("%d bounds, want %d", len(b), DurationBuckets-1)
	}
	for i, want := range map[int]time.Duration{
		0:  time.Second,
		1:  1189 * time.Millisecond,
		2:  1414 * time.Millisecond,
		3:  1682 * time.Millisecond,
		4:  2 * time.Second,
		24: 64 * time.Second,
		46: 2896309 * time.Millisecond,   // 48 min
		47: 3444312 * time.Millisecond,   // 57 min
		70: 185363800 * time.Millisecond, // 2.1 days
		92: 1 << 23 * time.Second,        // 97 days
	} {
		if b[i] != want {
			t.Errorf("bound %d = %v (%d ms), want %v", i, b[i], b[i].Milliseconds(), want)
		}
	}
	for i := 1; i < len(b); i++ {
		if r := float64(b[i]) / float64(b[i-1]); !near(r, math.Pow(2, 0.25), 0.001) {
			t.Errorf("bound %d / bound %d = %v", i, i-1, r)
		}
	}
	b[0] = 0 // a copy
	if DurationBounds()[0] != time.Second {
		t.Error("DurationBounds returns the table itself")
	}
}

func TestBucket(t *testing.T) {
	b := DurationBounds()
	for _, c := range []struct {
		d    time.Duration
		want int
	}{
		{-time.Hour, 0},
		{0, 0},
		{999 * time.Millisecond, 0},
		{time.Second, 1},
		{1188 * time.Millisecond, 1},
		{1189 * time.Millisecond, 2},
		{b[91], 92},
		{b[92] - 1, 92},
		{b[92], 93},
		{math.MaxInt64, 93},
	} {
		if got := Bucket(c.d); got != c.want {
			t.Errorf("Bucket(%v) = %d, want %d", c.d, got, c.want)
		}
	}
	for i := range DurationBuckets - 1 {
		if Bucket(b[i]) != i+1 || Bucket(b[i]-1) != i {
			t.Errorf("bound %d (%v) in bucket %d, just below it %d", i, b[i], Bucket(b[i]), Bucket(b[i]-1))
		}
	}
}

// TestQuantileAccuracy compares the quantiles of histograms of random
// durations with the exact ones. Log interpolation within a bucket keeps
// the error below 3% here; the bound for any data is the bucket width,
// 19%.
func TestQuantileAccuracy(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	for _, c := range []struct {
		name string
		gen  func() time.Duration
	}{
		// Time to goal: median an hour, a long tail into weeks.
		{"lognormal", func() time.Duration {
			return time.Duration(math.Exp(math.Log(3600)+1.5*rng.NormFloat64()) * float64(time.Second))
		}},
		{"uniform 0–10 min", func() time.Duration { return time.Duration(rng.Int64N(int64(10 * time.Minute))) }},
		{"exponential, mean 2 days", func() time.Duration {
			return time.Duration(rng.ExpFloat64() * float64(48*time.Hour))
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			const n = 100000
			ds := make([]time.Duration, n)
			// Two histograms merged must equal one of everything.
			var h1, h2 []int64
			for i := range ds {
				ds[i] = c.gen()
				if i%2 == 0 {
					h1 = MergeCounts(h1, onehot(Bucket(ds[i])))
				} else {
					h2 = MergeCounts(h2, onehot(Bucket(ds[i])))
				}
			}
			h := MergeCounts(slices.Clone(h1), h2)
			slices.Sort(ds)
			for _, q := range []float64{0.1, 0.5, 0.9, 0.99} {
				exact := ds[int(math.Ceil(q*n))-1]
				got := Quantile(h, q)
				rel := math.Abs(float64(got-exact)) / float64(exact)
				if rel > 0.03 {
					t.Errorf("q%.2f = %v, exact %v: %.1f%% off", q, got, exact, 100*rel)
				}
			}
		})
	}
}

// onehot returns counts with one duration in bucket i.
func onehot(i int) []int64 {
	c := make([]int64, i+1)
	c[i] = 1
	return c
}

func TestQuantileEdges(t *testing.T) {
	full := make([]int64, DurationBuckets)
	full[5] = 10 // [2 s, 2.378 s)
	b := DurationBounds()
	for _, c := range []struct {
		name   string
		counts []int64
		q      float64
		want   time.Duration
	}{
		{"nil", nil, 0.5, 0},
		{"zeros", make([]int64, DurationBuckets), 0.5, 0},
		{"negative counts", []int64{-5, 0, 0}, 0.5, 0},
		{"NaN", full, math.NaN(), 0},
		{"q 0 is the lower edge", full, 0, 2 * time.Second},
		{"q below 0", full, -1, 2 * time.Second},
		{"q 1 is the upper edge", full, 1, b[5]},
		{"q above 1", full, 7, b[5]},
		{"log midpoint", full, 0.5, time.Duration(math.Round(math.Sqrt(float64(b[4]) * float64(b[5]))))},
		{"bucket 0 is linear", []int64{4}, 0.25, 250 * time.Millisecond},
		{"the last bucket gives its lower bound", onehot(93), 0.5, b[92]},
		{"past the last bucket counts as the last", onehot(120), 0.9, b[92]},
		{"short slice", []int64{0, 0, 3}, 1, b[2]},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := Quantile(c.counts, c.q); got != c.want {
				t.Errorf("Quantile = %v, want %v", got, c.want)
			}
		})
	}
	s := SummarizeDurations(full)
	if s.Count != 10 || s.P50Seconds <= 2 || s.P90Seconds <= s.P50Seconds || s.P90Seconds >= b[5].Seconds() {
		t.Errorf("summary %+v", s)
	}
}
