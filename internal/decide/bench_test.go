package decide

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

// BenchmarkRank50 ranks 50 offers for one customer, with a warm model.
// Every offer has its own simple eligibility condition (none is shared, so
// each is evaluated), half of them a context bucket (one expression,
// shared), and all explore.
func BenchmarkRank50(b *testing.B) {
	var srcs []string
	for i := range 50 {
		src := fmt.Sprintf("id: offer-%02d\ncategory: c\nvalue: %d\ncool_off: 3d\nmax_impressions: 5\n", i, 10+i)
		switch i % 3 {
		case 0:
			src += fmt.Sprintf("eligibility: 'profile.traits.plan == \"postpaid\" && profile.computed.tenure_months >= %d'\n", i)
		case 1:
			src += fmt.Sprintf("eligibility: 'has(profile.computed.data_overage_count_90d) && profile.computed.data_overage_count_90d >= %d'\n", i%3)
			src = strings.Replace(src, ">= 1'", fmt.Sprintf(">= 1 && context.page != \"p%d\"'", i), 1)
		case 2:
			src += fmt.Sprintf("eligibility: '\"postpaid\" in [profile.traits.plan, \"x%d\"]'\n", i)
		}
		if i%2 == 0 {
			src += "context: 'profile.traits.segment'\n"
		}
		srcs = append(srcs, src)
	}
	s := newSet(b, srcs...)
	m := NewModel()
	for i, o := range s.List() {
		m.Add(o.ID, "gold", int64(1000+i), int64(50+i))
		m.Add(o.ID, "", int64(1000+i), int64(40+i))
	}
	in := Input{
		Profile: benchProfile(),
		Context: map[string]any{"page": "usage"},
		Channel: "app",
		Now:     time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC),
		Seen:    map[string]Seen{"offer-03": {Impressions: 1, Last: time.Date(2025, 2, 1, 0, 0, 0, 0, time.UTC)}},
		Rand:    rand.New(rand.NewPCG(1, 2)),
	}
	if n := len(s.Rank(in, m)); n != 50 || s.eligSlots != 50 {
		b.Fatalf("%d ranked, %d distinct conditions", n, s.eligSlots)
	}
	for _, r := range s.Rank(in, m) {
		if !r.Eligible && r.Offer.ID != "offer-03" {
			b.Fatalf("%s: %s", r.Offer.ID, r.Reason)
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		if r := s.Rank(in, m); !r[0].Eligible {
			b.Fatal("nothing eligible")
		}
	}
}

// benchProfile returns a profile map of a realistic size: what
// core.ProfileMap gives for a customer with 20 traits, 20 event counts,
// consent on 3 channels, 2 audiences and 10 computed traits.
func benchProfile() map[string]any {
	traits := map[string]any{"plan": "postpaid", "segment": "gold", "email": "a@example.com"}
	counts := map[string]any{}
	computed := map[string]any{"data_overage_count_90d": int64(3), "tenure_months": int64(60)}
	for i := range 17 {
		traits[fmt.Sprintf("trait_%d", i)] = fmt.Sprintf("value %d", i)
	}
	for i := range 20 {
		counts[fmt.Sprintf("Event %d", i)] = int64(i)
	}
	for i := range 8 {
		computed[fmt.Sprintf("computed_%d", i)] = float64(i) / 3
	}
	at := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	return map[string]any{
		"id":        "p-123",
		"audiences": []any{"contract-ending", "vip"},
		"traits":    traits,
		"counts":    counts,
		"consent": map[string]any{
			"email": map[string]any{"granted": true, "at": at},
			"sms":   map[string]any{"granted": true, "at": at},
			"push":  map[string]any{"granted": false, "at": at},
		},
		"timezone":  "Europe/Paris",
		"firstSeen": at,
		"lastSeen":  at.Add(400 * 24 * time.Hour),
		"events":    int64(1234),
		"computed":  computed,
	}
}
