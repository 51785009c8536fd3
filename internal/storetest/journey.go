package storetest

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/overture-cjo/overture/internal/core"
)

// testJourneys: SaveJourney adds a version only when the source differs
// from the newest one; states change with SetJourneyState; Journeys lists
// everything by id, versions oldest first.
func testJourneys(t *testing.T, s core.Store) {
	ctx := t.Context()
	if js, err := s.Journeys(ctx); err != nil || len(js) != 0 {
		t.Fatalf("journeys of an empty store = %v, %v; want none", js, err)
	}
	srcA := "id: welcome\nname: Welcome \u00e9\nsteps: []\n"
	srcB := srcA + "# edited\n"
	srcC := "id: abandon\nsteps: []\n"
	save := func(id, src string, now time.Time, wantVersion int, wantCreated bool, wantAt time.Time) {
		t.Helper()
		v, created, err := s.SaveJourney(ctx, id, src, now)
		if err != nil {
			t.Fatalf("save %s: %v", id, err)
		}
		want := &core.JourneyVersion{ID: id, Version: wantVersion, Source: src, Hash: sha256Hex(src), CreatedAt: wantAt}
		if created != wantCreated {
			t.Errorf("save %s version %d: created = %v, want %v", id, wantVersion, created, wantCreated)
		}
		checkJSON(t, fmt.Sprintf("save %s at %s", id, now.Format(time.RFC3339)), v, want)
	}
	save("welcome", srcA, at(0), 1, true, at(0))
	save("welcome", srcA, at(time.Minute), 1, false, at(0)) // unchanged
	checkJSON(t, "after an unchanged save", journeys(t, s), []*core.JourneyRecord{
		{ID: "welcome", State: core.JourneyActive, UpdatedAt: at(0), Versions: []*core.JourneyVersion{
			{ID: "welcome", Version: 1, Source: srcA, Hash: sha256Hex(srcA), CreatedAt: at(0)},
		}},
	})
	save("welcome", srcB, at(2*time.Minute), 2, true, at(2*time.Minute))
	save("welcome", srcA, at(3*time.Minute), 3, true, at(3*time.Minute)) // compared with the newest only
	save("abandon", srcC, at(4*time.Minute), 1, true, at(4*time.Minute))

	if err := s.SetJourneyState(ctx, "welcome", core.JourneyPaused, at(5*time.Minute)); err != nil {
		t.Fatalf("pause welcome: %v", err)
	}
	checkCode(t, "set state of an unknown journey", s.SetJourneyState(ctx, "nobody", core.JourneyPaused, at(0)), core.ENOTFOUND, "id")

	checkJSON(t, "journeys", journeys(t, s), []*core.JourneyRecord{
		{ID: "abandon", State: core.JourneyActive, UpdatedAt: at(4 * time.Minute), Versions: []*core.JourneyVersion{
			{ID: "abandon", Version: 1, Source: srcC, Hash: sha256Hex(srcC), CreatedAt: at(4 * time.Minute)},
		}},
		{ID: "welcome", State: core.JourneyPaused, UpdatedAt: at(5 * time.Minute), Versions: []*core.JourneyVersion{
			{ID: "welcome", Version: 1, Source: srcA, Hash: sha256Hex(srcA), CreatedAt: at(0)},
			{ID: "welcome", Version: 2, Source: srcB, Hash: sha256Hex(srcB), CreatedAt: at(2 * time.Minute)},
			{ID: "welcome", Version: 3, Source: srcA, Hash: sha256Hex(srcA), CreatedAt: at(3 * time.Minute)},
		}},
	})
	// A new version keeps the state.
	save("welcome", srcB, at(6*time.Minute), 4, true, at(6*time.Minute))
	js := journeys(t, s)
	if len(js) != 2 || js[1].State != core.JourneyPaused || !js[1].UpdatedAt.Equal(at(6*time.Minute)) || len(js[1].Versions) != 4 {
		t.Errorf("welcome after version 4 = %+v, want paused, updated at +6m, 4 versions", js[1])
	}
}

