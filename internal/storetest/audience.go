package storetest

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/overture-cjo/overture/internal/core"
)

// testProfileEvents: ProfileEvents returns each profile's events stamped
// at or after since (inclusive), in Seq order whatever their timestamps,
// every field kept; profiles with none are missing; many ids at once.
func testProfileEvents(t *testing.T, s core.Store) {
	ev := func(seq int64, profileID string, ts time.Duration) *core.Event {
		e := track(seq, "src_a", fmt.Sprintf("m%d", seq), profileID, at(time.Hour))
		e.Timestamp = at(ts)
		return e
	}
	full := fullEvents()[4]
	full.Seq, full.ProfileID = 18, "pa"
	events := []*core.Event{
		ev(10, "pa", 0), // exactly since
		ev(11, "pb", 5*time.Minute),
		ev(12, "pa", 2*time.Minute),
		ev(13, "pc", -5*time.Minute), // pc has nothing since
		ev(14, "pa", time.Minute),    // earlier than 12, later in the log
		ev(16, "pa", -time.Nanosecond),
		full,
	}
	const bulk = 700 // more than one query's worth in stores that split id lists
	var bulkIDs []string
	for i := range bulk {
		id := fmt.Sprintf("bulk-%03d", i)
		bulkIDs = append(bulkIDs, id)
		events = append(events, ev(int64(100+i), id, time.Duration(i)*time.Second))
	}
	apply(t, s, at(-24*time.Hour), events, nil)
	want := clone(events)

	got := profileEvents(t, s, []string{"pa", "pb", "pc", "nobody", "pa"}, at(0)) // pa twice
	if !slices.Equal(slices.Sorted(maps.Keys(got)), []string{"pa", "pb"}) {
		t.Errorf("profile events since t0: profiles %v, want pa, pb", slices.Sorted(maps.Keys(got)))
	}
	checkEvents(t, "pa since t0", got["pa"], []*core.Event{want[0], want[2], want[4], want[6]})
	checkEvents(t, "pb since t0", got["pb"], want[1:2])

	got = profileEvents(t, s, []string{"pa", "pc"}, time.Time{})
	checkSeqs(t, "pa since the zero time", got["pa"], 10, 12, 14, 16, 18)
	checkSeqs(t, "pc since the zero time", got["pc"], 13)

	got = profileEvents(t, s, append(slices.Clone(bulkIDs), "pb"), at(0))
	if len(got) != bulk+1 {
		t.Errorf("profile events of %d profiles: %d in the map, want %d", bulk+1, len(got), bulk+1)
	}
	for i, id := range bulkIDs {
		if es := got[id]; len(es) != 1 || es[0].Seq != int64(100+i) || es[0].ProfileID != id {
			t.Errorf("events of %s: seqs %v, want %d", id, seqsOf(es), 100+i)
			break
		}
	}
	got = profileEvents(t, s, bulkIDs, at(bulk/2*time.Second))
	if len(got) != bulk/2 || got["bulk-349"] != nil || got["bulk-350"] == nil {
		t.Errorf("profile events of the bulk profiles since +%ds: %d profiles, want the %d from bulk-350", bulk/2, len(got), bulk/2)
	}
	if got := profileEvents(t, s, nil, time.Time{}); len(got) != 0 {
		t.Errorf("profile events of no profiles: %d", len(got))
	}
}

