package decide

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

var now = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// newSet parses offers from sources and returns their set.
func newSet(t testing.TB, srcs ...string) *Set {
	t.Helper()
	var offers []*Offer
	for _, src := range srcs {
		offers = append(offers, mustParse(t, src))
	}
	s, err := NewSet(offers)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// byID returns the entry of offer id in ranked.
func byID(t *testing.T, ranked []Ranked, id string) Ranked {
	t.Helper()
	for _, r := range ranked {
		if r.Offer.ID == id {
			return r
		}
	}
	t.Fatalf("%s not ranked", id)
	return Ranked{}
}

func ids(ranked []Ranked) []string {
	var out []string
	for _, r := range ranked {
		out = append(out, r.Offer.ID)
	}
	return out
}

func postpaid(segment string) map[string]any {
	return map[string]any{"traits": map[string]any{"plan": "postpaid", "segment": segment}}
}

func TestRankExclusions(t *testing.T) {
	s := newSet(t,
		"id: plan\ncategory: c\nvalue: 10\nexplore: false\neligibility: 'profile.traits.plan == \"postpaid\"'\n",
		"id: email-only\ncategory: c\nvalue: 10\nexplore: false\nchannels: [email, app]\n",
		"id: cooling\ncategory: c\nvalue: 10\nexplore: false\ncool_off: 3d\n",
		"id: capped\ncategory: c\nvalue: 10\nexplore: false\nmax_impressions: 2\n",
		"id: broken\ncategory: c\nvalue: 10\nexplore: false\neligibility: 'profile.traits.nosuch > 1'\n",
		"id: in-context\ncategory: c\nvalue: 10\nexplore: false\neligibility: 'context.page == \"usage\" && now > timestamp(\"2025-01-01T00:00:00Z\")'\n",
	)
	m := NewModel()
	in := Input{
		Profile: map[string]any{"traits": map[string]any{"plan": "prepaid"}},
		Context: map[string]any{"page": "home"},
		Channel: "sms",
		Now:     now,
		Seen: map[string]Seen{
			"cooling": {Impressions: 1, Last: now.Add(-24 * time.Hour)},
			"capped":  {Impressions: 2, Last: now.Add(-30 * 24 * time.Hour)},
		},
	}
	ranked := s.Rank(in, m)
	want := map[string]string{
		"plan":       "eligibility condition is false",
		"email-only": "not offered on channel sms (only app, email)",
		"cooling":    "in cool-off until 2025-03-03T12:00:00Z (3d after the last impression)",
		"capped":     "max impressions reached: 2 of 2",
		"broken":     "eligibility failed: no such key: nosuch",
		"in-context": "eligibility condition is false",
	}
	for _, r := range ranked {
		if r.Eligible || r.Rank != 0 || r.Score != 0 || r.Reason != want[r.Offer.ID] {
			t.Errorf("%s: eligible %v rank %d score %g reason %q, want %q", r.Offer.ID, r.Eligible, r.Rank, r.Score, r.Reason, want[r.Offer.ID])
		}
	}
	if got := ids(ranked); !slices.Equal(got, []string{"broken", "capped", "cooling", "email-only", "in-context", "plan"}) {
		t.Errorf("ineligible ones not by id: %v", got)
	}
	if _, ok := s.Best(in, m); ok {
		t.Error("Best: an offer, want none")
	}

	// Now everything is allowed: the cool-off ends exactly 3 days after.
	in.Profile = postpaid("gold")
	in.Context = map[string]any{"page": "usage"}
	in.Channel = "email"
	in.Now = now.Add(48 * time.Hour)
	in.Seen["capped"] = Seen{Impressions: 1}
	in.Profile["traits"].(map[string]any)["nosuch"] = 2
	for _, r := range s.Rank(in, m) {
		if !r.Eligible || r.Rank == 0 {
			t.Errorf("%s: not eligible: %s", r.Offer.ID, r.Reason)
		}
	}

	// No channel given: every channel goes.
	in.Channel = ""
	if r := byID(t, s.Rank(in, m), "email-only"); !r.Eligible {
		t.Errorf("no channel: %s", r.Reason)
	}
	// Offer.Eligible answers the condition alone.
	if ok, err := s.Get("broken").Eligible(Input{}); ok || err == nil || !strings.Contains(err.Error(), "offer broken: no such key") {
		t.Errorf("Eligible: %v, %v", ok, err)
	}
}

func TestRankScores(t *testing.T) {
	s := newSet(t,
		"id: renewal\ncategory: retention\nvalue: 120\nexplore: false\nprior: {alpha: 1, beta: 19}\n",
		"id: addon\ncategory: upsell\nvalue: 15\nweight: 2\nexplore: false\nprior: {alpha: 2, beta: 18}\n",
		"id: upgrade\ncategory: cross-sell\nvalue: 300\nweight: 0.5\nexplore: false\n",
	)
	m := NewModel()
	m.Add("renewal", "", 100, 12)  // Beta(13, 107): mean 13/120
	m.Add("addon", "", 1000, 300)  // Beta(302, 718): mean 302/1020
	m.Add("upgrade", "", 200, 2)   // Beta(3, 199): mean 3/202
	m.Add("upgrade", "x", 200, 50) // another bucket: not used
	ranked := s.Rank(Input{Now: now}, m)
	if got := ids(ranked); !slices.Equal(got, []string{"renewal", "addon", "upgrade"}) {
		t.Fatalf("order %v", got)
	}
	r := ranked[0]
	if r.Rank != 1 || !r.Eligible || r.Explored || r.Propensity != r.Mean || r.Mean != 13.0/120 ||
		r.Impressions != 100 || r.Successes != 12 || r.Score != 13.0/120*120 {
		t.Errorf("renewal: %+v", r)
	}
	if want := "rank 1 of 3: score 13 = propensity 0.108 (posterior mean of Beta(13, 107): 12 conversions in 100 impressions) × value 120 × weight 1"; r.Reason != want {
		t.Errorf("reason\n%s\nwant\n%s", r.Reason, want)
	}
	if want := "rank 2 of 3: score 8.882 = propensity 0.296 (posterior mean of Beta(302, 718): 300 conversions in 1000 impressions) × value 15 × weight 2; below renewal (score 13)"; ranked[1].Reason != want {
		t.Errorf("reason\n%s\nwant\n%s", ranked[1].Reason, want)
	}
	if ranked[2].Rank != 3 || math.Abs(ranked[2].Score-3.0/202*300*0.5) > 1e-12 {
		t.Errorf("upgrade: %+v", ranked[2])
	}
	if best, ok := s.Best(Input{Now: now}, m); !ok || best.Offer.ID != "renewal" {
		t.Errorf("Best: %v %v", best.Offer, ok)
	}
}

func TestRankTies(t *testing.T) {
	s := newSet(t,
		"id: b\ncategory: c\nvalue: 50\nweight: 2\nexplore: false\n",
		"id: a\ncategory: c\nvalue: 50\nweight: 2\nexplore: false\n",
		"id: big\ncategory: c\nvalue: 100\nexplore: false\n",
		"id: low\ncategory: c\nvalue: 10\nexplore: false\n",
	)
	ranked := s.Rank(Input{Now: now}, NewModel())
	if got := ids(ranked); !slices.Equal(got, []string{"big", "a", "b", "low"}) {
		t.Fatalf("order %v, want big (the greater value), a, b (by id), low", got)
	}
	want := []string{
		"rank 1 of 4: score 50 = propensity 0.5 (posterior mean of Beta(1, 1): 0 conversions in 0 impressions) × value 100 × weight 1; tied with a, b on score; ordered by value then id",
		"rank 2 of 4: score 50 = propensity 0.5 (posterior mean of Beta(1, 1): 0 conversions in 0 impressions) × value 50 × weight 2; tied with big, b on score; ordered by value then id",
		"rank 3 of 4: score 50 = propensity 0.5 (posterior mean of Beta(1, 1): 0 conversions in 0 impressions) × value 50 × weight 2; tied with big, a on score; ordered by value then id",
		"rank 4 of 4: score 5 = propensity 0.5 (posterior mean of Beta(1, 1): 0 conversions in 0 impressions) × value 10 × weight 1; below b (score 50)",
	}
	for i, r := range ranked {
		if r.Reason != want[i] {
			t.Errorf("%s:\n%s\nwant\n%s", r.Offer.ID, r.Reason, want[i])
		}
	}
}

func TestRankExplore(t *testing.T) {
	s := newSet(t,
		"id: a\ncategory: c\nvalue: 10\n",
		"id: b\ncategory: c\nvalue: 10\n",
		"id: mean\ncategory: c\nvalue: 10\nexplore: false\n",
	)
	m := NewModel()
	m.Add("a", "", 50, 5)
	rank := func(seed uint64) []Ranked {
		return s.Rank(Input{Now: now, Rand: rand.New(rand.NewPCG(seed, 0))}, m)
	}
	first, again := rank(7), rank(7)
	for i := range first {
		if first[i].Offer != again[i].Offer || first[i].Propensity != again[i].Propensity || first[i].Reason != again[i].Reason {
			t.Errorf("same seed, different rankings:\n%+v\n%+v", first[i], again[i])
		}
	}
	a := byID(t, first, "a")
	if !a.Explored || a.Propensity == a.Mean || a.Mean != 6.0/52 || a.Propensity <= 0 || a.Propensity >= 1 {
		t.Errorf("a: %+v", a)
	}
	if !strings.Contains(a.Reason, "(Thompson draw from Beta(6, 46): 5 conversions in 50 impressions, mean 0.115) × value 10 × weight 1") {
		t.Errorf("a: reason %q", a.Reason)
	}
	if mean := byID(t, first, "mean"); mean.Explored || mean.Propensity != 0.5 {
		t.Errorf("explore off: %+v", mean)
	}
	// Draws vary with the seed, and without a source (the global one).
	seen := map[float64]bool{}
	for seed := range uint64(20) {
		seen[byID(t, rank(seed), "b").Propensity] = true
	}
	for range 20 {
		seen[byID(t, s.Rank(Input{Now: now}, m), "b").Propensity] = true
	}
	if len(seen) < 35 {
		t.Errorf("%d distinct draws of 40", len(seen))
	}
	// The draws follow the posterior: Beta(6, 46) has mean 0.115.
	r := rand.New(rand.NewPCG(1, 1))
	sum := 0.0
	const n = 20_000
	for range n {
		sum += byID(t, s.Rank(Input{Now: now, Rand: r, Only: []string{"a"}}, m), "a").Propensity
	}
	if got := sum / n; got < 0.112 || got > 0.119 {
		t.Errorf("mean of the draws %.4f, want 0.115", got)
	}
}

func TestRankBuckets(t *testing.T) {
	s := newSet(t,
		"id: renewal\ncategory: retention\nvalue: 100\nexplore: false\ncontext: 'profile.traits.segment'\n",
		"id: tenure\ncategory: retention\nvalue: 100\nexplore: false\ncontext: 'profile.traits.years'\n",
	)
	m := NewModel()
	m.Add("renewal", "gold", 100, 50)
	m.Add("renewal", "silver", 100, 5)
	m.Add("renewal", "", 10, 0)
	for _, tc := range []struct {
		profile map[string]any
		bucket  string
		mean    float64
	}{
		{postpaid("gold"), "gold", 51.0 / 102},
		{postpaid("silver"), "silver", 6.0 / 102},
		{postpaid("bronze"), "bronze", 0.5},
		{nil, "", 1.0 / 12}, // no segment: the expression fails
	} {
		r := byID(t, s.Rank(Input{Profile: tc.profile, Now: now}, m), "renewal")
		if r.Bucket != tc.bucket || r.Mean != tc.mean {
			t.Errorf("%v: bucket %q mean %g, want %q %g", tc.profile, r.Bucket, r.Mean, tc.bucket, tc.mean)
		}
		if want := fmt.Sprintf("bucket %q)", tc.bucket); !strings.Contains(r.Reason, want) {
			t.Errorf("reason %q does not say %s", r.Reason, want)
		}
		if got := s.Get("renewal").Bucket(Input{Profile: tc.profile}); got != tc.bucket {
			t.Errorf("Bucket %q, want %q", got, tc.bucket)
		}
	}
	// Other scalars are formatted.
	for _, tc := range []struct {
		v    any
		want string
	}{{int64(3), "3"}, {uint64(4), "4"}, {2.5, "2.5"}, {true, "true"}, {"x", "x"}, {nil, ""}, {[]any{1}, ""}, {now, "2025-03-01T12:00:00Z"}} {
		in := Input{Profile: map[string]any{"traits": map[string]any{"years": tc.v}}}
		if got := s.Get("tenure").Bucket(in); got != tc.want {
			t.Errorf("Bucket of %v: %q, want %q", tc.v, got, tc.want)
		}
	}
}

func TestRankOnly(t *testing.T) {
	s := newSet(t,
		"id: a\ncategory: c\nvalue: 1\nexplore: false\n",
		"id: b\ncategory: c\nvalue: 2\nexplore: false\n",
		"id: c\ncategory: c\nvalue: 3\nexplore: false\n",
	)
	ranked := s.Rank(Input{Now: now, Only: []string{"a", "nosuch", "c", "a"}}, NewModel())
	if got := ids(ranked); !slices.Equal(got, []string{"c", "a"}) {
		t.Errorf("Only: %v", got)
	}
	if ranked := s.Rank(Input{Now: now, Only: []string{}}, NewModel()); len(ranked) != 0 {
		t.Errorf("Only empty: %v", ids(ranked))
	}
	if _, ok := s.Best(Input{Now: now, Only: []string{}}, NewModel()); ok {
		t.Error("Best of none: ok")
	}
	// A nil model: every offer at its prior.
	if best, ok := s.Best(Input{Now: now}, nil); !ok || best.Offer.ID != "c" || best.Mean != 0.5 {
		t.Errorf("nil model: %+v", best)
	}
}

func TestModel(t *testing.T) {
	m := NewModel()
	m.Add("b", "", 10, 1)
	m.Add("a", "y", 5, 2)
	m.Add("a", "x", 3, 0)
	m.Add("a", "x", 1, 1)
	if got := m.Stat("a", "x"); got != (Stat{"a", "x", 4, 1}) {
		t.Errorf("Stat %+v", got)
	}
	if got := m.Stat("z", "q"); got != (Stat{Offer: "z", Bucket: "q"}) {
		t.Errorf("Stat of nothing %+v", got)
	}
	snap := m.Snapshot()
	want := []Stat{{"a", "x", 4, 1}, {"a", "y", 5, 2}, {"b", "", 10, 1}}
	if !slices.Equal(snap, want) {
		t.Errorf("Snapshot %v", snap)
	}
	m2 := NewModel()
	m2.Add("old", "", 1, 1)
	if err := m2.Load(snap); err != nil {
		t.Fatal(err)
	}
	if got := m2.Snapshot(); !slices.Equal(got, want) {
		t.Errorf("after Load %v", got)
	}
	if err := m2.Load([]Stat{{"a", "", 1, 0}, {"a", "", 2, 0}}); err == nil {
		t.Error("duplicate: no error")
	}
	if err := m2.Load([]Stat{{"a", "", -1, 0}}); err == nil {
		t.Error("negative: no error")
	}
	if got := m2.Snapshot(); !slices.Equal(got, want) {
		t.Errorf("a failed Load changed the model: %v", got)
	}

	// Posterior: failures and successes never below zero.
	o := mustParse(t, "id: o\ncategory: c\nvalue: 1\nprior: {alpha: 2, beta: 3}\n")
	for _, tc := range []struct {
		s    Stat
		a, b float64
	}{{Stat{Impressions: 10, Successes: 4}, 6, 9}, {Stat{Impressions: 1, Successes: 3}, 5, 3}, {Stat{Impressions: -5, Successes: -1}, 2, 3}} {
		if a, b := o.Posterior(tc.s); a != tc.a || b != tc.b {
			t.Errorf("Posterior(%+v) = %g, %g, want %g, %g", tc.s, a, b, tc.a, tc.b)
		}
	}
}

// TestConcurrent ranks while others add to the model and load it (run
// with -race).
func TestConcurrent(t *testing.T) {
	s := newSet(t,
		"id: a\ncategory: c\nvalue: 1\ncontext: 'profile.traits.segment'\n",
		"id: b\ncategory: c\nvalue: 1\n",
	)
	m := NewModel()
	run := func(load bool) {
		var wg sync.WaitGroup
		for g := range 4 {
			wg.Go(func() {
				r := rand.New(rand.NewPCG(uint64(g), 0))
				for i := range 500 {
					if g%2 == 0 {
						m.Add("a", fmt.Sprint(i%3), 1, int64(i%2))
						m.Add("b", "", 1, 0)
					} else {
						s.Rank(Input{Profile: postpaid(fmt.Sprint(i % 3)), Now: now, Rand: r}, m)
						m.Snapshot()
					}
				}
			})
		}
		if load {
			wg.Go(func() { _ = m.Load([]Stat{{"a", "0", 10, 1}}) })
		}
		wg.Wait()
	}
	run(true) // a Load replaces whatever was added before it
	if err := m.Load(nil); err != nil {
		t.Fatal(err)
	}
	run(false)
	if got := m.Stat("b", ""); got.Impressions != 1000 || got.Successes != 0 {
		t.Errorf("b: %+v, want 1000 impressions", got)
	}
	if got := m.Stat("a", "1"); got.Impressions != 334 || got.Successes != 168 {
		t.Errorf("a in bucket 1: %+v, want 168 of 334", got)
	}
}

func TestNum(t *testing.T) {
	for _, tc := range []struct {
		x    float64
		prec int
		want string
	}{
		{0, 3, "0"}, {13, 4, "13"}, {120, -1, "120"}, {0.5, -1, "0.5"}, {2.5, -1, "2.5"},
		{0.103, 3, "0.103"}, {0.10349, 3, "0.103"}, {0.1036, 3, "0.104"}, {0.9996, 3, "1"}, {0.09996, 3, "0.1"},
		{8.88235, 4, "8.882"}, {12.4, 4, "12.4"}, {1234.5, 4, "1235"}, {99999.4, 4, "99999"}, {0.0149, 3, "0.0149"},
		{0.00012345, 3, "0.000123"}, {-0.25, 3, "-0.25"}, {1.5e-7, 3, "1.5e-07"}, {3.0 / 21, 2, "0.14"}, {1e20, 4, "1e+20"},
	} {
		if got := num(tc.x, tc.prec); got != tc.want {
			t.Errorf("num(%g, %d) = %q, want %q", tc.x, tc.prec, got, tc.want)
		}
	}
}

// TestCostLimit checks that a condition that iterates, whose cost the
// static estimate cannot bound, is stopped at CostLimit.
func TestCostLimit(t *testing.T) {
	s := newSet(t, "id: loop\ncategory: c\nvalue: 1\neligibility: 'profile.audiences.all(a, profile.audiences.exists(b, b == a))'\n")
	small := map[string]any{"audiences": []any{"a", "b"}}
	if ok, err := s.Get("loop").Eligible(Input{Profile: small}); !ok || err != nil {
		t.Fatalf("small: %v, %v", ok, err)
	}
	big := make([]any, 1000)
	for i := range big {
		big[i] = fmt.Sprint(i)
	}
	r := s.Rank(Input{Profile: map[string]any{"audiences": big}, Now: now}, NewModel())[0]
	if r.Eligible || !strings.Contains(r.Reason, "cost limit exceeded") {
		t.Errorf("big: eligible %v, %s", r.Eligible, r.Reason)
	}
}
