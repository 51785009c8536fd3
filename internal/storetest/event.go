package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/overture-cjo/overture/internal/core"
)

// testAppend: Append assigns increasing seqs, overwriting any the events
// carried, and ReadLog returns every field as it went in.
func testAppend(t *testing.T, s core.Store) {
	first := fullEvents()[:3]
	second := fullEvents()[3:]
	for _, e := range first {
		e.Seq = 999 // a stale value: Append must replace it
	}
	want := clone(fullEvents())
	appendEvents(t, s, first...)
	appendEvents(t, s, second...)
	all := append(slices.Clone(first), second...)
	for i, e := range all {
		if e.Seq <= 0 {
			t.Fatalf("event %d: seq %d after append, want > 0", i, e.Seq)
		}
		if i > 0 && e.Seq <= all[i-1].Seq {
			t.Fatalf("seqs not increasing: %v", seqsOf(all))
		}
		want[i].Seq = e.Seq
	}
	if err := s.Append(t.Context(), nil); err != nil {
		t.Fatalf("append no events: %v", err)
	}
	checkEvents(t, "read log", readLog(t, s, 0, 100), want)
}

// testReadLogPaging: ReadLog pages by afterSeq and limit across appends.
func testReadLogPaging(t *testing.T, s core.Store) {
	var all []*core.Event
	for i, n := range []int{4, 3, 3} {
		all = append(all, appendEvents(t, s, trackBatch(string(rune('a'+i)), n)...)...)
	}
	want := clone(all)
	var got []*core.Event
	after := int64(0)
	for pages := 0; ; pages++ {
		if pages > len(all) {
			t.Fatalf("paging does not end: %v", seqsOf(got))
		}
		page := readLog(t, s, after, 3)
		if len(page) > 3 {
			t.Fatalf("page after %d has %d events, limit 3", after, len(page))
		}
		if len(page) == 0 {
			break
		}
		got = append(got, page...)
		after = page[len(page)-1].Seq
	}
	checkEvents(t, "paged log", got, want)
	checkEvents(t, "after the 5th", readLog(t, s, all[4].Seq, 2), want[5:7])
	if page := readLog(t, s, all[len(all)-1].Seq, 5); len(page) != 0 {
		t.Errorf("read after the last event: seqs %v, want none", seqsOf(page))
	}
	if page := readLog(t, s, 0, 0); len(page) != 0 {
		t.Errorf("read with limit 0: seqs %v, want none", seqsOf(page))
	}
}

// testCheckpoint: the checkpoint starts at 0, keeps the last value saved,
// and reading after it returns what follows; appends go on after it.
func testCheckpoint(t *testing.T, s core.Store) {
	ctx := t.Context()
	cp, err := s.Checkpoint(ctx)
	if err != nil || cp != 0 {
		t.Fatalf("checkpoint of a new store = %d, %v; want 0", cp, err)
	}
	events := appendEvents(t, s, trackBatch("cp", 6)...)
	want := clone(events)
	save := func(seq int64) {
		t.Helper()
		if err := s.SaveCheckpoint(ctx, seq); err != nil {
			t.Fatalf("save checkpoint %d: %v", seq, err)
		}
		cp, err := s.Checkpoint(ctx)
		if err != nil || cp != seq {
			t.Fatalf("checkpoint = %d, %v; want %d", cp, err, seq)
		}
	}
	save(events[2].Seq)
	checkEvents(t, "after checkpoint", readLog(t, s, events[2].Seq, 100), want[3:])
	save(events[5].Seq)
	if page := readLog(t, s, events[5].Seq, 100); len(page) != 0 {
		t.Errorf("read after a checkpoint at the end: seqs %v, want none", seqsOf(page))
	}
	more := appendEvents(t, s, trackBatch("cp-more", 2)...)
	if more[0].Seq <= events[5].Seq {
		t.Errorf("seq after a checkpoint = %d, want > %d", more[0].Seq, events[5].Seq)
	}
	checkEvents(t, "appended after checkpoint", readLog(t, s, events[5].Seq, 100), clone(more))
}

