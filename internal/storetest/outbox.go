package storetest

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/overture-cjo/overture/internal/core"
)

// testOutbox: an entry is queued once per key, whatever batch repeats it;
// ids increase in the order given; ListOutbox pages all, one profile's, or
// one status's.
func testOutbox(t *testing.T, s core.Store) {
	since := at(-time.Hour)
	e1 := outboxEntry("welcome:pa:1:2", "pa", at(0))
	e1.Offer, e1.Vars, e1.EventSeq = "SPRING10", `{"cart":{"total":12.5},"name":"Ada \u00e9"}`, 42
	e2 := outboxEntry("welcome:pb:1:2", "pb", at(time.Second))
	e3 := outboxEntry("welcome:pa:1:5", "pa", at(2*time.Second))
	dup := outboxEntry("welcome:pa:1:2", "pa", at(3*time.Second))
	dup.Template = "replayed"
	apply(t, s, since, nil, &core.PartitionCommit{Outbox: []*core.OutboxEntry{e1, e2, dup, e3}})
	e4 := outboxEntry("promo:pa:1:1", "pa", at(4*time.Second))
	apply(t, s, since, nil, &core.PartitionCommit{Outbox: []*core.OutboxEntry{dup, e4, e2}})

	all := listOutbox(t, s, core.OutboxFilter{Limit: 10})
	if len(all) != 4 {
		t.Fatalf("outbox holds %d entries, want 4: %s", len(all), jsonOf(all))
	}
	for i, e := range all {
		if e.ID <= 0 || i > 0 && e.ID <= all[i-1].ID {
			t.Errorf("outbox ids %d, %d: want positive and increasing", all[max(i-1, 0)].ID, e.ID)
		}
	}
	want := withIDs(all, e1, e2, e3, e4)
	checkJSON(t, "outbox", all, want)
	checkJSON(t, "outbox, no limit", listOutbox(t, s, core.OutboxFilter{Limit: -1}), want)
	checkJSON(t, "outbox of pa", listOutbox(t, s, core.OutboxFilter{ProfileID: "pa", Limit: 10}), []*core.OutboxEntry{want[0], want[2], want[3]})
	checkJSON(t, "outbox of pa after the first, limit 1", listOutbox(t, s, core.OutboxFilter{ProfileID: "pa", AfterID: want[0].ID, Limit: 1}), want[2:3])
	checkJSON(t, "outbox after the second, limit 2", listOutbox(t, s, core.OutboxFilter{AfterID: want[1].ID, Limit: 2}), want[2:4])
	checkJSON(t, "queued", listOutbox(t, s, core.OutboxFilter{Status: core.OutboxQueued, Limit: 10}), want)
	if got := listOutbox(t, s, core.OutboxFilter{Status: core.OutboxDead, Limit: 10}); len(got) != 0 {
		t.Errorf("dead letters before any attempt: %s", jsonOf(got))
	}
	if got := listOutbox(t, s, core.OutboxFilter{ProfileID: "nobody", Limit: 10}); len(got) != 0 {
		t.Errorf("outbox of an unknown profile: %s", jsonOf(got))
	}
}

