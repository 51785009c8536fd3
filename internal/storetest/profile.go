package storetest

import (
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/overture-cjo/overture/internal/core"
)

// testProfiles: ApplyBatch upserts the profiles fn returns; LoadProfiles
// returns them (tombstones included) and GetProfile follows tombstones.
func testProfiles(t *testing.T, s core.Store) {
	since := at(-time.Hour)
	if got := loadProfiles(t, s); len(got) != 0 {
		t.Errorf("load no ids: %d profiles", len(got))
	}
	a, b := profile("pa", 3), profile("pb", 1)
	b.Traits = nil
	b.Consent = nil
	b.Timezone = nil
	apply(t, s, since, nil, &core.PartitionCommit{Profiles: []*core.Profile{a, b}})
	got := loadProfiles(t, s, "pa", "pb", "nobody")
	if len(got) != 2 {
		t.Fatalf("loaded %d profiles, want 2", len(got))
	}
	checkProfile(t, "load pa", got["pa"], a)
	checkProfile(t, "load pb", got["pb"], b)
	checkProfile(t, "get pa", getProfile(t, s, "pa"), a)

	// An update, a tombstone, and a profile listed twice (the last wins).
	a2 := profile("pa", 7)
	c := tombstone("pc", "pa")
	b2, b3 := profile("pb", 2), profile("pb", 4)
	apply(t, s, since, nil, &core.PartitionCommit{Profiles: []*core.Profile{a2, b2, c, b3}})
	got = loadProfiles(t, s, "pa", "pb", "pc")
	checkProfile(t, "updated pa", got["pa"], a2)
	checkProfile(t, "pb written twice", got["pb"], b3)
	checkProfile(t, "tombstone", got["pc"], c)
	checkProfile(t, "get through a tombstone", getProfile(t, s, "pc"), a2)

	_, err := s.GetProfile(t.Context(), "nobody")
	checkCode(t, "get unknown profile", err, core.ENOTFOUND, "id")
}

// testIdentities: bindings upsert; ops apply in order; lookups return only
// bound keys and IdentitiesOf sorts by kind, then value.
func testIdentities(t *testing.T, s core.Store) {
	ctx := t.Context()
	if got := lookup(t, s); len(got) != 0 {
		t.Errorf("lookup no keys: %v", got)
	}
	commitIdentities(t, s,
		bind(core.KindUserID, "u1", "pa"),
		bind(core.KindEmail, "ada@example.com", "pa"),
		bind(core.KindExternal, "crm:42", "pa"),
		bind(core.KindAnonymousID, "a2", "pb"),
		bind(core.KindAnonymousID, "a1", "pb"),
	)
	got := lookup(t, s, "user_id:u1", "email:ada@example.com", "external:crm:42", "anonymous_id:a1", "anonymous_id:a2", "user_id:nobody")
	want := map[string]string{
		"user_id:u1": "pa", "email:ada@example.com": "pa", "external:crm:42": "pa",
		"anonymous_id:a1": "pb", "anonymous_id:a2": "pb",
	}
	if !maps.Equal(got, want) {
		t.Errorf("lookup = %v, want %v", got, want)
	}
	of, err := s.IdentitiesOf(ctx, []string{"pa", "pb", "nobody"})
	if err != nil {
		t.Fatalf("identities of: %v", err)
	}
	wantOf := map[string][]core.Identifier{
		"pa": {{Kind: core.KindEmail, Value: "ada@example.com"}, {Kind: core.KindExternal, Value: "crm:42"}, {Kind: core.KindUserID, Value: "u1"}},
		"pb": {{Kind: core.KindAnonymousID, Value: "a1"}, {Kind: core.KindAnonymousID, Value: "a2"}},
	}
	if !maps.EqualFunc(of, wantOf, slices.Equal) {
		t.Errorf("identities of = %v, want %v", of, wantOf)
	}

	// Rebinding moves a key; in one call, a bind then a merge carries the
	// new key along.
	commitIdentities(t, s,
		bind(core.KindAnonymousID, "a1", "pa"),
		bind(core.KindPhone, "+33612345678", "pc"),
		merge("pc", "pd"),
	)
	got = lookup(t, s, "anonymous_id:a1", "phone:+33612345678")
	if got["anonymous_id:a1"] != "pa" || got["phone:+33612345678"] != "pd" {
		t.Errorf("after rebind and merge: %v, want a1 on pa, the phone on pd", got)
	}
	if m := pendingMerges(t, s); !slices.Equal(m, []core.Merge{{From: "pc", Into: "pd"}}) {
		t.Errorf("pending merges = %v, want pc into pd", m)
	}

	// One key bound twice in one call: the later binding wins, also when
	// the two are separated by other bindings or by a merge.
	commitIdentities(t, s,
		bind(core.KindUserID, "twice", "pe"),
		bind(core.KindUserID, "other", "pe"),
		bind(core.KindUserID, "twice", "pf"),
		bind(core.KindUserID, "thrice", "pg"),
		merge("px", "py"),
		bind(core.KindUserID, "thrice", "ph"),
	)
	got = lookup(t, s, "user_id:twice", "user_id:other", "user_id:thrice")
	if want := map[string]string{"user_id:twice": "pf", "user_id:other": "pe", "user_id:thrice": "ph"}; !maps.Equal(got, want) {
		t.Errorf("repeated bindings in one call: %v, want %v", got, want)
	}
}

