package analytics

import (
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/stat/distuv"
)

// draw returns the number of successes in n trials of probability p.
func draw(src rand.Source, n int, p float64) int {
	return int(distuv.Binomial{N: float64(n), P: p, Src: src}.Rand())
}

func TestUpliftPlantedEffect(t *testing.T) {
	const n, pc, pt = 20000, 0.10, 0.13
	src := rand.NewPCG(1, 2)
	tg, cg := draw(src, n, pt), draw(src, n, pc)
	r := Uplift(tg, n, cg, n, 0.95)
	if !r.Significant {
		t.Errorf("not significant: %+v", r)
	}
	if !r.DifferenceCI.Contains(pt - pc) {
		t.Errorf("difference CI %v misses the true %v", r.DifferenceCI, pt-pc)
	}
	if r.RelativeLift == nil || r.RelativeLiftCI == nil || !r.RelativeLiftCI.Contains(pt/pc-1) || !r.RelativeLiftCI.Contains(*r.RelativeLift) {
		t.Errorf("relative lift %v CI %v misses the true %v", r.RelativeLift, r.RelativeLiftCI, pt/pc-1)
	}
	if !r.Treatment.CI.Contains(pt) || !r.Control.CI.Contains(pc) {
		t.Errorf("arm CIs %v %v miss %v %v", r.Treatment.CI, r.Control.CI, pt, pc)
	}
	if r.Difference != r.Treatment.Rate-r.Control.Rate || r.Confidence != 0.95 {
		t.Errorf("inconsistent %+v", r)
	}
}

func TestUpliftNoEffect(t *testing.T) {
	const n, p = 20000, 0.10
	src := rand.NewPCG(3, 4)
	r := Uplift(draw(src, n, p), n, draw(src, n, p), n, 0)
	if r.Significant || !r.DifferenceCI.Contains(0) {
		t.Errorf("significant without an effect: %+v", r)
	}
}

// TestUpliftCoverage checks that the 95% interval of the difference
// covers the true difference in about 95% of experiments. The binomial
// standard error of the coverage over 2,000 runs is 0.5 points, so
// [93%, 97%] is a margin of four of them.
func TestUpliftCoverage(t *testing.T) {
	src := rand.NewPCG(5, 6)
	for _, c := range []struct {
		name   string
		nt, nc int
		pt, pc float64
	}{
		{"10% vs 13%", 1000, 1000, 0.13, 0.10},
		{"no effect", 1000, 1000, 0.10, 0.10},
		{"small unequal arms", 200, 600, 0.05, 0.08},
	} {
		t.Run(c.name, func(t *testing.T) {
			const runs = 2000
			covered := 0
			for range runs {
				r := Uplift(draw(src, c.nt, c.pt), c.nt, draw(src, c.nc, c.pc), c.nc, 0.95)
				if r.DifferenceCI.Contains(c.pt - c.pc) {
					covered++
				}
			}
			if cov := float64(covered) / runs; cov < 0.93 || cov > 0.97 {
				t.Errorf("coverage %.3f, want 0.93–0.97", cov)
			} else {
				t.Logf("coverage %.3f", cov)
			}
		})
	}
}

func TestUpliftEdges(t *testing.T) {
	for _, c := range []struct {
		name           string
		tg, tn, cg, cn int
		lift           bool
		significant    bool
		diffCI         *Interval
	}{
		{name: "all empty", diffCI: &Interval{-1, 1}},
		{name: "empty treatment", cg: 5, cn: 10, diffCI: &Interval{-1, 1}},
		{name: "empty control", tg: 5, tn: 10, diffCI: &Interval{-1, 1}},
		{name: "zero control rate", tg: 30, tn: 100, cg: 0, cn: 100, significant: true},
		{name: "zero treatment rate", tg: 0, tn: 100, cg: 30, cn: 100, lift: true, significant: true},
		{name: "both zero", tg: 0, tn: 100, cg: 0, cn: 100},
		{name: "all reached", tg: 100, tn: 100, cg: 100, cn: 100, lift: true},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := Uplift(c.tg, c.tn, c.cg, c.cn, 0.95)
			if (r.RelativeLift != nil) != c.lift || (r.RelativeLiftCI != nil) != c.lift {
				t.Errorf("relative lift %v, CI %v; want present = %v", r.RelativeLift, r.RelativeLiftCI, c.lift)
			}
			if r.RelativeLift != nil && !r.RelativeLiftCI.Contains(*r.RelativeLift) {
				t.Errorf("relative lift %v outside %v", *r.RelativeLift, *r.RelativeLiftCI)
			}
			if r.Significant != c.significant {
				t.Errorf("significant = %v", r.Significant)
			}
			if c.diffCI != nil && r.DifferenceCI != *c.diffCI {
				t.Errorf("difference CI %v, want %v", r.DifferenceCI, *c.diffCI)
			}
			if !r.DifferenceCI.Contains(r.Difference) || r.DifferenceCI.Lo < -1 || r.DifferenceCI.Hi > 1 {
				t.Errorf("difference %v, CI %v", r.Difference, r.DifferenceCI)
			}
			mustMarshalFinite(t, r)
		})
	}
}
