package analytics

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// Probabilities of the mortgage-refinance generator: customers on iOS who
// upload documents call the contact centre with probability pCause,
// everyone else with pBase.
const (
	pIOS, pAndroid = 0.4, 0.4 // web is the rest
	pUpload        = 0.4
	pCause, pBase  = 0.35, 0.06
)

// refinance returns n mortgage-refinance journey instances as documents
// (the shape Featurize takes) and whether each called the contact
// centre.
func refinance(n int, seed uint64) ([]map[string]any, []bool) {
	rng := rand.New(rand.NewPCG(seed, 42))
	pick := func(xs ...string) string { return xs[rng.IntN(len(xs))] }
	docs := make([]map[string]any, n)
	called := make([]bool, n)
	for i := range docs {
		os := "web"
		switch u := rng.Float64(); {
		case u < pIOS:
			os = "iOS"
		case u < pIOS+pAndroid:
			os = "Android"
		}
		ctx := map[string]any{
			"os":     map[string]any{"name": os},
			"locale": pick("en-GB", "en-US", "fr-FR", "de-DE"),
		}
		if os != "web" {
			ctx["app"] = map[string]any{"version": pick("5.1.0", "5.2.0", "5.3.1", "5.4.0")}
		}
		upload := rng.Float64() < pUpload
		docs[i] = map[string]any{
			"context": ctx,
			"traits": map[string]any{
				"plan":        pick("gold", "silver", "bronze"),
				"region":      pick("north", "south", "east", "west", "central"),
				"newsletter":  rng.IntN(2) == 0,
				"age":         float64(18 + rng.IntN(60)),
				"children":    float64(rng.IntN(4)),
				"customer_id": fmt.Sprintf("c-%07d", i), // too many values: skipped
			},
			"event": map[string]any{
				"document_upload": upload,
				"rate_viewed":     rng.IntN(3) > 0,
			},
			"instance_started_at": float64(1.7e9 + rng.IntN(86400*30)), // bucketed
		}
		p := pBase
		if os == "iOS" && upload {
			p = pCause
		}
		called[i] = rng.Float64() < p
	}
	return docs, called
}

func observations(docs []map[string]any, outcomes []bool) []Observation {
	feats := Featurize(docs, FeatureOptions{})
	obs := make([]Observation, len(docs))
	for i := range obs {
		obs[i] = Observation{Features: feats[i], Outcome: outcomes[i]}
	}
	return obs
}

// TestDriversPlantedCause plants the mortgage-refinance case: iOS users
// who upload documents call 0.35 of the time, everyone else 0.06. With
// conjunctions on, the conjunction ranks first and its relative risk is
// within 15% of the true 0.35/0.06 = 5.83; its parts follow.
func TestDriversPlantedCause(t *testing.T) {
	docs, called := refinance(50000, 7)
	obs := observations(docs, called)
	r := Drivers(obs, DriverOptions{MinSupport: 100, Pairs: DefaultPairs, Limit: 10})
	for i, d := range r.Drivers {
		t.Logf("%2d %-55s n=%-6d rate=%.3f others=%.3f RR=%.2f [%.2f, %.2f]", i+1, d.Label(), d.Support, d.Rate, d.OthersRate, d.RelativeRisk, d.CI.Lo, d.CI.Hi)
	}
	cause := []string{"context.os.name=iOS", "event.document_upload=true"}
	top := r.Drivers[0]
	if !slices.Equal(top.Features, cause) {
		t.Fatalf("top driver %q, want %q", top.Label(), cause)
	}
	const trueRR = pCause / pBase
	if !near(top.RelativeRisk, trueRR, 0.15*trueRR) || !top.CI.Contains(trueRR) {
		t.Errorf("conjunction RR %.2f %v, want %.2f ±15%% inside the CI", top.RelativeRisk, top.CI, trueRR)
	}
	// The parts rank next (their order is a coin toss), with the true
	// single-feature RR p(call | part) / p(call | not part), which is the
	// same for both: (pOther·pCause + (1−pOther)·pBase) / pBase.
	parts := []string{r.Drivers[1].Label(), r.Drivers[2].Label()}
	slices.Sort(parts)
	if !slices.Equal(parts, cause) {
		t.Errorf("drivers 2 and 3 are %q, want the parts %q", parts, cause)
	}
	for _, d := range r.Drivers[1:3] {
		other := pUpload
		if d.Features[0] == cause[1] {
			other = pIOS
		}
		want := (other*pCause + (1-other)*pBase) / pBase
		if !near(d.RelativeRisk, want, 0.15*want) {
			t.Errorf("%s RR %.2f, want %.2f ±15%%", d.Label(), d.RelativeRisk, want)
		}
	}
	// Nothing unrelated to the cause is a credible risk factor, and the
	// features of everything ranked are well formed.
	for _, d := range r.Drivers {
		related := slices.Contains(d.Features, cause[0]) || slices.Contains(d.Features, cause[1])
		if !related && d.CI.Lo > 1 {
			t.Errorf("unrelated %s ranked as a risk factor: %v", d.Label(), d.CI)
		}
		for _, f := range d.Features {
			if strings.Contains(f, "customer_id") || !strings.Contains(f, "=") {
				t.Errorf("bad feature %q", f)
			}
		}
	}
	if r.Observations != 50000 || r.Evaluated <= len(r.Drivers) || len(r.Drivers) != 10 {
		t.Errorf("observations %d, evaluated %d, returned %d", r.Observations, r.Evaluated, len(r.Drivers))
	}
	mustMarshalFinite(t, r)
}