// testScanProfiles: ScanProfiles pages through live profiles (tombstones
// left out) in byte order of their ids, every field kept; CountProfiles
// counts them.
func testScanProfiles(t *testing.T, s core.Store) {
	ctx := t.Context()
	if got := scanProfiles(t, s, "", 10); len(got) != 0 {
		t.Errorf("scan an empty store: %d profiles", len(got))
	}
	if n := countProfiles(t, s); n != 0 {
		t.Errorf("count an empty store: %d", n)
	}
	// Byte order: "pB" < "pa" < "pab" < "pb" < "pé".
	live := []*core.Profile{profile("pB", 1), profile("pa", 2), profile("pb", 3), profile("pc", 4), profile("pd", 5), profile("p\u00e9", 6)}
	apply(t, s, at(-time.Hour), nil, &core.PartitionCommit{Profiles: []*core.Profile{
		live[3], tombstone("pab", "pa"), live[5], live[0], live[2], tombstone("pz", "pb"), live[4], live[1],
	}})
	got := scanProfiles(t, s, "", 100)
	if len(got) != len(live) {
		t.Fatalf("scan: ids %v, want %v", profileIDs(got), profileIDs(live))
	}
	for i := range got {
		checkProfile(t, "scanned "+live[i].ID, got[i], live[i])
	}

	var paged []*core.Profile
	after := ""
	for pages := 0; ; pages++ {
		if pages > len(live) {
			t.Fatalf("paging does not end: %v", profileIDs(paged))
		}
		page := scanProfiles(t, s, after, 2)
		if len(page) > 2 {
			t.Fatalf("page after %q has %d profiles, limit 2", after, len(page))
		}
		if len(page) == 0 {
			break
		}
		paged = append(paged, page...)
		after = page[len(page)-1].ID
	}
	if ids := profileIDs(paged); !slices.Equal(ids, profileIDs(live)) {
		t.Errorf("paged scan: %v, want %v", ids, profileIDs(live))
	}
	for _, tt := range []struct {
		after string
		limit int
		want  []string
	}{
		{"pb", 2, []string{"pc", "pd"}},
		{"pbb", 2, []string{"pc", "pd"}}, // no such profile
		{"pa", 1, []string{"pb"}},        // the tombstone pab is skipped
		{"pd", -1, []string{"p\u00e9"}},
		{"p\u00e9", 10, nil},
	} {
		if ids := profileIDs(scanProfiles(t, s, tt.after, tt.limit)); !slices.Equal(ids, tt.want) {
			t.Errorf("scan after %q, limit %d: %v, want %v", tt.after, tt.limit, ids, tt.want)
		}
	}
	if n := countProfiles(t, s); n != int64(len(live)) {
		t.Errorf("count = %d, want %d", n, len(live))
	}

	// A merge turns pb into a tombstone.
	apply(t, s, at(-time.Hour), nil, &core.PartitionCommit{
		Merges:   []core.Merge{{From: "pb", Into: "pa"}},
		Profiles: []*core.Profile{profile("pa", 9), tombstone("pb", "pa")},
	})
	if ids := profileIDs(scanProfiles(t, s, "", 100)); !slices.Equal(ids, []string{"pB", "pa", "pc", "pd", "p\u00e9"}) {
		t.Errorf("scan after merging pb: %v", ids)
	}
	if n := countProfiles(t, s); n != int64(len(live)-1) {
		t.Errorf("count after merging pb = %d, want %d", n, len(live)-1)
	}
	if _, err := s.EraseProfile(ctx, "pa"); err != nil {
		t.Fatalf("erase: %v", err)
	}
	if ids := profileIDs(scanProfiles(t, s, "", 100)); !slices.Equal(ids, []string{"pB", "pc", "pd", "p\u00e9"}) {
		t.Errorf("scan after erasing pa: %v", ids)
	}
}

