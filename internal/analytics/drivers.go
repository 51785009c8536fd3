package analytics

import (
	"cmp"
	"slices"
	"strings"
)

// Observation is one journey instance as driver analysis sees it: its
// features (strings "name=value", e.g. "context.os.name=iOS"; see
// Featurize) and whether the outcome of interest happened (called the
// contact centre, missed the goal, …).
type Observation struct {
	Features []string `json:"features"`
	Outcome  bool     `json:"outcome"`
}

// DriverOptions tune Drivers. The zero value ranks every single feature
// at DefaultConfidence.
type DriverOptions struct {
	// MinSupport drops the features (and conjunctions) fewer observations
	// have; 0 keeps all.
	MinSupport int
	// Confidence is the level of the intervals; DefaultConfidence when
	// not in (0, 1).
	Confidence float64
	// Limit keeps only the first Limit drivers; 0 keeps all.
	Limit int
	// Pairs is how many of the top-ranked single features have their
	// two-feature conjunctions evaluated too: Pairs·(Pairs−1)/2 of them,
	// at the cost of one more pass over the observations. 0 evaluates
	// none; DefaultPairs is a good value; more than MaxPairs means
	// MaxPairs.
	Pairs int
}

// DefaultPairs is a good DriverOptions.Pairs: 190 conjunctions among the
// top 20 features.
const DefaultPairs = 20

// MaxPairs bounds DriverOptions.Pairs, and so the work and memory of
// conjunctions (4,950 of them), whatever a caller asks for.
const MaxPairs = 100

// Driver is a feature, or a conjunction of two, with the relative risk of
// the outcome for the observations that have it against those that do
// not.
type Driver struct {
	// Features is one feature, or two (sorted) for a conjunction: the
	// observations having both.
	Features []string `json:"features"`
	// Support is the number of observations with the feature(s).
	Support int `json:"support"`
	// Outcomes is how many of those had the outcome.
	Outcomes int `json:"outcomes"`
	// Rate is Outcomes/Support.
	Rate float64 `json:"rate"`
	// OthersRate is the outcome rate among the observations without the
	// feature(s).
	OthersRate float64 `json:"othersRate"`
	// RelativeRisk is Rate/OthersRate (continuity-corrected if Corrected;
	// see RelativeRisk), and CI its interval.
	RelativeRisk float64  `json:"relativeRisk"`
	CI           Interval `json:"ci"`
	Corrected    bool     `json:"corrected,omitempty"`
}

// Label returns the driver's features joined by " & ", for tables.
func (d Driver) Label() string { return strings.Join(d.Features, " & ") }

// DriverReport is the result of driver analysis.
type DriverReport struct {
	Observations int     `json:"observations"`
	Outcomes     int     `json:"outcomes"` // observations with the outcome
	Rate         float64 `json:"rate"`     // Outcomes/Observations
	Confidence   float64 `json:"confidence"`
	// Evaluated is the number of features and conjunctions that passed
	// MinSupport, before Limit.
	Evaluated int `json:"evaluated"`
	// Drivers are ranked strongest credible risk factor first (see
	// Drivers).
	Drivers []Driver `json:"drivers"`
}

// Drivers ranks the features of the observations as drivers of the
// outcome; see Population.Drivers.
func Drivers(obs []Observation, opts DriverOptions) DriverReport {
	var total int
	for _, o := range obs {
		total += len(o.Features)
	}
	p := &Population{
		ids:      make([]uint32, 0, total),
		ends:     make([]int, 0, len(obs)),
		outcomes: make([]bool, 0, len(obs)),
	}
	for _, o := range obs {
		p.Add(o.Features, o.Outcome)
	}
	return p.Drivers(opts)
}

// Population accumulates observations for driver analysis, interning
// their features so that the strings need not be kept: fed row by row
// from a query it holds about 4 bytes per feature of an observation. The
// zero value is an empty population ready to use. It is not safe for
// concurrent use.
type Population struct {
	index    map[string]uint32
	names    []string // by feature id
	exposed  []int    // by feature id: observations having it
	events   []int    // by feature id: of those, with the outcome
	seen     []int    // by feature id: 1 + the last observation having it
	ids      []uint32 // the feature ids of every observation, concatenated
	ends     []int    // by observation: the end of its ids
	outcomes []bool   // by observation
	outcome  int      // observations with the outcome
}

// Add adds an observation; a feature repeated in it counts once.
func (p *Population) Add(features []string, outcome bool) {
	if p.index == nil {
		p.index = make(map[string]uint32)
	}
	stamp := len(p.ends) + 1
	for _, f := range features {
		id, ok := p.index[f]
		if !ok {
			id = uint32(len(p.names))
			p.index[f] = id
			p.names = append(p.names, f)
			p.exposed = append(p.exposed, 0)
			p.events = append(p.events, 0)
			p.seen = append(p.seen, 0)
		}
		if p.seen[id] == stamp {
			continue
		}
		p.seen[id] = stamp
		p.ids = append(p.ids, id)
		p.exposed[id]++
		if outcome {
			p.events[id]++
		}
	}
	p.ends = append(p.ends, len(p.ids))
	p.outcomes = append(p.outcomes, outcome)
	if outcome {
		p.outcome++
	}
}