// TestDriversSinglesOnly: without conjunctions the two parts of the
// planted cause rank first, in either order.
func TestDriversSinglesOnly(t *testing.T) {
	docs, called := refinance(50000, 8)
	r := Drivers(observations(docs, called), DriverOptions{MinSupport: 100, Limit: 2})
	got := []string{r.Drivers[0].Label(), r.Drivers[1].Label()}
	slices.Sort(got)
	if want := []string{"context.os.name=iOS", "event.document_upload=true"}; !slices.Equal(got, want) {
		t.Errorf("top singles %q, want %q", got, want)
	}
	for _, d := range r.Drivers {
		if len(d.Features) != 1 {
			t.Errorf("conjunction %s without Pairs", d.Label())
		}
	}
}

// TestDriversRanking checks the ordering rule on a hand-made population:
// a small group with a huge but uncertain ratio ranks below a large group
// with a well-measured one; MinSupport drops, Limit cuts, duplicates
// within an observation count once, and a conjunction identical to one of
// its parts is dropped.
func TestDriversRanking(t *testing.T) {
	var obs []Observation
	add := func(n, outcomes int, features ...string) {
		for i := range n {
			obs = append(obs, Observation{Features: features, Outcome: i < outcomes})
		}
	}
	add(4, 3, "tiny=yes", "tiny=yes")   // rate 0.75: huge RR, wide CI
	add(2000, 600, "big=yes", "sub=on") // rate 0.30; sub implies big
	add(2000, 150, "big=no")            // rate 0.075
	add(5, 0, "rare=yes")
	r := Drivers(obs, DriverOptions{MinSupport: 4, Pairs: 10})
	var labels []string
	for _, d := range r.Drivers {
		labels = append(labels, d.Label())
	}
	// rare=yes (0 of 5) has a ratio near 0 but so wide an interval that
	// its lower bound is below that of big=no.
	want := []string{"big=yes", "sub=on", "tiny=yes", "big=no", "rare=yes"}
	if !slices.Equal(labels, want) {
		t.Errorf("ranking %q, want %q", labels, want)
	}
	tiny := r.Drivers[2]
	if tiny.Support != 4 || tiny.Outcomes != 3 || tiny.RelativeRisk < r.Drivers[0].RelativeRisk {
		t.Errorf("tiny = %+v", tiny)
	}
	// sub=on and big=yes tie on everything but the name.
	if r.Drivers[0].CI != r.Drivers[1].CI {
		t.Errorf("big=yes %v and sub=on %v should tie", r.Drivers[0].CI, r.Drivers[1].CI)
	}

	r = Drivers(obs, DriverOptions{MinSupport: 5, Limit: 2})
	if len(r.Drivers) != 2 || r.Evaluated != 4 || r.Drivers[0].Label() != "big=yes" {
		t.Errorf("with MinSupport 5, Limit 2: %d evaluated, %+v", r.Evaluated, r.Drivers)
	}
}

// TestDriversPopulation: feeding a Population one by one equals Drivers.
func TestDriversPopulation(t *testing.T) {
	docs, called := refinance(5000, 9)
	obs := observations(docs, called)
	var p Population
	for _, o := range obs {
		p.Add(o.Features, o.Outcome)
	}
	opts := DriverOptions{MinSupport: 20, Pairs: 8}
	if got, want := p.Drivers(opts), Drivers(obs, opts); !reflect.DeepEqual(got, want) || p.Len() != len(obs) {
		t.Errorf("Population.Drivers differs from Drivers")
	}
}