// testDefinitions: SaveDefinition adds a version only when the source
// differs from the newest one, or when the definition was deleted;
// Definitions lists the newest version of each, by id, one kind at a
// time; DeleteDefinition marks one deleted.
func testDefinitions(t *testing.T, s core.Store) {
	ctx := t.Context()
	for _, kind := range []string{core.KindTrait, core.KindAudience} {
		if ds := definitions(t, s, kind); len(ds) != 0 {
			t.Errorf("%s definitions of an empty store: %s", kind, jsonOf(ds))
		}
	}
	srcA := "id: vip\nrule: orders_30d >= 3 # caf\u00e9\n"
	srcB := srcA + "# edited\n"
	version := func(kind, id, src string, v int, created time.Time, deleted bool) *core.DefinitionVersion {
		return &core.DefinitionVersion{Kind: kind, ID: id, Version: v, Source: src, Hash: sha256Hex(src), CreatedAt: created, Deleted: deleted}
	}
	save := func(kind, id, src string, now time.Time, want *core.DefinitionVersion, wantCreated bool) {
		t.Helper()
		v, created, err := s.SaveDefinition(ctx, kind, id, src, now)
		if err != nil {
			t.Fatalf("save %s %s: %v", kind, id, err)
		}
		if created != wantCreated {
			t.Errorf("save %s %s at %s: created = %v, want %v", kind, id, now.Format(time.RFC3339), created, wantCreated)
		}
		checkJSON(t, fmt.Sprintf("save %s %s at %s", kind, id, now.Format(time.RFC3339)), v, want)
	}
	aud, trait := core.KindAudience, core.KindTrait
	save(aud, "vip", srcA, at(0), version(aud, "vip", srcA, 1, at(0), false), true)
	save(aud, "vip", srcA, at(time.Minute), version(aud, "vip", srcA, 1, at(0), false), false) // unchanged
	save(trait, "vip", srcA, at(2*time.Minute), version(trait, "vip", srcA, 1, at(2*time.Minute), false), true)
	save(aud, "vip", srcB, at(3*time.Minute), version(aud, "vip", srcB, 2, at(3*time.Minute), false), true)
	save(aud, "churn", srcA, at(4*time.Minute), version(aud, "churn", srcA, 1, at(4*time.Minute), false), true)
	save(aud, "vip", srcA, at(5*time.Minute), version(aud, "vip", srcA, 3, at(5*time.Minute), false), true) // compared with the newest only
	checkJSON(t, "audiences", definitions(t, s, aud), []*core.DefinitionVersion{
		version(aud, "churn", srcA, 1, at(4*time.Minute), false),
		version(aud, "vip", srcA, 3, at(5*time.Minute), false),
	})
	checkJSON(t, "traits", definitions(t, s, trait), []*core.DefinitionVersion{version(trait, "vip", srcA, 1, at(2*time.Minute), false)})

	if err := s.DeleteDefinition(ctx, aud, "vip", at(6*time.Minute)); err != nil {
		t.Fatalf("delete audience vip: %v", err)
	}
	if err := s.DeleteDefinition(ctx, aud, "vip", at(7*time.Minute)); err != nil {
		t.Errorf("delete audience vip again: %v", err)
	}
	checkCode(t, "delete an unknown audience", s.DeleteDefinition(ctx, aud, "nobody", at(0)), core.ENOTFOUND, "id")
	checkCode(t, "delete an audience's id as a trait", s.DeleteDefinition(ctx, trait, "churn", at(0)), core.ENOTFOUND, "id")
	checkJSON(t, "audiences after deleting vip", definitions(t, s, aud), []*core.DefinitionVersion{
		version(aud, "churn", srcA, 1, at(4*time.Minute), false),
		version(aud, "vip", srcA, 3, at(5*time.Minute), true),
	})
	checkJSON(t, "traits after deleting audience vip", definitions(t, s, trait), []*core.DefinitionVersion{
		version(trait, "vip", srcA, 1, at(2*time.Minute), false),
	})

	// Saving the deleted definition, source unchanged, brings it back as a
	// new version.
	save(aud, "vip", srcA, at(8*time.Minute), version(aud, "vip", srcA, 4, at(8*time.Minute), false), true)
	save(aud, "vip", srcA, at(9*time.Minute), version(aud, "vip", srcA, 4, at(8*time.Minute), false), false)
	if err := s.DeleteDefinition(ctx, trait, "vip", at(10*time.Minute)); err != nil {
		t.Fatalf("delete trait vip: %v", err)
	}
	save(trait, "vip", srcB, at(11*time.Minute), version(trait, "vip", srcB, 2, at(11*time.Minute), false), true)
	checkJSON(t, "audiences at the end", definitions(t, s, aud), []*core.DefinitionVersion{
		version(aud, "churn", srcA, 1, at(4*time.Minute), false),
		version(aud, "vip", srcA, 4, at(8*time.Minute), false),
	})
	checkJSON(t, "traits at the end", definitions(t, s, trait), []*core.DefinitionVersion{
		version(trait, "vip", srcB, 2, at(11*time.Minute), false),
	})
}