// testInstances: ApplyBatch upserts instances by id (the last of an id
// listed twice wins); LoadInstances returns the active ones per profile,
// oldest first; InstancesOf returns all of a profile's, newest first.
func testInstances(t *testing.T, s core.Store) {
	since := at(-time.Hour)
	promo := instance("promo:pa:1", "pa", at(0))                           // ties welcome:pa:1 on entry; id decides
	w1 := instance("welcome:pa:1", "pa", at(0))                            // active, waiting
	w2 := instance("welcome:pa:2", "pa", at(2*time.Minute))                // active, no timer
	w2.Due, w2.Step, w2.Vars, w2.History = time.Time{}, "send_1", nil, nil // zero times and empty fields
	done := doneInstance("welcome:pa:3", "pa", at(time.Minute))
	pb := instance("welcome:pb:1", "pb", at(time.Hour))
	stale := instance("welcome:pb:1", "pb", at(time.Hour))
	stale.Step = "stale"
	apply(t, s, since, nil, &core.PartitionCommit{Instances: []*core.Instance{stale, w2, done, w1, pb, promo}})

	got := loadInstances(t, s, "pa", "pb", "nobody")
	if len(got) != 2 {
		t.Errorf("loaded instances of %d profiles, want 2 (pa, pb)", len(got))
	}
	checkJSON(t, "active instances of pa", got["pa"], []*core.Instance{promo, w1, w2})
	checkJSON(t, "instances of pb (listed twice)", got["pb"], []*core.Instance{pb})
	if got := loadInstances(t, s); len(got) != 0 {
		t.Errorf("load no profiles: %d", len(got))
	}

	checkJSON(t, "instances of pa", instancesOf(t, s, "pa", 10), []*core.Instance{w2, done, w1, promo})
	checkJSON(t, "newest two of pa", instancesOf(t, s, "pa", 2), []*core.Instance{w2, done})
	if got := instancesOf(t, s, "nobody", 10); len(got) != 0 {
		t.Errorf("instances of an unknown profile: %d", len(got))
	}

	// An update: w1 ends; promo moves on.
	w1b := doneInstance("welcome:pa:1", "pa", at(0))
	promo2 := instance("promo:pa:1", "pa", at(0))
	promo2.Step, promo2.Due, promo2.Steps = "wait_2", at(3*time.Hour), 7
	apply(t, s, since, nil, &core.PartitionCommit{Instances: []*core.Instance{w1b, promo2}})
	checkJSON(t, "active instances of pa after update", loadInstances(t, s, "pa")["pa"], []*core.Instance{promo2, w2})
	checkJSON(t, "instances of pa after update", instancesOf(t, s, "pa", -1), []*core.Instance{w2, done, w1b, promo2})
}