// testQuarantine: items get increasing ids and page by afterID, every field
// kept.
func testQuarantine(t *testing.T, s core.Store) {
	ctx := t.Context()
	item := func(i int) *core.QuarantineItem {
		return &core.QuarantineItem{
			SourceID: "src_web", ReceivedAt: at(time.Duration(i) * time.Second), Index: i,
			Code: core.EINVALID, Field: "batch[" + string(rune('0'+i)) + "].type",
			Message: "type must be one of track, identify, page, screen, group, alias",
			Payload: `{"type":"bogus","messageId":"m` + string(rune('0'+i)) + `","properties":{"x":"<&>"}}`,
		}
	}
	var items []*core.QuarantineItem
	for _, n := range []int{3, 2} {
		var batch []*core.QuarantineItem
		for range n {
			batch = append(batch, item(len(items)+len(batch)))
		}
		if err := s.Quarantine(ctx, batch); err != nil {
			t.Fatalf("quarantine: %v", err)
		}
		items = append(items, batch...)
	}
	for i, it := range items {
		if it.ID <= 0 || i > 0 && it.ID <= items[i-1].ID {
			t.Fatalf("quarantine ids not increasing: item %d has id %d", i, it.ID)
		}
	}
	list := func(after int64, limit int) []*core.QuarantineItem {
		t.Helper()
		got, err := s.ListQuarantine(ctx, after, limit)
		if err != nil {
			t.Fatalf("list quarantine after %d: %v", after, err)
		}
		return got
	}
	var got []*core.QuarantineItem
	for after, pages := int64(0), 0; ; pages++ {
		if pages > len(items) {
			t.Fatalf("paging does not end: %d items so far", len(got))
		}
		page := list(after, 2)
		if len(page) > 2 {
			t.Fatalf("page of %d items, limit 2", len(page))
		}
		if len(page) == 0 {
			break
		}
		got = append(got, page...)
		after = page[len(page)-1].ID
	}
	if len(got) != len(items) {
		t.Fatalf("listed %d items, want %d", len(got), len(items))
	}
	for i := range got {
		g, w := *got[i], *items[i]
		if !g.ReceivedAt.Equal(w.ReceivedAt) {
			t.Errorf("item %d: received at %v, want %v", i, g.ReceivedAt, w.ReceivedAt)
		}
		g.ReceivedAt = w.ReceivedAt
		if g != w {
			t.Errorf("item %d:\n got %+v\nwant %+v", i, g, w)
		}
	}
	if page := list(items[1].ID, 2); len(page) != 2 || page[0].ID != items[2].ID {
		t.Errorf("list after item 1: %d items, want items 2 and 3", len(page))
	}
}

// testApplyBatchDedupe: a (source, messageId) applied at or after
// DedupeSince is dropped, within a batch and across batches; another source
// may reuse the messageId; an older entry lets the event in again.
func testApplyBatchDedupe(t *testing.T, s core.Store) {
	since := at(-time.Hour)
	batch := []*core.Event{
		track(1, "src_a", "m1", "p1", at(0)),
		track(2, "src_a", "m1", "p1", at(time.Second)), // repeated in the batch
		track(3, "src_b", "m1", "p1", at(0)),           // another source
		track(4, "src_a", "m2", "p1", at(0)),
	}
	fresh, dups := apply(t, s, since, batch, nil)
	if dups != 1 {
		t.Errorf("first batch: %d duplicates, want 1", dups)
	}
	checkSeqs(t, "first batch fresh", fresh, 1, 3, 4)

	fresh, dups = apply(t, s, since, []*core.Event{track(5, "src_a", "m1", "p1", at(time.Minute))}, nil)
	if dups != 1 || len(fresh) != 0 {
		t.Errorf("resent within the window: %d duplicates, fresh %v; want 1, none", dups, seqsOf(fresh))
	}

	// m1 was applied at t0, before the new window: it is accepted again...
	later := at(time.Hour)
	fresh, dups = apply(t, s, later, []*core.Event{track(6, "src_a", "m1", "p1", at(2*time.Hour))}, nil)
	if dups != 0 {
		t.Errorf("resent after the window: %d duplicates, want 0", dups)
	}
	checkSeqs(t, "resent after the window", fresh, 6)
	// ...and that application opens a new window.
	fresh, dups = apply(t, s, later, []*core.Event{track(7, "src_a", "m1", "p1", at(2*time.Hour+time.Minute))}, nil)
	if dups != 1 || len(fresh) != 0 {
		t.Errorf("resent again: %d duplicates, fresh %v; want 1, none", dups, seqsOf(fresh))
	}
	checkSeqs(t, "timeline", listEvents(t, s, "p1", 0, 100), 6, 4, 3, 1)
}

// testApplyBatchReplay: applying a batch again is a no-op; applied again
// once its dedupe entries are too old, its events are handed to fn but the
// timeline keeps one copy of each.
func testApplyBatchReplay(t *testing.T, s core.Store) {
	since := at(-time.Hour)
	var batch []*core.Event
	for i := range 5 {
		batch = append(batch, track(int64(10+i), "src_a", "replay-"+string(rune('a'+i)), "p1", at(time.Duration(i)*time.Second)))
	}
	p := profile("p1", 5)
	fresh, dups := apply(t, s, since, batch, &core.PartitionCommit{Profiles: []*core.Profile{p}})
	if dups != 0 || len(fresh) != 5 {
		t.Fatalf("first apply: %d duplicates, %d fresh; want 0, 5", dups, len(fresh))
	}
	want := clone(batch)
	slices.Reverse(want)
	checkEvents(t, "timeline", listEvents(t, s, "p1", 0, 100), want)

	fresh, dups = apply(t, s, since, batch, nil)
	if dups != 5 || len(fresh) != 0 {
		t.Errorf("replay: %d duplicates, fresh %v; want 5, none", dups, seqsOf(fresh))
	}
	checkEvents(t, "timeline after replay", listEvents(t, s, "p1", 0, 100), want)
	checkProfile(t, "profile after replay", getProfile(t, s, "p1"), p)

	fresh, dups = apply(t, s, at(time.Hour), batch, nil)
	if dups != 0 || len(fresh) != 5 {
		t.Errorf("replay after the window: %d duplicates, %d fresh; want 0, 5", dups, len(fresh))
	}
	checkEvents(t, "timeline after a late replay", listEvents(t, s, "p1", 0, 100), want)
}