// testAudienceMembers: ApplyBatch's Members upsert (entering, with Since)
// and delete (leaving) membership rows, the last change of a pair in one
// commit counting; AudienceMembers pages an audience by profile id and
// AudienceSizes counts the audiences that have members.
func testAudienceMembers(t *testing.T, s core.Store) {
	since := at(-time.Hour)
	if got := audienceMembers(t, s, "vip", "", 10); len(got) != 0 {
		t.Errorf("members of an empty store: %v", got)
	}
	if got := audienceSizes(t, s); len(got) != 0 {
		t.Errorf("sizes of an empty store: %v", got)
	}
	apply(t, s, since, nil, &core.PartitionCommit{Members: []core.MemberChange{
		enter("vip", "pc", 3*time.Minute), enter("vip", "pa", time.Minute), enter("vip", "pb", 2*time.Minute),
		enter("churn", "pa", 0),
		enter("vip", "pd", 0), leave("vip", "pd", time.Minute), // in and out: not a member
		leave("churn", "pz", 0), // was not a member
		leave("vip", "pe", 0), enter("vip", "pe", 4*time.Minute),
		enter("vip", "pf", 0), enter("vip", "pf", 5*time.Minute), // the last Since wins
	}})
	vip := []core.Member{member("pa", time.Minute), member("pb", 2*time.Minute), member("pc", 3*time.Minute),
		member("pe", 4*time.Minute), member("pf", 5*time.Minute)}
	checkJSON(t, "vip", audienceMembers(t, s, "vip", "", 10), vip)
	checkJSON(t, "churn", audienceMembers(t, s, "churn", "", 10), []core.Member{member("pa", 0)})
	checkJSON(t, "vip, first two", audienceMembers(t, s, "vip", "", 2), vip[:2])
	checkJSON(t, "vip after pb", audienceMembers(t, s, "vip", "pb", 2), vip[2:4])
	checkJSON(t, "vip after pbb", audienceMembers(t, s, "vip", "pbb", 2), vip[2:4])
	checkJSON(t, "vip, no limit", audienceMembers(t, s, "vip", "", -1), vip)
	if got := audienceMembers(t, s, "vip", "pf", 10); len(got) != 0 {
		t.Errorf("vip after the last: %v", got)
	}
	if got := audienceMembers(t, s, "nobody", "", 10); len(got) != 0 {
		t.Errorf("members of an unknown audience: %v", got)
	}
	checkSizes(t, "sizes", audienceSizes(t, s), map[string]int64{"vip": 5, "churn": 1})

	// pb leaves, pa enters again (a new Since), churn empties.
	apply(t, s, since, nil, &core.PartitionCommit{Members: []core.MemberChange{
		leave("vip", "pb", 6*time.Minute), enter("vip", "pa", 7*time.Minute), leave("churn", "pa", 7*time.Minute),
	}})
	checkJSON(t, "vip after changes", audienceMembers(t, s, "vip", "", 10),
		[]core.Member{member("pa", 7*time.Minute), vip[2], vip[3], vip[4]})
	if got := audienceMembers(t, s, "churn", "", 10); len(got) != 0 {
		t.Errorf("churn after its member left: %v", got)
	}
	checkSizes(t, "sizes after changes", audienceSizes(t, s), map[string]int64{"vip": 4})

	// Many rows at once, in and out.
	var in, out []core.MemberChange
	for i := range 150 {
		in = append(in, enter("bulk", fmt.Sprintf("p%03d", i), time.Duration(i)*time.Second))
		if i%2 == 0 || i >= 140 {
			out = append(out, leave("bulk", fmt.Sprintf("p%03d", i), time.Hour))
		}
	}
	apply(t, s, since, nil, &core.PartitionCommit{Members: in})
	checkSizes(t, "sizes after 150 entered", audienceSizes(t, s), map[string]int64{"vip": 4, "bulk": 150})
	apply(t, s, since, nil, &core.PartitionCommit{Members: out})
	var stayed []core.Member
	for i := 1; i < 140; i += 2 {
		stayed = append(stayed, member(fmt.Sprintf("p%03d", i), time.Duration(i)*time.Second))
	}
	checkJSON(t, "bulk after leaving", audienceMembers(t, s, "bulk", "", -1), stayed)
	checkSizes(t, "sizes at the end", audienceSizes(t, s), map[string]int64{"vip": 4, "bulk": int64(len(stayed))})
}