// testMerge: a merge recorded by CommitIdentities repoints identifiers and
// stays pending until ApplyBatch completes it, which moves the timeline,
// forwards older tombstones and clears the pending merge.
func testMerge(t *testing.T, s core.Store) {
	since := at(-time.Hour)
	commitIdentities(t, s, bind(core.KindUserID, "u1", "pa"), bind(core.KindAnonymousID, "a1", "pb"))
	events := []*core.Event{
		track(1, "src_a", "m1", "pa", at(0)),
		track(2, "src_a", "m2", "pb", at(time.Second)),
		track(3, "src_a", "m3", "pb", at(2*time.Second)),
		track(4, "src_a", "m4", "pa", at(3*time.Second)),
	}
	apply(t, s, since, events, &core.PartitionCommit{Profiles: []*core.Profile{
		profile("pa", 2), profile("pb", 2), tombstone("pc", "pb"),
	}})

	commitIdentities(t, s, merge("pb", "pa"))
	got := lookup(t, s, "user_id:u1", "anonymous_id:a1")
	if got["user_id:u1"] != "pa" || got["anonymous_id:a1"] != "pa" {
		t.Errorf("identities after merge = %v, want both on pa", got)
	}
	of, err := s.IdentitiesOf(t.Context(), []string{"pa", "pb"})
	if err != nil {
		t.Fatalf("identities of: %v", err)
	}
	if len(of["pa"]) != 2 || len(of["pb"]) != 0 {
		t.Errorf("identities of after merge = %v, want two on pa, none on pb", of)
	}
	if m := pendingMerges(t, s); !slices.Equal(m, []core.Merge{{From: "pb", Into: "pa"}}) {
		t.Fatalf("pending merges = %v, want pb into pa", m)
	}

	survivor := profile("pa", 5)
	survivor.Merged = []string{"pb", "pc"}
	apply(t, s, since, []*core.Event{track(5, "src_a", "m5", "pa", at(4*time.Second))}, &core.PartitionCommit{
		Merges:   []core.Merge{{From: "pb", Into: "pa"}},
		Profiles: []*core.Profile{survivor, tombstone("pb", "pa")},
	})
	timeline := listEvents(t, s, "pa", 0, 100)
	checkSeqs(t, "survivor's timeline", timeline, 5, 4, 3, 2, 1)
	for _, e := range timeline {
		if e.ProfileID != "pa" {
			t.Errorf("event %d is under %q, want pa", e.Seq, e.ProfileID)
		}
	}
	if got := listEvents(t, s, "pb", 0, 100); len(got) != 0 {
		t.Errorf("merged profile's timeline: seqs %v, want none", seqsOf(got))
	}
	if m := pendingMerges(t, s); len(m) != 0 {
		t.Errorf("pending merges after apply = %v, want none", m)
	}
	checkProfile(t, "get merged profile", getProfile(t, s, "pb"), survivor)
	checkProfile(t, "get forwarded tombstone", getProfile(t, s, "pc"), survivor)
	if got := loadProfiles(t, s, "pc")["pc"]; got == nil || got.MergedInto != "pa" {
		t.Errorf("loaded forwarded tombstone pc: %+v, want MergedInto pa", got)
	}

	// Both tombstones now forward to the survivor, so erasing it finds them.
	er, err := s.EraseProfile(t.Context(), "pa")
	if err != nil {
		t.Fatalf("erase survivor: %v", err)
	}
	if !slices.Equal(slices.Sorted(slices.Values(er.Profiles)), []string{"pa", "pb", "pc"}) || er.Events != 5 || er.Identifiers != 2 {
		t.Errorf("erase survivor = %+v, want profiles pa, pb, pc, 2 identifiers, 5 events", er)
	}
}