// testDueTimers: timers of active instances in (after, through], earliest
// first, then by instance id; done instances and instances without a timer
// have none.
func testDueTimers(t *testing.T, s core.Store) {
	since := at(-time.Hour)
	mk := func(id, profile string, due time.Duration) *core.Instance {
		in := instance(id, profile, at(0))
		in.Due = at(due)
		return in
	}
	noTimer := instance("j:pc:1", "pc", at(0))
	noTimer.Due = time.Time{}
	doneDue := doneInstance("j:pd:1", "pd", at(0))
	doneDue.Due = at(15 * time.Second) // a done instance's timer never fires
	apply(t, s, since, nil, &core.PartitionCommit{Instances: []*core.Instance{
		mk("j:pa:1", "pa", 10*time.Second), mk("j:pb:2", "pb", 20*time.Second), mk("j:pb:1", "pb", 20*time.Second),
		mk("j:pa:2", "pa", 30*time.Second), noTimer, doneDue,
	}})
	ref := func(id, profile string, due time.Duration) core.TimerRef {
		return core.TimerRef{InstanceID: id, ProfileID: profile, Due: at(due)}
	}
	all := []core.TimerRef{
		ref("j:pa:1", "pa", 10*time.Second), ref("j:pb:1", "pb", 20*time.Second),
		ref("j:pb:2", "pb", 20*time.Second), ref("j:pa:2", "pa", 30*time.Second),
	}
	for _, tt := range []struct {
		name           string
		after, through time.Time
		limit          int
		want           []core.TimerRef
	}{
		{"all", at(-time.Hour), at(time.Hour), 10, all},
		{"from the zero time", time.Time{}, at(time.Hour), 10, all},
		{"after is exclusive", at(10 * time.Second), at(20 * time.Second), 10, all[1:3]},
		{"through is inclusive", at(0), at(10 * time.Second), 10, all[:1]},
		{"limit", at(0), at(time.Hour), 2, all[:2]},
		{"none due", at(30 * time.Second), at(time.Hour), 10, nil},
		{"empty range", at(10 * time.Second), at(10 * time.Second), 10, nil},
	} {
		got, err := s.DueTimers(t.Context(), tt.after, tt.through, tt.limit)
		if err != nil {
			t.Fatalf("due timers %s: %v", tt.name, err)
		}
		checkTimers(t, tt.name, got, tt.want)
	}

	// Ending an instance, or clearing its timer, removes its timer.
	ended := doneInstance("j:pb:1", "pb", at(0))
	ended.Due = at(20 * time.Second)
	cleared := instance("j:pa:1", "pa", at(0))
	cleared.Due = time.Time{}
	apply(t, s, since, nil, &core.PartitionCommit{Instances: []*core.Instance{ended, cleared}})
	got, err := s.DueTimers(t.Context(), at(-time.Hour), at(time.Hour), 10)
	if err != nil {
		t.Fatalf("due timers: %v", err)
	}
	checkTimers(t, "after ending one and clearing one", got, []core.TimerRef{all[2], all[3]})
}

// testWaitingCounts: active instances counted by journey, version and
// step, in that order.
func testWaitingCounts(t *testing.T, s core.Store) {
	counts := func() []core.StepCount {
		t.Helper()
		c, err := s.WaitingCounts(t.Context())
		if err != nil {
			t.Fatalf("waiting counts: %v", err)
		}
		return c
	}
	if c := counts(); len(c) != 0 {
		t.Errorf("counts of an empty store = %v", c)
	}
	var ins []*core.Instance
	add := func(journey string, version int, step string, n int, status string) {
		for range n {
			id := fmt.Sprintf("%s:p%d:1", journey, len(ins))
			var in *core.Instance
			if status == core.InstanceDone {
				in = doneInstance(id, fmt.Sprintf("p%d", len(ins)), at(0))
			} else {
				in = instance(id, fmt.Sprintf("p%d", len(ins)), at(0))
				in.Step = step
			}
			in.JourneyID, in.Version = journey, version
			ins = append(ins, in)
		}
	}
	add("welcome", 2, "wait_1", 3, core.InstanceActive)
	add("welcome", 1, "wait_1", 2, core.InstanceActive)
	add("welcome", 1, "branch", 1, core.InstanceActive)
	add("abandon", 1, "wait_1", 1, core.InstanceActive)
	add("welcome", 1, "", 4, core.InstanceDone)
	apply(t, s, at(-time.Hour), nil, &core.PartitionCommit{Instances: ins})
	want := []core.StepCount{
		{JourneyID: "abandon", Version: 1, Step: "wait_1", Count: 1},
		{JourneyID: "welcome", Version: 1, Step: "branch", Count: 1},
		{JourneyID: "welcome", Version: 1, Step: "wait_1", Count: 2},
		{JourneyID: "welcome", Version: 2, Step: "wait_1", Count: 3},
	}
	if got := counts(); !slices.Equal(got, want) {
		t.Errorf("waiting counts = %v, want %v", got, want)
	}
}