// Len returns the number of observations.
func (p *Population) Len() int { return len(p.ends) }

// Drivers ranks the features as drivers of the outcome. Each feature F
// splits the observations into those with F (the exposed) and those
// without, and is scored by the relative risk of the outcome, exposed
// against unexposed, with Katz's interval (RelativeRisk). Features fewer
// than MinSupport observations have, and features every observation has
// (nothing to compare with), are dropped.
//
// With Pairs > 0, the conjunctions "F and G" of the top Pairs single
// features (in the order below) are scored the same way, the exposed
// being the observations with both. A conjunction that selects exactly
// the observations of one of its parts (G implies F, say an app version
// and its OS) adds nothing and is dropped. The work is one pass over the
// observations' features plus, per observation, the pairs among its
// candidate features: bounded by Pairs²/2.
//
// The ranking is by the interval's lower bound, highest first: the
// strongest risk factor that the data make credible comes first, and a
// small group with a large but uncertain ratio does not beat a large one
// with a smaller, well-measured ratio. Singles and conjunctions share one
// ranking, so a conjunction that explains the effect better than its
// parts, as measured by that bound, ranks above them. Ties go to the
// higher ratio, then the larger support, then the features in byte
// order. A protective feature (ratio below 1) has a lower bound below 1,
// so it ranks below every credible risk factor (lower bound above 1).
func (p *Population) Drivers(opts DriverOptions) DriverReport {
	conf := confidenceLevel(opts.Confidence)
	z := zFor(conf)
	n := len(p.ends)
	minSupport := max(opts.MinSupport, 1)
	r := DriverReport{
		Observations: n,
		Outcomes:     p.outcome,
		Rate:         rate(p.outcome, n),
		Confidence:   conf,
		Drivers:      []Driver{},
	}
	// score returns the driver for support observations with outcomes.
	score := func(support, outcomes int, features ...string) (Driver, bool) {
		if support < minSupport || support >= n {
			return Driver{}, false
		}
		rr, ok := relativeRiskZ(outcomes, support, p.outcome-outcomes, n-support, z)
		if !ok {
			return Driver{}, false
		}
		return Driver{
			Features:     features,
			Support:      support,
			Outcomes:     outcomes,
			Rate:         rate(outcomes, support),
			OthersRate:   rate(p.outcome-outcomes, n-support),
			RelativeRisk: rr.Ratio,
			CI:           rr.CI,
			Corrected:    rr.Corrected,
		}, true
	}

	type ranked struct {
		Driver
		a, b int // feature ids; b is -1 for a single feature
	}
	var list []ranked
	for id, name := range p.names {
		if d, ok := score(p.exposed[id], p.events[id], name); ok {
			list = append(list, ranked{d, id, -1})
		}
	}
	sortRanked := func() {
		slices.SortFunc(list, func(x, y ranked) int { return compareDrivers(&x.Driver, &y.Driver) })
	}
	sortRanked()

	if k := min(opts.Pairs, MaxPairs, len(list)); k > 1 {
		// cand[id] is the rank of feature id among the candidates, or -1.
		cand := make([]int32, len(p.names))
		for i := range cand {
			cand[i] = -1
		}
		for i := range k {
			cand[list[i].a] = int32(i)
		}
		pairN := make([]int, k*k) // [i*k+j], i < j candidate ranks
		pairE := make([]int, k*k)
		var present []int32
		start := 0
		for o, end := range p.ends {
			present = present[:0]
			for _, id := range p.ids[start:end] {
				if c := cand[id]; c >= 0 {
					present = append(present, c)
				}
			}
			start = end
			for x := 0; x < len(present); x++ {
				for y := x + 1; y < len(present); y++ {
					i, j := min(present[x], present[y]), max(present[x], present[y])
					pairN[int(i)*k+int(j)]++
					if p.outcomes[o] {
						pairE[int(i)*k+int(j)]++
					}
				}
			}
		}
		for i := range k {
			for j := i + 1; j < k; j++ {
				s := pairN[i*k+j]
				a, b := list[i].a, list[j].a
				if s == p.exposed[a] || s == p.exposed[b] {
					continue // the conjunction is one of its parts
				}
				fs := []string{p.names[a], p.names[b]}
				slices.Sort(fs)
				if d, ok := score(s, pairE[i*k+j], fs...); ok {
					list = append(list, ranked{d, a, b})
				}
			}
		}
		sortRanked()
	}

	r.Evaluated = len(list)
	if opts.Limit > 0 && len(list) > opts.Limit {
		list = list[:opts.Limit]
	}
	for _, d := range list {
		r.Drivers = append(r.Drivers, d.Driver)
	}
	return r
}

// compareDrivers orders drivers as Population.Drivers ranks them.
func compareDrivers(x, y *Driver) int {
	if c := cmp.Compare(y.CI.Lo, x.CI.Lo); c != 0 {
		return c
	}
	if c := cmp.Compare(y.RelativeRisk, x.RelativeRisk); c != 0 {
		return c
	}
	if c := cmp.Compare(y.Support, x.Support); c != 0 {
		return c
	}
	return slices.Compare(x.Features, y.Features)
}