// testEmits: ApplyBatch stores Emits with increasing ids in the order
// given; PendingEmits returns them oldest first, every field as written;
// DeleteEmits forgets them, and ids are not reused.
func testEmits(t *testing.T, s core.Store) {
	ctx := t.Context()
	since := at(-time.Hour)
	if got := pendingEmits(t, s, 0, 10); len(got) != 0 {
		t.Errorf("emits of an empty store: %d", len(got))
	}
	entered := audienceEvent("vip", "pa", core.EventAudienceEntered, time.Minute)
	full := fullEvents()
	for i, e := range full {
		e.ProfileID = []string{"pa", "pb"}[i%2]
	}
	first := []*core.Event{entered, full[0], full[1]}
	second := append([]*core.Event{audienceEvent("vip", "pb", core.EventAudienceExited, 2*time.Minute)}, full[2:]...)
	apply(t, s, since, []*core.Event{track(1, "src_a", "m1", "pa", at(0))}, &core.PartitionCommit{
		Profiles: []*core.Profile{profile("pa", 1)}, Emits: first,
	})
	apply(t, s, since, nil, &core.PartitionCommit{Emits: second})
	want := clone(append(slices.Clone(first), second...))

	all := pendingEmits(t, s, 0, 100)
	checkEvents(t, "pending emits", emitEvents(all), want)
	checkEmitIDs(t, "pending emits", all)
	checkEvents(t, "emits after the second, limit 2", emitEvents(pendingEmits(t, s, all[1].ID, 2)), want[2:4])
	checkEvents(t, "emits, no limit", emitEvents(pendingEmits(t, s, 0, -1)), want)

	if err := s.DeleteEmits(ctx, []int64{all[0].ID, all[2].ID, 1 << 40}); err != nil {
		t.Fatalf("delete emits: %v", err)
	}
	if err := s.DeleteEmits(ctx, nil); err != nil {
		t.Fatalf("delete no emits: %v", err)
	}
	left := pendingEmits(t, s, 0, 100)
	checkEvents(t, "emits after deleting two", emitEvents(left), append([]*core.Event{want[1]}, want[3:]...))
	if left[0].ID != all[1].ID {
		t.Errorf("emit ids changed: %d, want %d", left[0].ID, all[1].ID)
	}

	// Many at once keep their order; ids go on increasing after deletions.
	var bulk []*core.Event
	for i := range 150 {
		bulk = append(bulk, audienceEvent(fmt.Sprintf("aud-%03d", i), "pc", core.EventAudienceRefreshed, time.Duration(i)*time.Second))
	}
	ids := make([]int64, len(all))
	for i, e := range all {
		ids[i] = e.ID
	}
	if err := s.DeleteEmits(ctx, ids); err != nil {
		t.Fatalf("delete emits: %v", err)
	}
	if got := pendingEmits(t, s, 0, 100); len(got) != 0 {
		t.Errorf("emits after deleting all: %d", len(got))
	}
	apply(t, s, since, nil, &core.PartitionCommit{Emits: bulk})
	got := pendingEmits(t, s, 0, -1)
	checkEvents(t, "bulk emits", emitEvents(got), clone(bulk))
	checkEmitIDs(t, "bulk emits", got)
	if len(got) > 0 && got[0].ID <= all[len(all)-1].ID {
		t.Errorf("first id after deleting all = %d, want more than the last deleted, %d", got[0].ID, all[len(all)-1].ID)
	}
}

