package analytics

// Arm is one group of a comparison: N instances, Goal of which reached
// the goal.
type Arm struct {
	N    int     `json:"n"`
	Goal int     `json:"goal"`
	Rate float64 `json:"rate"` // Goal/N; 0 when N is 0
	// CI is the Wilson interval of Rate ([0, 1] when N is 0).
	CI Interval `json:"ci"`
}

// UpliftResult compares the goal rate of a treatment group with that of a
// control (hold-out) group.
type UpliftResult struct {
	Confidence float64 `json:"confidence"`
	Treatment  Arm     `json:"treatment"`
	Control    Arm     `json:"control"`
	// Difference is the absolute uplift, treatment rate − control rate.
	Difference float64 `json:"difference"`
	// DifferenceCI is Newcombe's hybrid score interval of Difference.
	DifferenceCI Interval `json:"differenceCi"`
	// RelativeLift is Difference divided by the control rate: +0.3 means
	// the treatment reached the goal 30% more often. Nil (and absent from
	// JSON) when it is undefined: the control rate is 0 or an arm is
	// empty.
	RelativeLift *float64 `json:"relativeLift,omitempty"`
	// RelativeLiftCI is the Katz interval of the risk ratio minus 1 (see
	// RelativeRisk; when a cell is zero, the corrected interval widened to
	// contain RelativeLift); nil exactly when RelativeLift is.
	RelativeLiftCI *Interval `json:"relativeLiftCi,omitempty"`
	// Significant reports whether DifferenceCI excludes 0.
	Significant bool `json:"significant"`
}

// Uplift compares treatGoal goals among treatN treated instances with
// controlGoal among controlN in the control group, at the given
// confidence level (DefaultConfidence if it is not in (0, 1)).
//
// When either arm is empty there is nothing to compare: Difference is 0,
// DifferenceCI [−1, 1], RelativeLift absent and Significant false. No
// field is ever NaN or infinite, so the result always marshals to JSON.
// Counts are clamped as in Wilson.
func Uplift(treatGoal, treatN, controlGoal, controlN int, confidence float64) UpliftResult {
	confidence = confidenceLevel(confidence)
	z := zFor(confidence)
	treatGoal, treatN = clampCounts(treatGoal, treatN)
	controlGoal, controlN = clampCounts(controlGoal, controlN)
	r := UpliftResult{
		Confidence: confidence,
		Treatment:  Arm{N: treatN, Goal: treatGoal, Rate: rate(treatGoal, treatN), CI: wilsonZ(treatGoal, treatN, z)},
		Control:    Arm{N: controlN, Goal: controlGoal, Rate: rate(controlGoal, controlN), CI: wilsonZ(controlGoal, controlN, z)},
	}
	if treatN == 0 || controlN == 0 {
		r.DifferenceCI = Interval{-1, 1}
		return r
	}
	r.Difference = r.Treatment.Rate - r.Control.Rate
	r.DifferenceCI = newcombeZ(treatGoal, treatN, controlGoal, controlN, z)
	r.Significant = r.DifferenceCI.Excludes(0)
	if controlGoal > 0 {
		lift := r.Difference / r.Control.Rate
		r.RelativeLift = &lift
		if rr, ok := relativeRiskZ(treatGoal, treatN, controlGoal, controlN, z); ok {
			// With a zero cell the ratio is continuity-corrected; widen
			// its interval to hold the uncorrected lift.
			r.RelativeLiftCI = &Interval{Lo: min(rr.CI.Lo-1, lift), Hi: max(rr.CI.Hi-1, lift)}
		}
	}
	return r
}
