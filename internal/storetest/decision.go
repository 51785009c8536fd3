package storetest

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/overture-cjo/overture/internal/core"
)

func decision(key, profile string, t time.Time, outcome string) *core.Decision {
	return &core.Decision{ProfileID: profile, At: t, Key: key, InstanceID: "renewal:" + profile + ":1", JourneyID: "renewal",
		Version: 2, Step: "offer", Channel: "email", Category: "marketing", Offer: "discount-20", Outcome: outcome,
		Rule: "suppression:service_mutes_marketing", Reason: `held until the customer's instance of journey "bill-dispute" (category "service") ends`,
		Explain: []string{"email: stated preference", "sms 0.30 é"}}
}

func listDecisions(t *testing.T, s core.Store, profile string, before int64, limit int) []*core.Decision {
	t.Helper()
	ds, err := s.ListDecisions(t.Context(), profile, before, limit)
	if err != nil {
		t.Fatalf("list decisions: %v", err)
	}
	return ds
}

func decisionKeys(ds []*core.Decision) []string {
	var keys []string
	for _, d := range ds {
		keys = append(keys, d.Key)
	}
	return keys
}

// testDecisions: decisions are logged with the batch, a key already
// logged is skipped, they list newest first per profile with paging, they
// follow merges, erasure deletes them, and a failed batch logs none.
func testDecisions(t *testing.T, s core.Store) {
	ctx := t.Context()
	since := at(-time.Hour)
	if got := listDecisions(t, s, "pa", 0, 10); len(got) != 0 {
		t.Errorf("decisions of an empty store: %d", len(got))
	}
	d1 := decision("renewal:pa:1:1:1", "pa", at(0), core.OutcomeDelay)
	d1.Until = at(24 * time.Hour)
	d2 := decision("renewal:pa:1:1:2", "pa", at(time.Hour), core.OutcomeSend)
	d2.Rule, d2.Explain = "", nil
	db := decision("renewal:pb:1:1:1", "pb", at(0), core.OutcomeSuppress)
	dup := decision("renewal:pa:1:1:1", "pa", at(2*time.Hour), core.OutcomeSend)
	apply(t, s, since, nil, &core.PartitionCommit{Decisions: []*core.Decision{d1, db}})
	apply(t, s, since, nil, &core.PartitionCommit{Decisions: []*core.Decision{dup, d2}})

	got := listDecisions(t, s, "pa", 0, 10)
	if keys := decisionKeys(got); !slices.Equal(keys, []string{d2.Key, d1.Key}) {
		t.Fatalf("pa's decisions: %v, want %v newest first (the duplicate key skipped)", keys, []string{d2.Key, d1.Key})
	}
	for i, want := range []*core.Decision{d2, d1} {
		g := *got[i]
		if g.ID == 0 {
			t.Errorf("decision %s has no id", g.Key)
		}
		g.ID = 0
		if jsonOf(&g) != jsonOf(want) {
			t.Errorf("decision read back:\n%s\nwant\n%s", jsonOf(&g), jsonOf(want))
		}
	}
	if got[0].ID <= got[1].ID {
		t.Errorf("ids %d, %d: want the newer one higher", got[0].ID, got[1].ID)
	}
	if keys := decisionKeys(listDecisions(t, s, "pa", got[0].ID, 10)); !slices.Equal(keys, []string{d1.Key}) {
		t.Errorf("pa's decisions before %d: %v", got[0].ID, keys)
	}
	if keys := decisionKeys(listDecisions(t, s, "pa", 0, 1)); !slices.Equal(keys, []string{d2.Key}) {
		t.Errorf("pa's newest decision: %v", keys)
	}

	// Many at once keep their order.
	var bulk []*core.Decision
	for i := range 120 {
		bulk = append(bulk, decision(fmt.Sprintf("bulk:pc:%03d", i), "pc", at(time.Duration(i)*time.Second), core.OutcomeSend))
	}
	apply(t, s, since, nil, &core.PartitionCommit{Decisions: bulk})
	if got := listDecisions(t, s, "pc", 0, 200); len(got) != 120 || got[0].Key != "bulk:pc:119" || got[119].Key != "bulk:pc:000" {
		t.Errorf("bulk decisions: %d, first %v", len(got), decisionKeys(got[:min(3, len(got))]))
	}

	// A merge moves pb's decisions to pa.
	apply(t, s, since, nil, &core.PartitionCommit{
		Profiles: []*core.Profile{profile("pa", 1), tombstone("pb", "pa")},
		Merges:   []core.Merge{{From: "pb", Into: "pa"}},
	})
	if keys := decisionKeys(listDecisions(t, s, "pa", 0, 10)); !slices.Contains(keys, db.Key) || len(keys) != 3 {
		t.Errorf("pa's decisions after absorbing pb: %v", keys)
	}
	if got := listDecisions(t, s, "pb", 0, 10); len(got) != 0 {
		t.Errorf("pb's decisions after the merge: %v", decisionKeys(got))
	}

	// A failed batch logs nothing.
	_, err := s.ApplyBatch(ctx, &core.ApplyBatch{DedupeSince: since}, func([]*core.Event) (*core.PartitionCommit, error) {
		return nil, errBoom
	})
	if err == nil {
		t.Fatal("a failing callback did not fail the batch")
	}
	if _, err := s.EraseProfile(ctx, "pa"); err != nil {
		t.Fatalf("erase: %v", err)
	}
	if got := listDecisions(t, s, "pa", 0, 10); len(got) != 0 {
		t.Errorf("decisions of an erased profile: %v", decisionKeys(got))
	}
	if got := listDecisions(t, s, "pc", 0, 1); len(got) != 1 {
		t.Errorf("erasing pa took pc's decisions")
	}
}

