package decide

import (
	"cmp"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"

	"gonum.org/v1/gonum/stat/distuv"

	"github.com/overture-cjo/overture/internal/journey"
)

// Set is an immutable set of compiled offers by id, safe for concurrent
// use.
type Set struct {
	byID map[string]int // index in list
	list []*Offer       // by id
	// Offers with the same condition (or context expression) share a
	// slot, so that one decision evaluates it once: eligSlot[i] is the
	// slot of list[i]'s condition, -1 if it has none; likewise ctxSlot.
	eligSlot, ctxSlot   []int
	eligSlots, ctxSlots int
	// converters are the offers each outcome event converts, in id order.
	converters map[string][]*Offer
}

// NewSet returns the set of offers, which must come from Parse or Load and
// have distinct ids.
func NewSet(offers []*Offer) (*Set, error) {
	s := &Set{byID: make(map[string]int, len(offers))}
	for _, o := range offers {
		if o == nil || !o.compiled {
			return nil, fmt.Errorf("decide: NewSet needs offers made by Parse")
		}
		if _, dup := s.byID[o.ID]; dup {
			return nil, fmt.Errorf("decide: duplicate offer id %q", o.ID)
		}
		s.byID[o.ID] = 0
		s.list = append(s.list, o)
	}
	slices.SortFunc(s.list, func(a, b *Offer) int { return strings.Compare(a.ID, b.ID) })
	elig, ctx := map[string]int{}, map[string]int{}
	slot := func(slots map[string]int, src string) int {
		if src == "" {
			return -1
		}
		n, ok := slots[src]
		if !ok {
			n = len(slots)
			slots[src] = n
		}
		return n
	}
	for i, o := range s.list {
		s.byID[o.ID] = i
		s.eligSlot = append(s.eligSlot, slot(elig, o.Eligibility))
		s.ctxSlot = append(s.ctxSlot, slot(ctx, o.Context))
	}
	s.eligSlots, s.ctxSlots = len(elig), len(ctx)
	s.converters = map[string][]*Offer{}
	for _, o := range s.list {
		for _, ev := range o.Outcome.Events {
			s.converters[ev] = append(s.converters[ev], o)
		}
	}
	return s, nil
}

// ConvertedBy returns the offers an event named event converts (see
// Offer.Converts), in id order: a map lookup, for the per-event path.
func (s *Set) ConvertedBy(event string) []*Offer {
	if s == nil {
		return nil
	}
	return s.converters[event]
}

// Get returns the offer with the id, or nil.
func (s *Set) Get(id string) *Offer {
	if i, ok := s.byID[id]; ok {
		return s.list[i]
	}
	return nil
}

// List returns the offers sorted by id. The caller must not change the
// slice.
func (s *Set) List() []*Offer { return s.list }

// Input is one decision's question: who, where, when, and what they have
// seen.
type Input struct {
	// Profile is `profile`: core.ProfileMap of the profile plus "computed"
	// (the computed traits' values). Nil is an empty map.
	Profile map[string]any
	// Context is `context`: the touchpoint's request context. Nil is an
	// empty map.
	Context map[string]any
	// Channel, if set, makes only the offers allowed on it eligible.
	Channel string
	// Now is `now`, and the time cool-offs are measured against.
	Now time.Time
	// Seen is the customer's impressions, per offer id.
	Seen map[string]Seen
	// Rand is the source of the Thompson draws. It is used by one Rank at
	// a time (a *rand.Rand is not safe for concurrent use); give each
	// request or goroutine its own. Nil uses math/rand/v2's global source,
	// randomly seeded and safe for concurrent use; tests give a seeded one
	// to be deterministic.
	Rand *rand.Rand
	// Only, if not nil, ranks only the offers with these ids (unknown ids
	// are skipped).
	Only []string
}

// Seen is a customer's impressions of one offer.
type Seen struct {
	Impressions int       // how many times they saw it
	Last        time.Time // when they last saw it; zero if never
}

// Ranked is one offer's place in a decision and why.
type Ranked struct {
	Offer    *Offer
	Rank     int  // 1-based among the eligible offers; 0 when not eligible
	Eligible bool // the offer may be shown
	// Score is Propensity × Offer.Value × Offer.Weight; 0 when not
	// eligible. Eligible offers are ranked by it.
	Score float64
	// Propensity is the conversion probability used: a Thompson draw from
	// the posterior (Explored), or its mean.
	Propensity float64
	Mean       float64 // the posterior mean
	// Impressions and Successes are the model's counts behind the
	// posterior, for Bucket.
	Impressions, Successes int64
	Bucket                 string // the context bucket ("" without a context expression)
	Explored               bool   // Propensity is a Thompson draw
	// Reason says in one sentence why the offer has this rank (its score,
	// and the offer ranked just above it) or why it is not eligible.
	Reason string
}