// testAudienceMerge: a completed merge deletes From's memberships (the
// engine evaluates Into again), also those written by the same commit,
// and leaves Into's and its emits.
func testAudienceMerge(t *testing.T, s core.Store) {
	since := at(-time.Hour)
	apply(t, s, since, nil, &core.PartitionCommit{
		Profiles: []*core.Profile{profile("pa", 1), profile("pb", 1), profile("pc", 1)},
		Members: []core.MemberChange{
			enter("vip", "pa", 0), enter("vip", "pb", time.Minute), enter("churn", "pb", 0), enter("promo", "pc", 0),
		},
		Emits: []*core.Event{audienceEvent("vip", "pb", core.EventAudienceEntered, time.Minute)},
	})
	apply(t, s, since, nil, &core.PartitionCommit{
		Merges:   []core.Merge{{From: "pb", Into: "pa"}},
		Profiles: []*core.Profile{profile("pa", 2), tombstone("pb", "pa")},
		Members:  []core.MemberChange{enter("churn", "pa", time.Hour), enter("promo", "pb", time.Hour)},
	})
	checkJSON(t, "vip after the merge", audienceMembers(t, s, "vip", "", 10), []core.Member{member("pa", 0)})
	checkJSON(t, "churn after the merge", audienceMembers(t, s, "churn", "", 10), []core.Member{member("pa", time.Hour)})
	checkJSON(t, "promo after the merge", audienceMembers(t, s, "promo", "", 10), []core.Member{member("pc", 0)})
	checkSizes(t, "sizes after the merge", audienceSizes(t, s), map[string]int64{"vip": 1, "churn": 1, "promo": 1})
	if got := pendingEmits(t, s, 0, 10); len(got) != 1 {
		t.Errorf("emits after the merge: %d, want 1 (kept)", len(got))
	}
}

// testAudienceErase: erasing a profile deletes its memberships and
// pending emits and those of the profiles merged into it, and nothing
// else.
func testAudienceErase(t *testing.T, s core.Store) {
	since := at(-time.Hour)
	keep := audienceEvent("vip", "pz", core.EventAudienceEntered, 0)
	apply(t, s, since, nil, &core.PartitionCommit{
		Profiles: []*core.Profile{profile("pa", 1), tombstone("pb", "pa"), profile("pz", 1)},
		Members: []core.MemberChange{
			enter("vip", "pa", 0), enter("vip", "pb", 0), enter("vip", "pz", 0), enter("churn", "pb", 0),
		},
		Emits: []*core.Event{
			audienceEvent("vip", "pa", core.EventAudienceEntered, 0), keep, audienceEvent("churn", "pb", core.EventAudienceEntered, 0),
		},
	})
	if _, err := s.EraseProfile(t.Context(), "pa"); err != nil {
		t.Fatalf("erase: %v", err)
	}
	checkJSON(t, "vip after erasure", audienceMembers(t, s, "vip", "", 10), []core.Member{member("pz", 0)})
	checkSizes(t, "sizes after erasure", audienceSizes(t, s), map[string]int64{"vip": 1})
	checkEvents(t, "emits after erasure", emitEvents(pendingEmits(t, s, 0, 10)), clone([]*core.Event{keep}))
}

