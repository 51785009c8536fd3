package decide

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

// arm is an offer of a simulated population: its value and its planted
// conversion rate per bucket ("" without buckets).
type arm struct {
	id    string
	value float64
	rate  map[string]float64
}

// simulation is the outcome of play.
type simulation struct {
	regret       float64          // cumulative expected (pseudo-)regret
	bestLate     int              // rounds among the last `late` that showed the best arm of their bucket
	late         int              // how many last rounds bestLate counts over
	pulls        map[string]int64 // impressions per offer
	bucketRegret map[string]float64
}

// play runs rounds of: pick a customer's bucket, rank, show the best offer,
// draw the conversion from its planted rate, feed the model. Regret is
// counted against the best expected value (rate × value) of the bucket.
// context, if not "", is the offers' context expression; buckets are
// drawn uniformly and passed as profile.traits.segment.
func play(t *testing.T, arms []arm, buckets []string, context string, rounds int, seed uint64) simulation {
	t.Helper()
	var offers []*Offer
	for _, a := range arms {
		src := fmt.Sprintf("id: %s\ncategory: test\nvalue: %g\n", a.id, a.value)
		if context != "" {
			src += "context: '" + context + "'\n"
		}
		offers = append(offers, mustParse(t, src))
	}
	set, err := NewSet(offers)
	if err != nil {
		t.Fatal(err)
	}
	m := NewModel()
	decide := rand.New(rand.NewPCG(seed, 1))
	world := rand.New(rand.NewPCG(seed, 2))
	byID := map[string]arm{}
	for _, a := range arms {
		byID[a.id] = a
	}
	sim := simulation{late: rounds / 10, pulls: map[string]int64{}, bucketRegret: map[string]float64{}}
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	for round := range rounds {
		bucket := buckets[world.IntN(len(buckets))]
		in := Input{
			Profile: map[string]any{"traits": map[string]any{"segment": bucket}},
			Now:     now,
			Rand:    decide,
		}
		best, ok := set.Best(in, m)
		if !ok {
			t.Fatal("no eligible offer")
		}
		bestEV, bestID := 0.0, ""
		for _, a := range arms {
			if ev := a.rate[bucket] * a.value; ev > bestEV {
				bestEV, bestID = ev, a.id
			}
		}
		a := byID[best.Offer.ID]
		r := bestEV - a.rate[bucket]*a.value
		sim.regret += r
		sim.bucketRegret[bucket] += r
		if round >= rounds-sim.late && a.id == bestID {
			sim.bestLate++
		}
		var success int64
		if world.Float64() < a.rate[bucket] {
			success = 1
		}
		m.Add(a.id, best.Bucket, 1, success)
		sim.pulls[a.id]++
	}
	return sim
}

// lowerBound returns the Lai-Robbins asymptotic lower bound on the
// expected regret of any consistent policy over rounds, for Bernoulli arms
// of equal value 1 with the rates given: Σ_i Δ_i / KL(p_i, p*) × ln T.
// Thompson sampling attains it asymptotically (Kaufmann, Korda and Munos,
// 2012); finite runs stay within a small factor of it.
func lowerBound(rates []float64, rounds int) float64 {
	best := 0.0
	for _, p := range rates {
		best = max(best, p)
	}
	kl := func(p, q float64) float64 { return p*math.Log(p/q) + (1-p)*math.Log((1-p)/(1-q)) }
	sum := 0.0
	for _, p := range rates {
		if p < best {
			sum += (best - p) / kl(p, best)
		}
	}
	return sum * math.Log(float64(rounds))
}

func single(rates, values []float64) []arm {
	var arms []arm
	for i, p := range rates {
		arms = append(arms, arm{id: fmt.Sprintf("offer-%d", i), value: values[i], rate: map[string]float64{"": p}})
	}
	return arms
}