// testOutboxDelivery walks messages through their states: claims are per
// channel, oldest first, and exclusive; a retrying message is not due
// before its NextAt; sent and dead ones are never claimed again; attempts
// are logged in order; a dead letter is re-driven with its count reset;
// ReleaseOutbox hands back one owner's claims.
func testOutboxDelivery(t *testing.T, s core.Store) {
	ctx := t.Context()
	var queued []*core.OutboxEntry
	for i := range 5 {
		e := outboxEntry(fmt.Sprintf("welcome:p%d:1:2", i), fmt.Sprintf("p%d", i), at(time.Duration(i)*time.Second))
		if i == 4 {
			e.Channel = "sms"
		}
		queued = append(queued, e)
	}
	apply(t, s, at(-time.Hour), nil, &core.PartitionCommit{Outbox: queued})
	all := listOutbox(t, s, core.OutboxFilter{Limit: 10})
	ids := make([]int64, len(all))
	for i, e := range all {
		ids[i] = e.ID
	}
	claim := func(owner string, now time.Duration, limit int, channels ...string) []int64 {
		t.Helper()
		got, err := s.ClaimOutbox(ctx, core.OutboxClaim{Channels: channels, Owner: owner, Now: at(now), Until: at(now + 24*time.Hour), Limit: limit})
		if err != nil {
			t.Fatalf("claim: %v", err)
		}
		var out []int64
		for _, e := range got {
			if e.Status != core.OutboxSending {
				t.Errorf("claimed %d has status %q, want sending", e.ID, e.Status)
			}
			out = append(out, e.ID)
		}
		return out
	}
	if got := claim("a", 0, 2, "email"); !slices.Equal(got, ids[:2]) {
		t.Fatalf("first email claim = %v, want %v", got, ids[:2])
	}
	if got := claim("a", 0, 10, "email"); !slices.Equal(got, ids[2:4]) {
		t.Fatalf("second email claim = %v, want the unclaimed %v", got, ids[2:4])
	}
	if got := claim("b", 0, 10, "email"); len(got) != 0 {
		t.Fatalf("claim with everything claimed = %v, want none", got)
	}
	if got := claim("a", 0, 10, "push"); len(got) != 0 {
		t.Fatalf("push claim = %v, want none", got)
	}

	fail := &core.OutboxAttempt{N: 1, At: at(time.Second), Connector: "mail", Outcome: core.OutboxRetrying, Error: "421 try later", Code: "421", Duration: 3 * time.Millisecond}
	sent := &core.OutboxAttempt{N: 1, At: at(time.Second), Connector: "mail", Outcome: core.OutboxSent, Duration: time.Millisecond, ProviderID: "<k@x>"}
	dead := &core.OutboxAttempt{N: 1, At: at(time.Second), Connector: "mail", Outcome: core.OutboxDead, Error: "550 no such user \u00e9", Code: "550"}
	err := s.FinishOutbox(ctx, []core.OutboxResult{
		{ID: ids[0], Status: core.OutboxRetrying, Attempts: 1, NextAt: at(time.Hour), Error: fail.Error, Connector: "mail", Attempt: fail},
		{ID: ids[1], Status: core.OutboxSent, Attempts: 1, Connector: "mail", ProviderID: "<k@x>", SentAt: at(time.Second), Attempt: sent},
		{ID: ids[2], Status: core.OutboxDead, Attempts: 1, Error: dead.Error, Connector: "mail", Attempt: dead},
		{ID: ids[3], Status: core.OutboxQueued}, // handed back unattempted
	})
	if err != nil {
		t.Fatalf("finish: %v", err)
	}
	if err := s.FinishOutbox(ctx, nil); err != nil {
		t.Fatalf("finish nothing: %v", err)
	}
	byID := func() map[int64]*core.OutboxEntry {
		m := map[int64]*core.OutboxEntry{}
		for _, e := range listOutbox(t, s, core.OutboxFilter{Limit: 10}) {
			m[e.ID] = e
		}
		return m
	}
	m := byID()
	if e := m[ids[0]]; e.Status != core.OutboxRetrying || e.Attempts != 1 || !e.NextAt.Equal(at(time.Hour)) || e.LastError != fail.Error || e.Connector != "mail" || e.SentAt != nil {
		t.Errorf("retrying message: %s", jsonOf(e))
	}
	if e := m[ids[1]]; e.Status != core.OutboxSent || e.SentAt == nil || !e.SentAt.Equal(at(time.Second)) || e.ProviderID != "<k@x>" {
		t.Errorf("sent message: %s", jsonOf(e))
	}
	if e := m[ids[2]]; e.Status != core.OutboxDead || e.LastError != dead.Error {
		t.Errorf("dead message: %s", jsonOf(e))
	}
	if e := m[ids[3]]; e.Status != core.OutboxQueued || e.Attempts != 0 {
		t.Errorf("handed-back message: %s", jsonOf(e))
	}
	checkJSON(t, "dead letters", listOutbox(t, s, core.OutboxFilter{Status: core.OutboxDead, Limit: 10}), []*core.OutboxEntry{m[ids[2]]})

	// Before the retry is due only the handed-back one is claimed; after,
	// the retry too. Sent and dead ones never.
	if got := claim("a", 2*time.Second, 10, "email", "sms"); !slices.Equal(got, []int64{ids[3], ids[4]}) {
		t.Fatalf("claim before the retry is due = %v, want %v", got, []int64{ids[3], ids[4]})
	}
	if got := claim("a", time.Hour, 10, "email"); !slices.Equal(got, ids[:1]) {
		t.Fatalf("claim when the retry is due = %v, want %v", got, ids[:1])
	}
	second := &core.OutboxAttempt{N: 2, At: at(time.Hour), Connector: "mail", Outcome: core.OutboxSent}
	if err := s.FinishOutbox(ctx, []core.OutboxResult{{ID: ids[0], Status: core.OutboxSent, Attempts: 2, Connector: "mail", SentAt: at(time.Hour), Attempt: second}}); err != nil {
		t.Fatal(err)
	}
	attempts, err := s.OutboxAttempts(ctx, []int64{ids[0], ids[1], ids[2], ids[3], 1 << 40})
	if err != nil {
		t.Fatalf("attempts: %v", err)
	}
	checkJSON(t, "attempts", attempts, map[int64][]core.OutboxAttempt{ids[0]: {*fail, *second}, ids[1]: {*sent}, ids[2]: {*dead}})

	// ReleaseOutbox hands back a's claims (ids[3] and ids[4]) and only a's.
	if got := claim("b", 2*time.Hour, 10, "email"); len(got) != 0 {
		t.Fatalf("claim of b = %v, want none", got)
	}
	if n, err := s.ReleaseOutbox(ctx, "b", at(2*time.Hour)); err != nil || n != 0 {
		t.Fatalf("release b = %d, %v; want 0", n, err)
	}
	if n, err := s.ReleaseOutbox(ctx, "a", at(2*time.Hour)); err != nil || n != 2 {
		t.Fatalf("release a = %d, %v; want 2", n, err)
	}
	if m := byID(); m[ids[3]].Status != core.OutboxQueued || m[ids[4]].Status != core.OutboxQueued {
		t.Errorf("released: %s %s", jsonOf(m[ids[3]]), jsonOf(m[ids[4]]))
	}
	if got := claim("b", 2*time.Hour, 10, "email", "sms"); !slices.Equal(got, ids[3:5]) {
		t.Fatalf("claim after release = %v, want %v", got, ids[3:5])
	}

	// Re-drive the dead letter; the sent one and unknown ids cannot be.
	e, err := s.RetryOutbox(ctx, ids[2], at(3*time.Hour))
	if err != nil {
		t.Fatalf("retry dead: %v", err)
	}
	if e.ID != ids[2] || e.Status != core.OutboxQueued || e.Attempts != 0 {
		t.Errorf("re-driven: %s", jsonOf(e))
	}
	if _, err := s.RetryOutbox(ctx, ids[2], at(3*time.Hour)); core.ErrorCode(err) != core.ECONFLICT {
		t.Errorf("retry a queued message: %v, want ECONFLICT", err)
	}
	if _, err := s.RetryOutbox(ctx, ids[1], at(3*time.Hour)); core.ErrorCode(err) != core.ECONFLICT {
		t.Errorf("retry a sent message: %v, want ECONFLICT", err)
	}
	if _, err := s.RetryOutbox(ctx, 1<<40, at(3*time.Hour)); core.ErrorCode(err) != core.ENOTFOUND {
		t.Errorf("retry an unknown message: %v, want ENOTFOUND", err)
	}
	if got := claim("a", 3*time.Hour, 10, "email"); !slices.Equal(got, ids[2:3]) {
		t.Fatalf("claim after re-drive = %v, want %v", got, ids[2:3])
	}
}