// testJourneyMerge: a completed merge moves From's instances and outbox
// entries to Into.
func testJourneyMerge(t *testing.T, s core.Store) {
	since := at(-time.Hour)
	a := instance("welcome:pa:1", "pa", at(0))
	b := instance("promo:pb:1", "pb", at(time.Minute))
	b.Due = at(2 * time.Hour)
	bDone := doneInstance("welcome:pb:1", "pb", at(-time.Minute))
	c := instance("welcome:pc:1", "pc", at(0))
	apply(t, s, since, nil, &core.PartitionCommit{
		Instances: []*core.Instance{a, b, bDone, c},
		Outbox:    []*core.OutboxEntry{outboxEntry("promo:pb:1:1", "pb", at(0)), outboxEntry("welcome:pc:1:1", "pc", at(0))},
	})

	a2 := instance("welcome:pa:1", "pa", at(0))
	a2.Step = "send_2"
	apply(t, s, since, nil, &core.PartitionCommit{
		Merges:    []core.Merge{{From: "pb", Into: "pa"}},
		Instances: []*core.Instance{a2},
		Outbox:    []*core.OutboxEntry{outboxEntry("welcome:pa:1:3", "pa", at(time.Second))},
	})
	moved := func(in *core.Instance) *core.Instance {
		c := *in
		c.ProfileID = "pa"
		return &c
	}
	got := loadInstances(t, s, "pa", "pb")
	if len(got) != 1 {
		t.Errorf("instances after the merge: profiles %d, want pa only", len(got))
	}
	checkJSON(t, "active instances of the survivor", got["pa"], []*core.Instance{a2, moved(b)})
	checkJSON(t, "instances of the survivor", instancesOf(t, s, "pa", 10), []*core.Instance{moved(b), a2, moved(bDone)})
	if got := instancesOf(t, s, "pb", 10); len(got) != 0 {
		t.Errorf("instances of the merged profile: %s", jsonOf(got))
	}
	timers, err := s.DueTimers(t.Context(), at(0), at(25*time.Hour), 10)
	if err != nil {
		t.Fatalf("due timers: %v", err)
	}
	checkTimers(t, "timers after the merge", timers, []core.TimerRef{
		{InstanceID: "promo:pb:1", ProfileID: "pa", Due: at(2 * time.Hour)},
		{InstanceID: "welcome:pa:1", ProfileID: "pa", Due: at(24 * time.Hour)},
		{InstanceID: "welcome:pc:1", ProfileID: "pc", Due: at(24 * time.Hour)},
	})
	out := listOutbox(t, s, core.OutboxFilter{ProfileID: "pa", Limit: 10})
	if keys := outboxKeys(out); !slices.Equal(keys, []string{"promo:pb:1:1", "welcome:pa:1:3"}) {
		t.Errorf("outbox of the survivor: keys %v, want promo:pb:1:1, welcome:pa:1:3", keys)
	}
	for _, e := range out {
		if e.ProfileID != "pa" {
			t.Errorf("outbox entry %s is under %q, want pa", e.Key, e.ProfileID)
		}
	}
	if got := listOutbox(t, s, core.OutboxFilter{ProfileID: "pb", Limit: 10}); len(got) != 0 {
		t.Errorf("outbox of the merged profile: %s", jsonOf(got))
	}
	checkJSON(t, "untouched profile", loadInstances(t, s, "pc")["pc"], []*core.Instance{c})
}