// testModelStats: counter deltas add up across batches (several for one
// counter in one batch included), and a failed batch adds nothing.
func testModelStats(t *testing.T, s core.Store) {
	ctx := t.Context()
	since := at(-time.Hour)
	stats := func() []core.ModelStat {
		t.Helper()
		got, err := s.ModelStats(ctx)
		if err != nil {
			t.Fatalf("model stats: %v", err)
		}
		return got
	}
	if got := stats(); len(got) != 0 {
		t.Errorf("stats of an empty store: %v", got)
	}
	apply(t, s, since, nil, &core.PartitionCommit{Stats: []core.ModelStat{
		{Model: core.ModelOffer, Key: "discount-20", Bucket: "gold", Trials: 1},
		{Model: core.ModelOffer, Key: "discount-20", Bucket: "gold", Trials: 1, Successes: 1},
		{Model: core.ModelOffer, Key: "discount-20", Bucket: "", Trials: 3},
		{Model: core.ModelChannel, Key: "sms", Trials: 5, Successes: 2},
	}})
	apply(t, s, since, nil, &core.PartitionCommit{Stats: []core.ModelStat{
		{Model: core.ModelChannel, Key: "sms", Trials: 1, Successes: 1},
		{Model: core.ModelOffer, Key: "data-addon é", Bucket: "x", Trials: 0, Successes: 1},
	}})
	_, _ = s.ApplyBatch(ctx, &core.ApplyBatch{DedupeSince: since}, func([]*core.Event) (*core.PartitionCommit, error) {
		return nil, errBoom
	})
	want := []core.ModelStat{
		{Model: core.ModelChannel, Key: "sms", Trials: 6, Successes: 3},
		{Model: core.ModelOffer, Key: "data-addon é", Bucket: "x", Successes: 1},
		{Model: core.ModelOffer, Key: "discount-20", Bucket: "", Trials: 3},
		{Model: core.ModelOffer, Key: "discount-20", Bucket: "gold", Trials: 2, Successes: 1},
	}
	if got := stats(); jsonOf(got) != jsonOf(want) {
		t.Errorf("stats:\n%s\nwant\n%s", jsonOf(got), jsonOf(want))
	}
}
