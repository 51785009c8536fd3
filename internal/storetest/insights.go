package storetest

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/overture-cjo/overture/internal/core"
)

func sampleInstances(t *testing.T, s core.Store, q core.InstanceSample) ([]core.SampledInstance, int64) {
	t.Helper()
	got, total, err := s.SampleInstances(t.Context(), q)
	if err != nil {
		t.Fatalf("sample instances %+v: %v", q, err)
	}
	return got, total
}

// sampledOf is what SampleInstances reads of in.
func sampledOf(in *core.Instance) core.SampledInstance {
	return core.SampledInstance{
		ID: in.ID, ProfileID: in.ProfileID, Version: in.Version, Trigger: in.Trigger, Holdout: in.Holdout,
		EnteredAt: in.EnteredAt, GoalAt: in.GoalAt, EndedAt: in.EndedAt, EndReason: in.EndReason,
	}
}

func sampledIDs(got []core.SampledInstance) []string {
	out := make([]string, len(got))
	for i, in := range got {
		out[i] = in.ID
	}
	return out
}

// testSampleInstances: the instances of one journey (and version) entered
// in [From, To) come back whole, sorted by id, with their count; a
// smaller Limit returns that many of them, the same ones on every call,
// spread over the whole entry order; merges move them with their
// profile.
func testSampleInstances(t *testing.T, s core.Store) {
	since := at(-time.Hour)
	if got, total := sampleInstances(t, s, core.InstanceSample{Journey: "cart"}); len(got) != 0 || total != 0 {
		t.Errorf("sample of an empty store: %d instances, total %d", len(got), total)
	}
	a := instance("cart:pa:1", "pa", at(0))
	a.Trigger = 41
	b := doneInstance("cart:pb:1", "pb", at(time.Minute))
	b.Trigger, b.EndReason, b.GoalAt = 42, "goal", at(2*time.Minute)
	c := instance("cart:pc:1", "pc", at(time.Hour))
	c.Version, c.GoalAt = 2, time.Time{}
	other := instance("other:pa:1", "pa", at(0))
	d := instance("cart:pd:2", "pd", at(-time.Minute))
	d.Holdout = true
	apply(t, s, since, nil, &core.PartitionCommit{Instances: []*core.Instance{a, b, c, other, d}})

	got, total := sampleInstances(t, s, core.InstanceSample{Journey: "cart"})
	checkJSON(t, "every instance of cart", got, []core.SampledInstance{sampledOf(a), sampledOf(b), sampledOf(c), sampledOf(d)})
	if total != 4 {
		t.Errorf("total of cart = %d, want 4", total)
	}
	got, total = sampleInstances(t, s, core.InstanceSample{Journey: "cart", Version: 2, Limit: 10})
	checkJSON(t, "version 2", got, []core.SampledInstance{sampledOf(c)})
	if total != 1 {
		t.Errorf("total of version 2 = %d, want 1", total)
	}
	got, total = sampleInstances(t, s, core.InstanceSample{Journey: "cart", From: at(0), To: at(time.Hour)})
	if ids := sampledIDs(got); !slices.Equal(ids, []string{"cart:pa:1", "cart:pb:1"}) || total != 2 {
		t.Errorf("entered in [t0, t0+1h): %v (total %d), want cart:pa:1, cart:pb:1", ids, total)
	}
	if got, total := sampleInstances(t, s, core.InstanceSample{Journey: "nope \x00"}); len(got) != 0 || total != 0 {
		t.Errorf("sample of an unknown journey: %d, total %d", len(got), total)
	}

	// A merge moves the instances to the survivor.
	apply(t, s, since, nil, &core.PartitionCommit{Merges: []core.Merge{{From: "pb", Into: "pa"}}})
	got, _ = sampleInstances(t, s, core.InstanceSample{Journey: "cart", Version: 1, From: at(time.Minute), To: at(2 * time.Minute)})
	if len(got) != 1 || got[0].ID != "cart:pb:1" || got[0].ProfileID != "pa" {
		t.Errorf("instance of a merged profile: %s, want cart:pb:1 under pa", jsonOf(got))
	}

	// 1,000 instances entered one second apart, written in a few batches:
	// a sample of 100 is 100 of them, the same twice, and spread over the
	// entry order (each tenth of it holds some).
	const n, k = 1000, 100
	for start := 0; start < n; start += 250 {
		var batch []*core.Instance
		for i := start; i < start+250; i++ {
			batch = append(batch, instance(fmt.Sprintf("big:p%04d:1", i), fmt.Sprintf("p%04d", i), at(time.Duration(i)*time.Second)))
		}
		apply(t, s, since, nil, &core.PartitionCommit{Instances: batch})
	}
	q := core.InstanceSample{Journey: "big", Limit: k}
	first, total := sampleInstances(t, s, q)
	if len(first) != k || total != n {
		t.Fatalf("sample of %d among %d: got %d, total %d", k, n, len(first), total)
	}
	if !slices.IsSortedFunc(first, func(a, b core.SampledInstance) int { return strings.Compare(a.ID, b.ID) }) {
		t.Errorf("sample not sorted by id: %v", sampledIDs(first))
	}
	if len(slices.Compact(sampledIDs(first))) != k {
		t.Errorf("sample has an instance twice: %v", sampledIDs(first))
	}
	again, _ := sampleInstances(t, s, q)
	if !slices.Equal(sampledIDs(first), sampledIDs(again)) {
		t.Errorf("two samples differ:\n%v\n%v", sampledIDs(first), sampledIDs(again))
	}
	var tenths [10]int
	for _, in := range first {
		tenths[int(in.EnteredAt.Sub(at(0))/time.Second)*10/n]++
	}
	for i, c := range tenths {
		if c < 3 || c > 20 {
			t.Errorf("sample of %d: %d from the %d. tenth of the entry order, want about %d (all: %v)", k, c, i+1, k/10, tenths)
		}
	}
	// A range and a limit together: the sample is drawn from the range.
	got, total = sampleInstances(t, s, core.InstanceSample{Journey: "big", From: at(500 * time.Second), Limit: 50})
	if len(got) != 50 || total != 500 {
		t.Errorf("sample of 50 from the last 500: %d, total %d", len(got), total)
	}
	for _, in := range got {
		if in.EnteredAt.Before(at(500 * time.Second)) {
			t.Errorf("sampled %s entered at %s, before the range", in.ID, in.EnteredAt)
		}
	}
}