// testAudienceRollback: when fn fails, ApplyBatch writes neither the
// memberships nor the emits, and a later batch can.
func testAudienceRollback(t *testing.T, s core.Store) {
	e := audienceEvent("vip", "pa", core.EventAudienceEntered, 0)
	c := &core.PartitionCommit{
		Profiles: []*core.Profile{profile("pa", 1)},
		Members:  []core.MemberChange{enter("vip", "pa", 0)},
		Emits:    []*core.Event{e},
	}
	batch := func() *core.ApplyBatch {
		return &core.ApplyBatch{Events: []*core.Event{track(1, "src_a", "m1", "pa", at(0))}, DedupeSince: at(-time.Hour)}
	}
	_, err := s.ApplyBatch(t.Context(), batch(), func([]*core.Event) (*core.PartitionCommit, error) { return c, errBoom })
	if !errors.Is(err, errBoom) {
		t.Fatalf("apply batch whose fn fails: %v, want %v", err, errBoom)
	}
	if got := audienceSizes(t, s); len(got) != 0 {
		t.Errorf("sizes after a failed batch: %v", got)
	}
	if got := pendingEmits(t, s, 0, 10); len(got) != 0 {
		t.Errorf("emits after a failed batch: %d", len(got))
	}
	apply(t, s, at(-time.Hour), batch().Events, c)
	checkJSON(t, "vip after retrying", audienceMembers(t, s, "vip", "", 10), []core.Member{member("pa", 0)})
	checkEvents(t, "emits after retrying", emitEvents(pendingEmits(t, s, 0, 10)), clone([]*core.Event{e}))
}

// testRefreshes: SaveRefresh sets increasing ids; Refreshes lists one
// audience's, newest first, every field kept.
func testRefreshes(t *testing.T, s core.Store) {
	ctx := t.Context()
	if got := refreshes(t, s, "vip", 10); len(got) != 0 {
		t.Errorf("refreshes of an empty store: %s", jsonOf(got))
	}
	rs := []*core.Refresh{
		{Audience: "vip", Version: 1, Trigger: "start", StartedAt: at(0), FinishedAt: at(time.Second), Scanned: 1_000_000, Size: 3, Entered: 3},
		{Audience: "churn", Version: 2, Trigger: "schedule", StartedAt: at(time.Minute), FinishedAt: at(time.Minute + 1), Scanned: 10, Size: 0, Exited: 4},
		{Audience: "vip", Version: 2, Trigger: "api", StartedAt: at(time.Hour), FinishedAt: at(2 * time.Hour), Scanned: 1 << 40, Size: 2, Entered: 1, Exited: 2},
	}
	for i, r := range rs {
		if err := s.SaveRefresh(ctx, r); err != nil {
			t.Fatalf("save refresh %d: %v", i, err)
		}
		if r.ID <= 0 || i > 0 && r.ID <= rs[i-1].ID {
			t.Errorf("refresh %d: id %d, want positive and increasing", i, r.ID)
		}
	}
	checkJSON(t, "vip refreshes", refreshes(t, s, "vip", 10), []*core.Refresh{rs[2], rs[0]})
	checkJSON(t, "newest vip refresh", refreshes(t, s, "vip", 1), []*core.Refresh{rs[2]})
	checkJSON(t, "vip refreshes, no limit", refreshes(t, s, "vip", -1), []*core.Refresh{rs[2], rs[0]})
	checkJSON(t, "churn refreshes", refreshes(t, s, "churn", 10), []*core.Refresh{rs[1]})
	if got := refreshes(t, s, "nobody", 10); len(got) != 0 {
		t.Errorf("refreshes of an unknown audience: %s", jsonOf(got))
	}
}

func enter(audience, profileID string, since time.Duration) core.MemberChange {
	return core.MemberChange{Audience: audience, ProfileID: profileID, Member: true, Since: at(since)}
}

