package analytics

import "math"

// RiskRatio is a relative risk (risk ratio) with its confidence interval.
type RiskRatio struct {
	// Ratio is the outcome rate of the exposed divided by that of the
	// unexposed (after the continuity correction, if Corrected).
	Ratio float64 `json:"ratio"`
	// CI is Katz's log-method interval.
	CI Interval `json:"ci"`
	// Corrected is set when a cell of the 2×2 table was zero and 0.5 was
	// added to every cell.
	Corrected bool `json:"corrected,omitempty"`
}

// RelativeRisk returns the risk ratio
//
//	RR = (a/n1) / (c/n2)
//
// of an outcome in an exposed group (a events among n1) against an
// unexposed one (c events among n2), with Katz's log-method interval
//
//	exp(ln RR ± z·√(1/a − 1/n1 + 1/c − 1/n2))
//
// (Katz, Baptista, Azen and Pike 1978). When any of the four cells a,
// n1−a, c, n2−c is zero, 0.5 is added to each of them (so n1 and n2 grow
// by 1), for the ratio as well as its interval, and Corrected is set:
// the estimate stays finite and the interval honest, if conservative.
//
// The ratio is undefined when either group is empty: ok is then false
// and rr the zero value. Counts are clamped as in Wilson; confidence
// outside (0, 1) means DefaultConfidence.
func RelativeRisk(exposedEvents, exposedN, unexposedEvents, unexposedN int, confidence float64) (rr RiskRatio, ok bool) {
	return relativeRiskZ(exposedEvents, exposedN, unexposedEvents, unexposedN, zFor(confidence))
}

func relativeRiskZ(a, n1, c, n2 int, z float64) (RiskRatio, bool) {
	a, n1 = clampCounts(a, n1)
	c, n2 = clampCounts(c, n2)
	if n1 == 0 || n2 == 0 {
		return RiskRatio{}, false
	}
	fa, fn1, fc, fn2 := float64(a), float64(n1), float64(c), float64(n2)
	var corrected bool
	if a == 0 || a == n1 || c == 0 || c == n2 {
		fa, fn1, fc, fn2 = fa+0.5, fn1+1, fc+0.5, fn2+1
		corrected = true
	}
	logRR := math.Log(fa/fn1) - math.Log(fc/fn2)
	se := math.Sqrt(1/fa - 1/fn1 + 1/fc - 1/fn2)
	return RiskRatio{
		Ratio:     math.Exp(logRR),
		CI:        Interval{Lo: math.Exp(logRR - z*se), Hi: math.Exp(logRR + z*se)},
		Corrected: corrected,
	}, true
}