func windowEvents(t *testing.T, s core.Store, windows []core.EventWindow) map[string][]core.TimelineEvent {
	t.Helper()
	got, err := s.WindowEvents(t.Context(), windows)
	if err != nil {
		t.Fatalf("window events: %v", err)
	}
	return got
}

// timelineSeqs returns the seqs of events.
func timelineSeqs(events []core.TimelineEvent) []int64 {
	out := make([]int64, len(events))
	for i, e := range events {
		out[i] = e.Seq
	}
	return out
}

// testWindowEvents: a window holds its profile's events from its first
// seq on, stamped up to its end (both inclusive), in seq order, at most
// its limit, with their labels (odd ones too) and timestamps; other
// profiles' events, and profiles with none, stay out.
func testWindowEvents(t *testing.T, s core.Store) {
	ev := func(seq int64, profileID, name string, ts time.Duration) *core.Event {
		e := track(seq, "src_a", fmt.Sprintf("m%d", seq), profileID, at(time.Hour))
		e.Event, e.Timestamp = name, at(ts)
		return e
	}
	full := fullEvents()
	ident, page := full[0], full[1]
	ident.Seq, ident.ProfileID = 15, "pa"
	page.Seq, page.ProfileID = 17, "pa"
	events := []*core.Event{
		ev(10, "pa", "Started", 0),
		ev(11, "pb", "Started", 0),
		ev(12, "pa", "document_upload", time.Minute),
		ev(13, "pa", "contact_center_call", 2*time.Minute),
		ev(14, "pa", "late \x00 é", 10*time.Minute), // after pa's window
		ident, // stamped before t0, inside by seq
		ev(16, "pc", "Started", 0),
		page,
		ev(19, "pa", strings.Repeat("long ", 300), 3*time.Minute), // 1,500 bytes: longer than an index row may be
	}
	const bulk = 1200 // more than one query's worth in stores that split the windows
	for i := range bulk {
		events = append(events, ev(int64(100+i), fmt.Sprintf("bulk-%04d", i), "Viewed", time.Duration(i)*time.Millisecond))
	}
	apply(t, s, at(-24*time.Hour), events, nil)

	windows := []core.EventWindow{
		{ProfileID: "pa", FromSeq: 12, Until: at(2 * time.Minute)},
		{ProfileID: "pb", FromSeq: 12, Until: at(time.Hour)}, // pb has nothing from seq 12
		{ProfileID: "nobody", FromSeq: 0, Until: at(time.Hour)},
	}
	got := windowEvents(t, s, windows)
	if keys := slices.Sorted(maps.Keys(got)); !slices.Equal(keys, []string{"pa"}) {
		t.Errorf("window events: profiles %v, want pa", keys)
	}
	want := []core.TimelineEvent{
		{Seq: 12, Label: "document_upload", Timestamp: at(time.Minute)},
		{Seq: 13, Label: "contact_center_call", Timestamp: at(2 * time.Minute)},
		{Seq: 15, Label: "identify", Timestamp: ident.Timestamp},
		{Seq: 17, Label: "page", Timestamp: page.Timestamp},
	}
	checkJSON(t, "pa's window", got["pa"], want)

	got = windowEvents(t, s, []core.EventWindow{{ProfileID: "pa", FromSeq: 14, Until: at(time.Hour)}})
	if seqs := timelineSeqs(got["pa"]); !slices.Equal(seqs, []int64{14, 15, 17, 19}) {
		t.Fatalf("pa from seq 14: seqs %v, want 14, 15, 17, 19", seqs)
	}
	if got["pa"][0].Label != "late \x00 é" || got["pa"][3].Label != strings.Repeat("long ", 300) {
		t.Errorf("odd labels = %q, %.20q…", got["pa"][0].Label, got["pa"][3].Label)
	}

	// Limits: the first events by seq, each window its own.
	got = windowEvents(t, s, []core.EventWindow{
		{ProfileID: "pa", FromSeq: 10, Until: at(time.Hour), Limit: 2},
		{ProfileID: "pb", FromSeq: 0, Until: at(time.Hour), Limit: 1},
		{ProfileID: "pc", FromSeq: 0, Until: at(time.Hour)},
	})
	if a, b, c := timelineSeqs(got["pa"]), timelineSeqs(got["pb"]), timelineSeqs(got["pc"]); !slices.Equal(a, []int64{10, 12}) ||
		!slices.Equal(b, []int64{11}) || !slices.Equal(c, []int64{16}) {
		t.Errorf("windows with limits: pa %v (want 10, 12), pb %v (want 11), pc %v (want 16)", a, b, c)
	}

	windows = nil
	for i := bulk - 1; i >= 0; i-- {
		windows = append(windows, core.EventWindow{ProfileID: fmt.Sprintf("bulk-%04d", i), Until: at(time.Duration(i) * time.Millisecond)})
	}
	got = windowEvents(t, s, windows)
	if len(got) != bulk {
		t.Errorf("%d windows: %d profiles with events, want %d", bulk, len(got), bulk)
	}
	for i := range bulk {
		id := fmt.Sprintf("bulk-%04d", i)
		if seqs := timelineSeqs(got[id]); !slices.Equal(seqs, []int64{int64(100 + i)}) {
			t.Errorf("window of %s: seqs %v, want %d", id, seqs, 100+i)
		}
	}
	if got := windowEvents(t, s, nil); len(got) != 0 {
		t.Errorf("no windows: %d profiles", len(got))
	}
}