// testListEvents: a profile's timeline, newest first, paged by beforeSeq,
// every field kept.
func testListEvents(t *testing.T, s core.Store) {
	var events []*core.Event
	for i := range 7 {
		pid := "pa"
		if i%3 == 1 {
			pid = "pb"
		}
		events = append(events, track(int64(10+2*i), "src_a", "m"+string(rune('a'+i)), pid, at(time.Duration(i)*time.Minute)))
	}
	full := fullEvents()[0]
	full.Seq, full.ProfileID = 30, "pa"
	events = append(events, full)
	apply(t, s, at(-time.Hour), events, nil)
	// pa holds seqs 10, 14, 16, 20, 22 and 30; pb holds 12 and 18.
	byPage := [][]int64{{30, 22}, {20, 16}, {14, 10}, {}}
	before := int64(0)
	for _, want := range byPage {
		page := listEvents(t, s, "pa", before, 2)
		checkSeqs(t, fmt.Sprintf("pa before %d", before), page, want...)
		if len(page) == 0 {
			break
		}
		before = page[len(page)-1].Seq
	}
	checkEvents(t, "newest of pa", listEvents(t, s, "pa", 0, 1), clone([]*core.Event{full}))
	checkEvents(t, "pb", listEvents(t, s, "pb", 0, 10), clone([]*core.Event{events[4], events[1]}))
	checkSeqs(t, "pa before 17", listEvents(t, s, "pa", 17, 10), 16, 14, 10)
	if got := listEvents(t, s, "nobody", 0, 10); len(got) != 0 {
		t.Errorf("unknown profile: seqs %v, want none", seqsOf(got))
	}
}

// testEraseProfile: erasure deletes the profile, the tombstones merged into
// it, their identifiers, timelines and pending merges, and nothing else.
func testEraseProfile(t *testing.T, s core.Store) {
	ctx := t.Context()
	since := at(-time.Hour)
	commitIdentities(t, s,
		bind(core.KindUserID, "u1", "pa"),
		bind(core.KindEmail, "ada@example.com", "pa"),
		bind(core.KindAnonymousID, "a3", "pb"), // left on the tombstone
		bind(core.KindUserID, "u9", "pz"),
		merge("px", "pa"), // pending
	)
	apply(t, s, since, []*core.Event{
		track(1, "src_a", "m1", "pa", at(0)),
		track(2, "src_a", "m2", "pa", at(0)),
		track(3, "src_a", "m3", "pb", at(0)),
		track(9, "src_a", "m9", "pz", at(0)),
	}, &core.PartitionCommit{Profiles: []*core.Profile{
		profile("pa", 2), tombstone("pb", "pa"), profile("pz", 1),
	}})

	er, err := s.EraseProfile(ctx, "pa")
	if err != nil {
		t.Fatalf("erase: %v", err)
	}
	if len(er.Profiles) == 0 || er.Profiles[0] != "pa" || !slices.Equal(slices.Sorted(slices.Values(er.Profiles)), []string{"pa", "pb"}) {
		t.Errorf("erased profiles = %v, want pa then pb", er.Profiles)
	}
	if er.Identifiers != 3 || er.Events != 3 {
		t.Errorf("erased %d identifiers and %d events, want 3 and 3", er.Identifiers, er.Events)
	}
	for _, id := range []string{"pa", "pb"} {
		_, err := s.GetProfile(ctx, id)
		checkCode(t, "get erased "+id, err, core.ENOTFOUND, "id")
		if got := listEvents(t, s, id, 0, 10); len(got) != 0 {
			t.Errorf("timeline of erased %s: seqs %v", id, seqsOf(got))
		}
	}
	if got := loadProfiles(t, s, "pa", "pb"); len(got) != 0 {
		t.Errorf("load erased profiles: %d found", len(got))
	}
	if got := lookup(t, s, "user_id:u1", "email:ada@example.com", "anonymous_id:a3"); len(got) != 0 {
		t.Errorf("erased identifiers still bound: %v", got)
	}
	if m := pendingMerges(t, s); len(m) != 0 {
		t.Errorf("pending merges after erasure = %v, want none", m)
	}

	checkProfile(t, "untouched profile", getProfile(t, s, "pz"), profile("pz", 1))
	checkSeqs(t, "untouched timeline", listEvents(t, s, "pz", 0, 10), 9)
	if got := lookup(t, s, "user_id:u9"); got["user_id:u9"] != "pz" {
		t.Errorf("untouched identifier: %v", got)
	}

	_, err = s.EraseProfile(ctx, "pa")
	checkCode(t, "erase twice", err, core.ENOTFOUND, "id")
	_, err = s.EraseProfile(ctx, "nobody")
	checkCode(t, "erase unknown", err, core.ENOTFOUND, "id")
}