// TestRegret plays 20,000 rounds against planted conversion rates and
// checks that Thompson sampling learns: its cumulative expected regret is
// a fraction of what uniform random choice loses, and, with equal values,
// below the Lai-Robbins figure Σ Δ_i/KL(p_i, p*) · ln T (for 6 offers at
// 0.02..0.12, Σ Δ/KL ≈ 21 and ln T ≈ 9.9, so ≈ 210, against 1,000 for
// uniform choice; over 30 other seeds the worst run lost 131); and that it
// shows the best offer in most of the last 2,000 rounds.
func TestRegret(t *testing.T) {
	const rounds = 20_000
	rates := []float64{0.02, 0.04, 0.06, 0.08, 0.10, 0.12}

	t.Run("equal values", func(t *testing.T) {
		values := []float64{1, 1, 1, 1, 1, 1}
		uniform := rounds * (0.12 - 0.07)
		bound := lowerBound(rates, rounds)
		for _, seed := range []uint64{1, 2, 3} {
			sim := play(t, single(rates, values), []string{""}, "", rounds, seed)
			t.Logf("seed %d: regret %.1f (bound %.1f, uniform %.0f), best in last %d rounds: %d; pulls %v",
				seed, sim.regret, bound, uniform, sim.late, sim.bestLate, sim.pulls)
			if sim.regret > bound || sim.regret > uniform/5 {
				t.Errorf("seed %d: regret %.1f, want at most %.1f (Lai-Robbins) and %.0f (a fifth of uniform)", seed, sim.regret, bound, uniform/5)
			}
			if sim.bestLate < sim.late*6/10 {
				t.Errorf("seed %d: the best offer was shown in %d of the last %d rounds, want 60%% or more", seed, sim.bestLate, sim.late)
			}
		}
	})

	// The best by rate (0.12) is not the best by expected value: 0.06 × 3
	// = 0.18 beats 0.12 × 1 and 0.10 × 1.5 = 0.15. Telling 0.18 from 0.15
	// takes longer: over 30 other seeds the worst run lost 464, under a
	// third of uniform choice's 1,567.
	t.Run("values differ", func(t *testing.T) {
		values := []float64{2, 1, 3, 1, 1.5, 1}
		evs := 0.0
		for i := range rates {
			evs += rates[i] * values[i]
		}
		uniform := rounds * (0.18 - evs/float64(len(rates)))
		for _, seed := range []uint64{1, 2, 3} {
			sim := play(t, single(rates, values), []string{""}, "", rounds, seed)
			t.Logf("seed %d: regret %.1f (uniform %.0f), best in last %d rounds: %d; pulls %v",
				seed, sim.regret, uniform, sim.late, sim.bestLate, sim.pulls)
			if sim.regret > uniform/3 {
				t.Errorf("seed %d: regret %.1f, want at most %.0f (a third of uniform)", seed, sim.regret, uniform/3)
			}
			if sim.bestLate < sim.late*8/10 {
				t.Errorf("seed %d: the best offer (offer-2) was shown in %d of the last %d rounds, want 80%% or more", seed, sim.bestLate, sim.late)
			}
		}
	})
}

// TestRegretContextual plants rates under which the best offer differs by
// segment. With a context expression the model keeps a posterior per
// segment and learns each segment's best; without one it pools them, and
// keeps showing the best on average to everyone, losing steadily in the
// segment where that offer is poor (≈ 930 over 20,000 rounds, against
// ≈ 33 with buckets; the worst of 20 other seeds lost 94).
func TestRegretContextual(t *testing.T) {
	const rounds = 20_000
	arms := []arm{
		{id: "renewal", value: 1, rate: map[string]float64{"gold": 0.15, "silver": 0.03}},
		{id: "addon", value: 1, rate: map[string]float64{"gold": 0.05, "silver": 0.12}},
		{id: "upgrade", value: 1, rate: map[string]float64{"gold": 0.08, "silver": 0.06}},
	}
	buckets := []string{"gold", "silver"}
	for _, seed := range []uint64{1, 2} {
		ctx := play(t, arms, buckets, "profile.traits.segment", rounds, seed)
		pooled := play(t, arms, buckets, "", rounds, seed)
		t.Logf("seed %d: contextual regret %.1f %v (best in last %d: %d), pooled %.1f %v (best in last %d: %d)",
			seed, ctx.regret, ctx.bucketRegret, ctx.late, ctx.bestLate, pooled.regret, pooled.bucketRegret, pooled.late, pooled.bestLate)
		if ctx.regret > pooled.regret/5 {
			t.Errorf("seed %d: contextual regret %.1f, want under a fifth of the pooled %.1f", seed, ctx.regret, pooled.regret)
		}
		// Each segment's best is learnt: ≈ half the rounds are silver, whose
		// best (addon) the pooled model rarely shows.
		if ctx.bestLate < ctx.late*85/100 {
			t.Errorf("seed %d: contextual: the segment's best was shown in %d of the last %d rounds, want 85%% or more", seed, ctx.bestLate, ctx.late)
		}
		if pooled.bestLate > pooled.late*7/10 {
			t.Errorf("seed %d: pooled: the segment's best was shown in %d of the last %d rounds; the test does not tell contexts apart", seed, pooled.bestLate, pooled.late)
		}
	}
}