func TestFeaturize(t *testing.T) {
	const src = `[
	{"context": {"os": {"name": "iOS"}, "device": {"id": "d1"}, "device_type": "phone"},
	 "traits": {"plan": "gold", "age": 20, "children": 0, "id": "u1", "score": null}, "tags": ["a", "b", "a"], "ok": true},
	{"context": {"os": {"name": "Android"}}, "traits": {"plan": "silver", "age": 30, "children": 1, "id": "u2"}, "tags": []},
	{"traits": {"plan": "gold", "age": 40, "children": 2, "id": "u3", "nested": [{"k": "v"}]}},
	{"traits": {"age": 50, "children": 2, "id": "u4"}},
	{"traits": {"age": 60, "children": 1, "id": "u5"}},
	{"traits": {"age": 70.5, "children": 0, "id": "u6"}}
	]`
	want := [][]string{
		{"context.device_type=phone", "context.os.name=iOS", "ok=true", "tags=a", "tags=b", "traits.age=[20,50)", "traits.children=0", "traits.plan=gold"},
		{"context.os.name=Android", "traits.age=[20,50)", "traits.children=1", "traits.plan=silver"},
		{"traits.age=[20,50)", "traits.children=2", "traits.nested.k=v", "traits.plan=gold"},
		{"traits.age=[50,70.5]", "traits.children=2"},
		{"traits.age=[50,70.5]", "traits.children=1"},
		{"traits.age=[50,70.5]", "traits.children=0"},
	}
	opts := FeatureOptions{MaxDistinct: 3, Buckets: 2, Skip: []string{"context.device"}}
	for _, useNumber := range []bool{false, true} {
		t.Run(fmt.Sprintf("UseNumber=%v", useNumber), func(t *testing.T) {
			dec := json.NewDecoder(strings.NewReader(src))
			if useNumber {
				dec.UseNumber()
			}
			var docs []map[string]any
			if err := dec.Decode(&docs); err != nil {
				t.Fatal(err)
			}
			if got := Featurize(docs, opts); !reflect.DeepEqual(got, want) {
				t.Errorf("got\n%q\nwant\n%q", got, want)
			}
		})
	}
	// Integers with more levels than MaxLevels are bucketed; Go numeric
	// types work as well as JSON's.
	docs := []map[string]any{{"n": 1}, {"n": int64(2)}, {"n": uint8(3)}, {"n": float32(4)}}
	got := Featurize(docs, FeatureOptions{MaxLevels: 3, Buckets: 2})
	if want := [][]string{{"n=[1,3)"}, {"n=[1,3)"}, {"n=[3,4]"}, {"n=[3,4]"}}; !reflect.DeepEqual(got, want) {
		t.Errorf("bucketed integers %q, want %q", got, want)
	}
	if got := Featurize(nil, FeatureOptions{}); len(got) != 0 {
		t.Errorf("Featurize(nil) = %q", got)
	}
}

// BenchmarkDrivers ranks 1,000,000 observations of 20 features each
// (about 120 distinct features), singles and with DefaultPairs.
func BenchmarkDrivers(b *testing.B) {
	const n, paths = 1_000_000, 20
	var values [paths][]string
	for p := range values {
		for v := range 2 + p%10 {
			values[p] = append(values[p], fmt.Sprintf("traits.property_%02d=value_%d", p, v))
		}
	}
	rng := rand.New(rand.NewPCG(1, 1))
	obs := make([]Observation, n)
	for i := range obs {
		fs := make([]string, paths)
		for p := range fs {
			fs[p] = values[p][rng.IntN(len(values[p]))]
		}
		risk := 0.06
		if fs[0] == values[0][0] && fs[3] == values[3][1] {
			risk = 0.35
		}
		obs[i] = Observation{Features: fs, Outcome: rng.Float64() < risk}
	}
	for _, c := range []struct {
		name  string
		pairs int
	}{{"singles", 0}, {"pairs", DefaultPairs}} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				r := Drivers(obs, DriverOptions{MinSupport: 100, Pairs: c.pairs})
				if len(r.Drivers) == 0 {
					b.Fatal("no drivers")
				}
			}
		})
	}
}
