package analytics

import (
	"math"
	"testing"
)

// near reports whether got is within tol of want.
func near(got, want, tol float64) bool { return math.Abs(got-want) <= tol }

// checkInterval fails t unless iv equals want to within tol at both ends.
func checkInterval(t *testing.T, name string, iv, want Interval, tol float64) {
	t.Helper()
	if !near(iv.Lo, want.Lo, tol) || !near(iv.Hi, want.Hi, tol) {
		t.Errorf("%s = [%.5f, %.5f], want [%.4f, %.4f] (±%g)", name, iv.Lo, iv.Hi, want.Lo, want.Hi, tol)
	}
}

// TestWilsonPublished checks the score interval (method 3) against the
// worked examples of Table I of R. G. Newcombe, "Two-sided confidence
// intervals for the single proportion: comparison of seven methods",
// Statistics in Medicine 17:857–872 (1998), given there to 4 decimals.
func TestWilsonPublished(t *testing.T) {
	for _, c := range []struct {
		k, n int
		want Interval
	}{
		{81, 263, Interval{0.2553, 0.3662}},
		{15, 148, Interval{0.0624, 0.1605}},
		{0, 20, Interval{0, 0.1611}},
		{1, 29, Interval{0.0061, 0.1718}},
	} {
		checkInterval(t, "Wilson", Wilson(c.k, c.n, 0.95), c.want, 0.00005)
	}
}

// TestNewcombePublished checks the hybrid score interval (method 10)
// against the worked examples of Table II of R. G. Newcombe, "Interval
// estimation for the difference between independent proportions:
// comparison of eleven methods", Statistics in Medicine 17:873–890
// (1998), given there to 4 decimals. The first two also appear in the
// tests of other implementations of the method.
func TestNewcombePublished(t *testing.T) {
	for _, c := range []struct {
		s1, n1, s2, n2 int
		want           Interval
	}{
		{56, 70, 48, 80, Interval{0.0524, 0.3339}},
		{9, 10, 3, 10, Interval{0.1705, 0.8090}},
		{5, 56, 0, 29, Interval{-0.0381, 0.1926}},
		{0, 10, 0, 20, Interval{-0.1611, 0.2775}},
		{0, 10, 0, 10, Interval{-0.2775, 0.2775}},
		{10, 10, 0, 20, Interval{0.6791, 1}},
		{10, 10, 0, 10, Interval{0.6075, 1}},
	} {
		checkInterval(t, "Newcombe", Newcombe(c.s1, c.n1, c.s2, c.n2, 0.95), c.want, 0.00005)
	}
}

func TestWilsonEdges(t *testing.T) {
	for _, c := range []struct {
		name string
		k, n int
		conf float64
		want Interval
	}{
		{"empty", 0, 0, 0.95, Interval{0, 1}},
		{"negative n", 3, -5, 0.95, Interval{0, 1}},
		{"all", 29, 29, 0.95, Interval{0.8830, 1}},
		{"more successes than n", 40, 29, 0.95, Interval{0.8830, 1}},
		{"default confidence", 81, 263, 0, Interval{0.2553, 0.3662}},
		{"confidence in percent", 81, 263, 95, Interval{0.2553, 0.3662}},
	} {
		t.Run(c.name, func(t *testing.T) {
			checkInterval(t, "Wilson", Wilson(c.k, c.n, c.conf), c.want, 0.00005)
		})
	}
	// A higher level gives a wider interval.
	w90, w99 := Wilson(81, 263, 0.90), Wilson(81, 263, 0.99)
	if !(w99.Lo < w90.Lo && w90.Hi < w99.Hi) {
		t.Errorf("99%% %v does not contain 90%% %v", w99, w90)
	}
}

func TestRelativeRisk(t *testing.T) {
	// Expected values worked by hand from the formulas in the doc
	// comment, with z = 1.959964.
	for _, c := range []struct {
		name           string
		a, n1, c, n2   int
		ratio          float64
		ci             Interval
		corrected, bad bool
	}{
		{name: "twice", a: 20, n1: 100, c: 10, n2: 100, ratio: 2, ci: Interval{0.98656, 4.05448}},
		{name: "triple", a: 30, n1: 40, c: 15, n2: 60, ratio: 3, ci: Interval{1.86869, 4.81622}},
		// 0.5 added to each cell: (0.5/11) / (5.5/11).
		{name: "zero exposed events", a: 0, n1: 10, c: 5, n2: 10, ratio: 0.5 / 5.5, ci: Interval{0.0056863, 1.45341}, corrected: true},
		{name: "empty exposed", a: 0, n1: 0, c: 5, n2: 10, bad: true},
		{name: "empty unexposed", a: 1, n1: 10, c: 0, n2: 0, bad: true},
	} {
		t.Run(c.name, func(t *testing.T) {
			rr, ok := RelativeRisk(c.a, c.n1, c.c, c.n2, 0.95)
			if ok == c.bad {
				t.Fatalf("ok = %v", ok)
			}
			if c.bad {
				if rr != (RiskRatio{}) {
					t.Errorf("undefined ratio = %+v, want the zero value", rr)
				}
				return
			}
			if !near(rr.Ratio, c.ratio, 1e-9) || rr.Corrected != c.corrected {
				t.Errorf("ratio %v corrected %v, want %v %v", rr.Ratio, rr.Corrected, c.ratio, c.corrected)
			}
			checkInterval(t, "CI", rr.CI, c.ci, 0.00001)
		})
	}
	// Every zero cell is finite after the correction.
	for _, cells := range [][4]int{{0, 10, 0, 10}, {10, 10, 0, 10}, {10, 10, 10, 10}, {0, 10, 10, 10}} {
		rr, ok := RelativeRisk(cells[0], cells[1], cells[2], cells[3], 0.95)
		if !ok || !rr.Corrected || !finite(rr.Ratio, rr.CI.Lo, rr.CI.Hi) || !rr.CI.Contains(rr.Ratio) {
			t.Errorf("%v: %+v, %v", cells, rr, ok)
		}
	}
}

// finite reports whether none of xs is NaN or infinite.
func finite(xs ...float64) bool {
	for _, x := range xs {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return false
		}
	}
	return true
}