// testJourneyErase: erasing a profile deletes its instances and outbox
// entries and those of the profiles merged into it, and nothing else.
func testJourneyErase(t *testing.T, s core.Store) {
	ctx := t.Context()
	since := at(-time.Hour)
	pz := instance("welcome:pz:1", "pz", at(0))
	pz.Due = at(time.Hour)
	apply(t, s, since, nil, &core.PartitionCommit{
		Profiles: []*core.Profile{profile("pa", 1), tombstone("pb", "pa"), profile("pz", 1)},
		Instances: []*core.Instance{
			instance("welcome:pa:1", "pa", at(0)), doneInstance("promo:pa:1", "pa", at(0)),
			instance("welcome:pb:1", "pb", at(0)), pz,
		},
		Outbox: []*core.OutboxEntry{
			outboxEntry("welcome:pa:1:1", "pa", at(0)), outboxEntry("welcome:pz:1:1", "pz", at(0)),
			outboxEntry("welcome:pb:1:1", "pb", at(0)),
		},
	})
	if _, err := s.EraseProfile(ctx, "pa"); err != nil {
		t.Fatalf("erase: %v", err)
	}
	if got := loadInstances(t, s, "pa", "pb"); len(got) != 0 {
		t.Errorf("active instances of erased profiles: %d profiles", len(got))
	}
	for _, id := range []string{"pa", "pb"} {
		if got := instancesOf(t, s, id, 10); len(got) != 0 {
			t.Errorf("instances of erased %s: %s", id, jsonOf(got))
		}
	}
	if keys := outboxKeys(listOutbox(t, s, core.OutboxFilter{Limit: 10})); !slices.Equal(keys, []string{"welcome:pz:1:1"}) {
		t.Errorf("outbox after erasure: keys %v, want only pz's", keys)
	}
	timers, err := s.DueTimers(ctx, at(-24*time.Hour), at(24*time.Hour), 10)
	if err != nil {
		t.Fatalf("due timers: %v", err)
	}
	checkTimers(t, "timers after erasure", timers, []core.TimerRef{{InstanceID: "welcome:pz:1", ProfileID: "pz", Due: at(time.Hour)}})
	counts, err := s.WaitingCounts(ctx)
	if err != nil {
		t.Fatalf("waiting counts: %v", err)
	}
	if want := []core.StepCount{{JourneyID: "welcome", Version: 1, Step: "wait_1", Count: 1}}; !slices.Equal(counts, want) {
		t.Errorf("waiting counts after erasure = %v, want %v", counts, want)
	}
	checkJSON(t, "untouched instance", loadInstances(t, s, "pz")["pz"], []*core.Instance{pz})
}

// testJourneyRollback: when fn fails, ApplyBatch writes none of the
// instances and outbox entries, and a later batch can write them.
func testJourneyRollback(t *testing.T, s core.Store) {
	in := instance("welcome:pa:1", "pa", at(0))
	e := outboxEntry("welcome:pa:1:1", "pa", at(0))
	_, err := s.ApplyBatch(t.Context(), &core.ApplyBatch{Events: []*core.Event{track(1, "src_a", "m1", "pa", at(0))}, DedupeSince: at(-time.Hour)},
		func([]*core.Event) (*core.PartitionCommit, error) {
			return &core.PartitionCommit{Instances: []*core.Instance{in}, Outbox: []*core.OutboxEntry{e}}, errBoom
		})
	if !errors.Is(err, errBoom) {
		t.Fatalf("apply batch whose fn fails: %v, want %v", err, errBoom)
	}
	if got := instancesOf(t, s, "pa", 10); len(got) != 0 {
		t.Errorf("instances after a failed batch: %s", jsonOf(got))
	}
	if got := listOutbox(t, s, core.OutboxFilter{Limit: 10}); len(got) != 0 {
		t.Errorf("outbox after a failed batch: %s", jsonOf(got))
	}
	// The outbox key was not taken.
	apply(t, s, at(-time.Hour), []*core.Event{track(1, "src_a", "m1", "pa", at(0))}, &core.PartitionCommit{
		Instances: []*core.Instance{in}, Outbox: []*core.OutboxEntry{e},
	})
	checkJSON(t, "instances after retrying", instancesOf(t, s, "pa", 10), []*core.Instance{in})
	if keys := outboxKeys(listOutbox(t, s, core.OutboxFilter{Limit: 10})); !slices.Equal(keys, []string{e.Key}) {
		t.Errorf("outbox after retrying: keys %v, want %s", keys, e.Key)
	}
}