// Rank ranks the offers in s (or in.Only) for in, reading the posteriors
// from m (nil: every offer at its prior): the eligible offers first, by Score descending (ties by value
// descending, then by id), then the others by id. An offer is not
// eligible if in.Channel is set and not among its channels, if the
// customer has seen it MaxImpressions times, within CoolOff of their last
// impression, or if its eligibility condition is false or fails.
//
// The condition, the context expression and the Thompson draws run in id
// order, so a seeded in.Rand gives the same ranking every time.
func (s *Set) Rank(in Input, m *Model) []Ranked {
	var picked []int // indices in s.list; nil: all
	if in.Only != nil {
		picked = make([]int, 0, len(in.Only))
		for _, id := range in.Only {
			if i, ok := s.byID[id]; ok && !slices.Contains(picked, i) {
				picked = append(picked, i)
			}
		}
		slices.Sort(picked)
	}
	n := len(s.list)
	if picked != nil {
		n = len(picked)
	}
	ev := evaluator{
		vars:   newVars(&in),
		elig:   make([]eligResult, s.eligSlots),
		bucket: make([]bucketResult, s.ctxSlots),
	}
	out := make([]Ranked, n)
	eligible := 0
	for k := range out {
		i := k
		if picked != nil {
			i = picked[k]
		}
		o := s.list[i]
		r := &out[k]
		r.Offer = o
		if r.Reason = o.exclude(&in, &ev, s.eligSlot[i]); r.Reason != "" {
			continue
		}
		eligible++
		r.Eligible = true
		r.Bucket = ev.bucketOf(o, s.ctxSlot[i])
		st := m.Stat(o.ID, r.Bucket)
		r.Impressions, r.Successes = st.Impressions, st.Successes
		a, b := o.Posterior(st)
		r.Mean = a / (a + b)
		r.Propensity = r.Mean
		if o.Explore {
			r.Propensity, r.Explored = draw(a, b, in.Rand), true
		}
		r.Score = r.Propensity * o.Value * o.Weight
	}
	// Sort an index rather than the (large) entries themselves.
	order := make([]int32, len(out))
	for i := range order {
		order[i] = int32(i)
	}
	slices.SortFunc(order, func(i, j int32) int {
		x, y := &out[i], &out[j]
		if x.Eligible != y.Eligible {
			if x.Eligible {
				return -1
			}
			return 1
		}
		if x.Eligible {
			if c := cmp.Compare(y.Score, x.Score); c != 0 {
				return c
			}
			if c := cmp.Compare(y.Offer.Value, x.Offer.Value); c != 0 {
				return c
			}
		}
		return strings.Compare(x.Offer.ID, y.Offer.ID)
	})
	// Permute out in place: out[i] becomes the old out[order[i]].
	for i := range out {
		if order[i] < 0 {
			continue // moved in an earlier cycle
		}
		tmp := out[i]
		for j := i; ; {
			k := int(order[j])
			order[j] = -1
			if k == i {
				out[j] = tmp
				break
			}
			out[j], j = out[k], k
		}
	}
	// The reasons share one string.
	buf := make([]byte, 0, 256*eligible)
	ends := make([]int, eligible)
	for i := range out[:eligible] {
		out[i].Rank = i + 1
		buf = explain(buf, out[:eligible], i)
		ends[i] = len(buf)
	}
	all, start := string(buf), 0
	for i, end := range ends {
		out[i].Reason, start = all[start:end], end
	}
	return out
}

// Best returns the offer Rank puts first, and false if no offer is
// eligible.
func (s *Set) Best(in Input, m *Model) (Ranked, bool) {
	r := s.Rank(in, m)
	if len(r) == 0 || !r[0].Eligible {
		return Ranked{}, false
	}
	return r[0], true
}

// exclude returns why o may not be shown for in, or "" if it may; slot
// is the slot of its condition in ev.
func (o *Offer) exclude(in *Input, ev *evaluator, slot int) string {
	if in.Channel != "" && !o.OnChannel(in.Channel) {
		return "not offered on channel " + in.Channel + " (only " + strings.Join(o.Channels, ", ") + ")"
	}
	seen := in.Seen[o.ID]
	if o.MaxImpressions > 0 && seen.Impressions >= o.MaxImpressions {
		return fmt.Sprintf("max impressions reached: %d of %d", seen.Impressions, o.MaxImpressions)
	}
	if o.CoolOff > 0 && !seen.Last.IsZero() {
		if until := seen.Last.Add(o.CoolOff); in.Now.Before(until) {
			return fmt.Sprintf("in cool-off until %s (%s after the last impression)",
				until.UTC().Format(time.RFC3339), journey.FormatDuration(o.CoolOff))
		}
	}
	ok, err := ev.eligible(o, slot)
	switch {
	case err != nil:
		return "eligibility failed: " + err.Error()
	case !ok:
		return "eligibility condition is false"
	}
	return ""
}

// draw returns a sample of Beta(a, b) from r (nil: the global source), or
// the mean in the unlikely event that both gamma draws underflow.
func draw(a, b float64, r *rand.Rand) float64 {
	d := distuv.Beta{Alpha: a, Beta: b}
	if r != nil {
		d.Src = r
	}
	x := d.Rand()
	if math.IsNaN(x) {
		return a / (a + b)
	}
	return x
}