// testOutboxClaimExpiry: a claim whose holder died lapses at Until, and the
// message is claimed again (same key: the connector's provider sees the
// same idempotency key).
func testOutboxClaimExpiry(t *testing.T, s core.Store) {
	ctx := t.Context()
	apply(t, s, at(-time.Hour), nil, &core.PartitionCommit{Outbox: []*core.OutboxEntry{outboxEntry("welcome:pa:1:2", "pa", at(0))}})
	first, err := s.ClaimOutbox(ctx, core.OutboxClaim{Channels: []string{"email"}, Owner: "a", Now: at(0), Until: at(time.Minute), Limit: 1})
	if err != nil || len(first) != 1 {
		t.Fatalf("claim: %v %v", first, err)
	}
	if got, _ := s.ClaimOutbox(ctx, core.OutboxClaim{Channels: []string{"email"}, Owner: "b", Now: at(59 * time.Second), Until: at(2 * time.Minute), Limit: 1}); len(got) != 0 {
		t.Fatalf("claimed before the lease lapsed: %s", jsonOf(got))
	}
	again, err := s.ClaimOutbox(ctx, core.OutboxClaim{Channels: []string{"email"}, Owner: "b", Now: at(time.Minute), Until: at(2 * time.Minute), Limit: 1})
	if err != nil || len(again) != 1 || again[0].Key != first[0].Key {
		t.Fatalf("claim after the lease lapsed: %s %v", jsonOf(again), err)
	}
}

// testEventsBySeq: stored events come back by seq; unknown seqs are absent.
func testEventsBySeq(t *testing.T, s core.Store) {
	events := []*core.Event{track(10, "src_a", "ma", "pa", at(0)), track(12, "src_a", "mb", "pb", at(time.Second))}
	apply(t, s, at(-time.Hour), events, nil)
	got, err := s.EventsBySeq(t.Context(), []int64{12, 10, 99})
	if err != nil {
		t.Fatalf("events by seq: %v", err)
	}
	if len(got) != 2 || got[10] == nil || got[12] == nil {
		t.Fatalf("events by seq = %s", jsonOf(got))
	}
	checkEvents(t, "seq 10", []*core.Event{got[10]}, clone(events[:1]))
	checkEvents(t, "seq 12", []*core.Event{got[12]}, clone(events[1:]))
	if got, err := s.EventsBySeq(t.Context(), nil); err != nil || len(got) != 0 {
		t.Errorf("events by no seq = %v, %v", got, err)
	}
}

func listOutbox(t *testing.T, s core.Store, f core.OutboxFilter) []*core.OutboxEntry {
	t.Helper()
	es, err := s.ListOutbox(t.Context(), f)
	if err != nil {
		t.Fatalf("list outbox %+v: %v", f, err)
	}
	return es
}