// instance returns an active instance of journey "welcome" version 1
// waiting at wait_1 with every field set; its journey is the id's first
// part.
func instance(id, profileID string, entered time.Time) *core.Instance {
	journey, _, _ := strings.Cut(id, ":")
	return &core.Instance{
		ID: id, ProfileID: profileID, JourneyID: journey, Version: 1, Status: core.InstanceActive,
		Step: "wait_1", Due: entered.Add(24 * time.Hour), Holdout: len(id)%2 == 0,
		EnteredAt: entered, UpdatedAt: entered.Add(time.Second), GoalAt: entered.Add(time.Minute),
		Vars:  map[string]any{"cart": map[string]any{"total": 12.5, "items": []any{"a", "b"}}, "vip": true, "name": "Ada \u00e9", "none": nil},
		Steps: 2,
		History: []core.StepRecord{
			{At: entered, Step: "start", Kind: core.RecordEntered, Next: "send_1"},
			{At: entered.Add(time.Second), Step: "send_1", Kind: core.RecordSend, Detail: "email welcome", Next: "wait_1"},
			{At: entered.Add(time.Second), Step: "wait_1", Kind: core.RecordWait, Detail: "until tomorrow"},
		},
	}
}

// doneInstance returns an instance that ended.
func doneInstance(id, profileID string, entered time.Time) *core.Instance {
	in := instance(id, profileID, entered)
	in.Status, in.Step, in.Due = core.InstanceDone, "", time.Time{}
	in.EndedAt, in.EndReason = entered.Add(2*time.Hour), "completed"
	in.History = append(in.History, core.StepRecord{At: in.EndedAt, Step: "end", Kind: core.RecordExit, Detail: "completed"})
	return in
}

// outboxEntry returns an entry queued by the instance whose id is key's
// prefix.
func outboxEntry(key, profileID string, created time.Time) *core.OutboxEntry {
	instance := key[:strings.LastIndexByte(key, ':')]
	journey, _, _ := strings.Cut(instance, ":")
	return &core.OutboxEntry{
		Key: key, InstanceID: instance, ProfileID: profileID, JourneyID: journey, Version: 1,
		Step: "send_1", Channel: "email", Template: "welcome", CreatedAt: created, Status: core.OutboxQueued,
	}
}

// withIDs returns copies of want with the ids of got, in order.
func withIDs(got []*core.OutboxEntry, want ...*core.OutboxEntry) []*core.OutboxEntry {
	out := make([]*core.OutboxEntry, len(want))
	for i, w := range want {
		c := *w
		if i < len(got) {
			c.ID = got[i].ID
		}
		out[i] = &c
	}
	return out
}

func outboxKeys(es []*core.OutboxEntry) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.Key
	}
	return out
}

func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

func jsonOf(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprintf("%#v", v)
	}
	return string(b)
}

// checkJSON compares values by their JSON form, which holds every field
// (times to the nanosecond).
func checkJSON(t *testing.T, what string, got, want any) {
	t.Helper()
	if g, w := jsonOf(got), jsonOf(want); g != w {
		t.Errorf("%s:\n got %s\nwant %s", what, g, w)
	}
}

func checkTimers(t *testing.T, what string, got, want []core.TimerRef) {
	t.Helper()
	ok := len(got) == len(want)
	for i := 0; ok && i < len(got); i++ {
		ok = got[i].InstanceID == want[i].InstanceID && got[i].ProfileID == want[i].ProfileID && got[i].Due.Equal(want[i].Due) &&
			got[i].Due.Location() == time.UTC
	}
	if !ok {
		t.Errorf("%s: timers %v, want %v", what, got, want)
	}
}

func journeys(t *testing.T, s core.Store) []*core.JourneyRecord {
	t.Helper()
	js, err := s.Journeys(t.Context())
	if err != nil {
		t.Fatalf("journeys: %v", err)
	}
	return js
}

func loadInstances(t *testing.T, s core.Store, ids ...string) map[string][]*core.Instance {
	t.Helper()
	m, err := s.LoadInstances(t.Context(), ids)
	if err != nil {
		t.Fatalf("load instances: %v", err)
	}
	return m
}

func instancesOf(t *testing.T, s core.Store, profileID string, limit int) []*core.Instance {
	t.Helper()
	ins, err := s.InstancesOf(t.Context(), profileID, limit)
	if err != nil {
		t.Fatalf("instances of %s: %v", profileID, err)
	}
	return ins
}
