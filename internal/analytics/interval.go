package analytics

import (
	"math"

	"gonum.org/v1/gonum/stat/distuv"
)

// DefaultConfidence is the confidence level used when a function is given
// one outside (0, 1).
const DefaultConfidence = 0.95

// Interval is a confidence interval [Lo, Hi].
type Interval struct {
	Lo float64 `json:"lo"`
	Hi float64 `json:"hi"`
}

// Contains reports whether x lies in the closed interval.
func (iv Interval) Contains(x float64) bool { return iv.Lo <= x && x <= iv.Hi }

// Excludes reports whether x lies outside the closed interval.
func (iv Interval) Excludes(x float64) bool { return !iv.Contains(x) }

// confidenceLevel returns c, or DefaultConfidence when c is not in (0, 1).
func confidenceLevel(c float64) float64 {
	if c > 0 && c < 1 {
		return c
	}
	return DefaultConfidence
}

// zFor returns the two-sided standard normal critical value for the
// confidence level c (1.959964 for 0.95).
func zFor(c float64) float64 {
	return distuv.UnitNormal.Quantile(0.5 + confidenceLevel(c)/2)
}

// clampCounts clamps n to at least 0 and k to [0, n].
func clampCounts(k, n int) (int, int) {
	n = max(n, 0)
	return min(max(k, 0), n), n
}

// rate returns k/n, or 0 when n is 0.
func rate(k, n int) float64 {
	if n <= 0 {
		return 0
	}
	return float64(k) / float64(n)
}

// Wilson returns the Wilson score interval for the proportion
// successes/n at the given confidence level (DefaultConfidence if it is
// not in (0, 1)), without continuity correction:
//
//	(p + z²/2n ± z·√(p(1−p)/n + z²/4n²)) / (1 + z²/n)
//
// Unlike the Wald interval it stays inside [0, 1] and keeps close to its
// nominal coverage for small n and for p near 0 or 1. With n = 0 the
// interval is [0, 1]. Counts are clamped: n to at least 0, successes to
// [0, n].
func Wilson(successes, n int, confidence float64) Interval {
	return wilsonZ(successes, n, zFor(confidence))
}

func wilsonZ(successes, n int, z float64) Interval {
	successes, n = clampCounts(successes, n)
	if n == 0 {
		return Interval{0, 1}
	}
	nf := float64(n)
	p := float64(successes) / nf
	z2 := z * z
	denom := 1 + z2/nf
	center := (p + z2/(2*nf)) / denom
	half := z * math.Sqrt(p*(1-p)/nf+z2/(4*nf*nf)) / denom
	iv := Interval{Lo: max(center-half, 0), Hi: min(center+half, 1)}
	// Exact at the boundaries, whatever the rounding.
	if successes == 0 {
		iv.Lo = 0
	}
	if successes == n {
		iv.Hi = 1
	}
	return iv
}

// Newcombe returns the hybrid score interval for the difference p1 − p2 of
// two independent proportions, p1 = s1/n1 and p2 = s2/n2: method 10 of
// Newcombe (1998), "Interval estimation for the difference between
// independent proportions: comparison of eleven methods", Statistics in
// Medicine 17:873–890. From the Wilson intervals [l1, u1] and [l2, u2],
//
//	Lo = (p1 − p2) − √((p1 − l1)² + (u2 − p2)²)
//	Hi = (p1 − p2) + √((u1 − p1)² + (p2 − l2)²)
//
// An empty group has the Wilson interval [0, 1] and rate 0, so the
// interval is then wide but finite. Counts are clamped as in Wilson.
func Newcombe(s1, n1, s2, n2 int, confidence float64) Interval {
	return newcombeZ(s1, n1, s2, n2, zFor(confidence))
}

func newcombeZ(s1, n1, s2, n2 int, z float64) Interval {
	s1, n1 = clampCounts(s1, n1)
	s2, n2 = clampCounts(s2, n2)
	p1, p2 := rate(s1, n1), rate(s2, n2)
	w1, w2 := wilsonZ(s1, n1, z), wilsonZ(s2, n2, z)
	d := p1 - p2
	return Interval{
		Lo: max(d-math.Hypot(p1-w1.Lo, w2.Hi-p2), -1),
		Hi: min(d+math.Hypot(w1.Hi-p1, p2-w2.Lo), 1),
	}
}