// explain appends the reason of ranked[i], one of the eligible offers
// sorted by score, to buf.
func explain(buf []byte, ranked []Ranked, i int) []byte {
	r := &ranked[i]
	o := r.Offer
	a, b := o.Posterior(Stat{Impressions: r.Impressions, Successes: r.Successes})
	buf = append(buf, "rank "...)
	buf = strconv.AppendInt(buf, int64(r.Rank), 10)
	buf = append(buf, " of "...)
	buf = strconv.AppendInt(buf, int64(len(ranked)), 10)
	buf = append(buf, ": score "...)
	buf = appendNum(buf, r.Score, 4)
	buf = append(buf, " = propensity "...)
	buf = appendNum(buf, r.Propensity, 3)
	if r.Explored {
		buf = append(buf, " (Thompson draw from Beta("...)
	} else {
		buf = append(buf, " (posterior mean of Beta("...)
	}
	buf = appendNum(buf, a, -1)
	buf = append(buf, ", "...)
	buf = appendNum(buf, b, -1)
	buf = append(buf, "): "...)
	buf = strconv.AppendInt(buf, r.Successes, 10)
	buf = append(buf, " conversions in "...)
	buf = strconv.AppendInt(buf, r.Impressions, 10)
	buf = append(buf, " impressions"...)
	if r.Explored {
		buf = append(buf, ", mean "...)
		buf = appendNum(buf, r.Mean, 3)
	}
	if o.Context != "" {
		buf = append(buf, ", bucket "...)
		buf = strconv.AppendQuote(buf, r.Bucket)
	}
	buf = append(buf, ") × value "...)
	buf = appendNum(buf, o.Value, -1)
	buf = append(buf, " × weight "...)
	buf = appendNum(buf, o.Weight, -1)
	// Equal scores sit next to each other.
	lo, hi := i, i
	for lo > 0 && ranked[lo-1].Score == r.Score {
		lo--
	}
	for hi+1 < len(ranked) && ranked[hi+1].Score == r.Score {
		hi++
	}
	switch {
	case lo < hi:
		buf = append(buf, "; tied with "...)
		sep := false
		for j := lo; j <= hi; j++ {
			if j == i {
				continue
			}
			if sep {
				buf = append(buf, ", "...)
			}
			buf = append(buf, ranked[j].Offer.ID...)
			sep = true
		}
		buf = append(buf, " on score; ordered by value then id"...)
	case i > 0:
		buf = append(buf, "; below "...)
		buf = append(buf, ranked[i-1].Offer.ID...)
		buf = append(buf, " (score "...)
		buf = appendNum(buf, ranked[i-1].Score, 4)
		buf = append(buf, ')')
	}
	return buf
}

// num formats x with prec significant digits (-1: as many as needed),
// without an exponent for numbers a person would write without one.
func num(x float64, prec int) string {
	return string(appendNum(nil, x, prec))
}

// pow10[i] is 10^(i-4).
var pow10 = [...]float64{1e-4, 1e-3, 1e-2, 1e-1, 1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10}

// appendNum appends num(x, prec) to buf: the shape of
// strconv.FormatFloat(x, 'g', prec, 64) ('f' for prec -1) without its
// cost for the numbers reasons show most, integers and numbers from 1e-4
// to 10^prec.
func appendNum(buf []byte, x float64, prec int) []byte {
	ax := math.Abs(x)
	switch {
	case x == 0:
		return append(buf, '0')
	case ax < 1e15 && x == math.Trunc(x):
		return strconv.AppendInt(buf, int64(x), 10)
	case prec < 0 && ax >= 1e-4 && ax < 1e15:
		return strconv.AppendFloat(buf, x, 'f', -1, 64)
	case prec > 0 && ax >= math.Pow10(prec) && ax < 1e15:
		return strconv.AppendInt(buf, int64(math.Round(x)), 10)
	case prec > 0 && prec < 10 && ax >= 1e-4 && ax < math.Pow10(prec):
		// prec significant digits: d decimals, trailing zeros trimmed.
		e := -4 // ax is in [10^e, 10^(e+1))
		for e+1 < prec && ax >= pow10[e+5] {
			e++
		}
		d := prec - 1 - e
		m := int64(math.Round(ax * math.Pow10(d)))
		if m >= int64(math.Pow10(prec)) { // rounded up to one more digit
			d--
			m = int64(math.Round(ax * math.Pow10(d)))
		}
		for d > 0 && m%10 == 0 {
			m /= 10
			d--
		}
		if x < 0 {
			buf = append(buf, '-')
		}
		if d <= 0 {
			return strconv.AppendInt(buf, m, 10)
		}
		var digits [24]byte
		ds := strconv.AppendInt(digits[:0], m, 10)
		if len(ds) <= d {
			buf = append(buf, '0', '.')
			for range d - len(ds) {
				buf = append(buf, '0')
			}
			return append(buf, ds...)
		}
		buf = append(buf, ds[:len(ds)-d]...)
		buf = append(buf, '.')
		return append(buf, ds[len(ds)-d:]...)
	}
	return strconv.AppendFloat(buf, x, 'g', prec, 64)
}