func leave(audience, profileID string, since time.Duration) core.MemberChange {
	return core.MemberChange{Audience: audience, ProfileID: profileID, Since: at(since)}
}

func member(profileID string, since time.Duration) core.Member {
	return core.Member{ProfileID: profileID, Since: at(since)}
}

// audienceEvent returns an event the engine emits about a profile and an
// audience.
func audienceEvent(audience, profileID, name string, d time.Duration) *core.Event {
	return &core.Event{
		SourceID: core.InternalSource, MessageID: fmt.Sprintf("%s:%s:%s:%d", name, audience, profileID, d), Type: core.TypeTrack,
		Event: name, Timestamp: at(d), ReceivedAt: at(d + time.Millisecond),
		Properties: json.RawMessage(`{"audience":"` + audience + `","entries":1}`), ProfileID: profileID,
	}
}

func emitEvents(es []*core.Emit) []*core.Event {
	out := make([]*core.Event, len(es))
	for i, e := range es {
		out[i] = e.Event
	}
	return out
}

func checkEmitIDs(t *testing.T, what string, es []*core.Emit) {
	t.Helper()
	for i, e := range es {
		if e.ID <= 0 || i > 0 && e.ID <= es[i-1].ID {
			t.Errorf("%s: ids %d, %d: want positive and increasing", what, es[max(i-1, 0)].ID, e.ID)
		}
	}
}

func checkSizes(t *testing.T, what string, got, want map[string]int64) {
	t.Helper()
	if !maps.Equal(got, want) {
		t.Errorf("%s = %v, want %v", what, got, want)
	}
}

func profileIDs(ps []*core.Profile) []string {
	var out []string
	for _, p := range ps {
		out = append(out, p.ID)
	}
	return out
}

func profileEvents(t *testing.T, s core.Store, ids []string, since time.Time) map[string][]*core.Event {
	t.Helper()
	m, err := s.ProfileEvents(t.Context(), ids, since)
	if err != nil {
		t.Fatalf("profile events: %v", err)
	}
	return m
}

func scanProfiles(t *testing.T, s core.Store, after string, limit int) []*core.Profile {
	t.Helper()
	ps, err := s.ScanProfiles(t.Context(), after, limit)
	if err != nil {
		t.Fatalf("scan profiles after %q: %v", after, err)
	}
	return ps
}

func countProfiles(t *testing.T, s core.Store) int64 {
	t.Helper()
	n, err := s.CountProfiles(t.Context())
	if err != nil {
		t.Fatalf("count profiles: %v", err)
	}
	return n
}

func definitions(t *testing.T, s core.Store, kind string) []*core.DefinitionVersion {
	t.Helper()
	ds, err := s.Definitions(t.Context(), kind)
	if err != nil {
		t.Fatalf("%s definitions: %v", kind, err)
	}
	return ds
}

func audienceMembers(t *testing.T, s core.Store, audience, after string, limit int) []core.Member {
	t.Helper()
	ms, err := s.AudienceMembers(t.Context(), audience, after, limit)
	if err != nil {
		t.Fatalf("members of %s after %q: %v", audience, after, err)
	}
	return ms
}

func audienceSizes(t *testing.T, s core.Store) map[string]int64 {
	t.Helper()
	m, err := s.AudienceSizes(t.Context())
	if err != nil {
		t.Fatalf("audience sizes: %v", err)
	}
	return m
}

func pendingEmits(t *testing.T, s core.Store, after int64, limit int) []*core.Emit {
	t.Helper()
	es, err := s.PendingEmits(t.Context(), after, limit)
	if err != nil {
		t.Fatalf("pending emits after %d: %v", after, err)
	}
	return es
}

func refreshes(t *testing.T, s core.Store, audience string, limit int) []*core.Refresh {
	t.Helper()
	rs, err := s.Refreshes(t.Context(), audience, limit)
	if err != nil {
		t.Fatalf("refreshes of %s: %v", audience, err)
	}
	return rs
}