// testApplyBatchRollback: when fn fails nothing of the batch is kept: no
// timeline rows, no dedupe entries.
func testApplyBatchRollback(t *testing.T, s core.Store) {
	since := at(-time.Hour)
	batch := []*core.Event{track(1, "src_a", "m1", "p1", at(0)), track(2, "src_a", "m2", "p1", at(0))}
	var seen []*core.Event
	_, err := s.ApplyBatch(t.Context(), &core.ApplyBatch{Events: batch, DedupeSince: since}, func(fresh []*core.Event) (*core.PartitionCommit, error) {
		seen = fresh
		return &core.PartitionCommit{Profiles: []*core.Profile{profile("p1", 2)}}, errBoom
	})
	if !errors.Is(err, errBoom) {
		t.Fatalf("apply with a failing fn: error %v, want %v", err, errBoom)
	}
	checkSeqs(t, "fn was given", seen, 1, 2)
	if got := listEvents(t, s, "p1", 0, 100); len(got) != 0 {
		t.Errorf("timeline after rollback: seqs %v, want none", seqsOf(got))
	}
	if got := loadProfiles(t, s, "p1"); len(got) != 0 {
		t.Errorf("profiles after rollback: %d, want none", len(got))
	}
	fresh, dups := apply(t, s, since, batch, nil)
	if dups != 0 {
		t.Errorf("apply after rollback: %d duplicates, want 0 (dedupe entries were kept)", dups)
	}
	checkSeqs(t, "apply after rollback", fresh, 1, 2)
}

// testPruneDedupe: pruning forgets entries first applied before the time
// given, and a forgotten event is accepted again.
func testPruneDedupe(t *testing.T, s core.Store) {
	since := at(-24 * time.Hour)
	apply(t, s, since, []*core.Event{
		track(1, "src_a", "m1", "p1", at(0)),
		track(2, "src_a", "m2", "p1", at(time.Hour)),
		track(3, "src_a", "m3", "p1", at(2*time.Hour)),
	}, nil)
	n, err := s.PruneDedupe(t.Context(), at(time.Hour))
	if err != nil || n != 1 {
		t.Fatalf("prune before +1h = %d, %v; want 1", n, err)
	}
	if n, err = s.PruneDedupe(t.Context(), at(time.Hour)); err != nil || n != 0 {
		t.Fatalf("prune again = %d, %v; want 0", n, err)
	}
	fresh, dups := apply(t, s, since, []*core.Event{
		track(4, "src_a", "m1", "p1", at(3*time.Hour)),
		track(5, "src_a", "m2", "p1", at(3*time.Hour)),
	}, nil)
	if dups != 1 {
		t.Errorf("after prune: %d duplicates, want 1", dups)
	}
	checkSeqs(t, "after prune", fresh, 4)
}

// testSeen: Seen reports exactly the keys applied within the window.
func testSeen(t *testing.T, s core.Store) {
	apply(t, s, at(-time.Hour), []*core.Event{
		track(1, "src_a", "m1", "p1", at(0)),
		track(2, "src_a", "m2\x00odd", "p1", at(time.Minute)),
		track(3, "src_b", "m3", "p1", at(2*time.Minute)),
	}, nil)
	keys := []core.MessageKey{
		{SourceID: "src_a", MessageID: "m1"}, {SourceID: "src_a", MessageID: "m2\x00odd"},
		{SourceID: "src_b", MessageID: "m3"}, {SourceID: "src_b", MessageID: "m1"}, {SourceID: "src_a", MessageID: "nope"},
	}
	got, err := s.Seen(context.Background(), keys, at(30*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	want := map[core.MessageKey]bool{keys[1]: true, keys[2]: true} // m1 is older than the window
	if len(got) != len(want) || !got[keys[1]] || !got[keys[2]] {
		t.Errorf("seen = %v, want %v", got, want)
	}
	if got, err := s.Seen(context.Background(), nil, at(0)); err != nil || len(got) != 0 {
		t.Errorf("seen of nothing = %v, %v", got, err)
	}
	many := make([]core.MessageKey, 1000)
	for i := range many {
		many[i] = core.MessageKey{SourceID: "src_a", MessageID: fmt.Sprintf("x%d", i)}
	}
	many[999] = keys[2]
	if got, err := s.Seen(context.Background(), many, at(0)); err != nil || len(got) != 1 || !got[keys[2]] {
		t.Errorf("seen among 1000 = %v, %v", got, err)
	}
}
