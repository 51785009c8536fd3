// Package storetest is the conformance suite of core.Store. Every
// implementation runs it from its own tests:
//
//	func TestStore(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) core.Store { ... })
//	}
//
// The suite pins down what callers rely on (ordering, dedupe windows, merge
// bookkeeping, error codes) and uses fixed times only, so a failure
// reproduces.
package storetest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/overture-cjo/overture/internal/core"
)

// Run runs the suite. open must return a new, empty store for each call; Run
// calls it once per subtest (subtests run in parallel) and closes the store
// when the subtest ends, before open's own cleanups run.
func Run(t *testing.T, open func(t *testing.T) core.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s core.Store)
	}{
		{"Append", testAppend},
		{"ReadLogPaging", testReadLogPaging},
		{"Checkpoint", testCheckpoint},
		{"ApplyBatchDedupe", testApplyBatchDedupe},
		{"ApplyBatchReplay", testApplyBatchReplay},
		{"ApplyBatchRollback", testApplyBatchRollback},
		{"Profiles", testProfiles},
		{"Identities", testIdentities},
		{"Merge", testMerge},
		{"ListEvents", testListEvents},
		{"EraseProfile", testEraseProfile},
		{"WriteKeys", testWriteKeys},
		{"Quarantine", testQuarantine},
		{"PruneDedupe", testPruneDedupe},
		{"Seen", testSeen},
		{"ZeroTime", testZeroTime},
		{"OddStrings", testOddStrings},
		{"Journeys", testJourneys},
		{"Instances", testInstances},
		{"DueTimers", testDueTimers},
		{"WaitingCounts", testWaitingCounts},
		{"Outbox", testOutbox},
		{"OutboxDelivery", testOutboxDelivery},
		{"OutboxClaimExpiry", testOutboxClaimExpiry},
		{"EventsBySeq", testEventsBySeq},
		{"JourneyMerge", testJourneyMerge},
		{"JourneyErase", testJourneyErase},
		{"JourneyRollback", testJourneyRollback},
		{"ProfileEvents", testProfileEvents},
		{"ScanProfiles", testScanProfiles},
		{"Definitions", testDefinitions},
		{"AudienceMembers", testAudienceMembers},
		{"Emits", testEmits},
		{"AudienceMerge", testAudienceMerge},
		{"AudienceErase", testAudienceErase},
		{"AudienceRollback", testAudienceRollback},
		{"Refreshes", testRefreshes},
		{"Decisions", testDecisions},
		{"ModelStats", testModelStats},
		{"JourneyStats", testJourneyStats},
		{"JourneyStatsReplay", testJourneyStatsReplay},
		{"SampleInstances", testSampleInstances},
		{"WindowEvents", testWindowEvents},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := open(t)
			t.Cleanup(func() {
				if err := s.Close(); err != nil {
					t.Errorf("close: %v", err)
				}
			})
			tt.fn(t, s)
		})
	}
}

// t0 is the suite's epoch; it has nanoseconds, so time round-trips are
// checked to the nanosecond.
var t0 = time.Date(2024, 5, 6, 7, 8, 9, 123456789, time.UTC)

func at(d time.Duration) time.Time { return t0.Add(d) }

var errBoom = errors.New("boom")

// track returns a track event as the router hands it to ApplyBatch.
func track(seq int64, source, messageID, profileID string, received time.Time) *core.Event {
	return &core.Event{
		Seq: seq, SourceID: source, MessageID: messageID, Type: core.TypeTrack, Event: "Order Completed",
		UserID: "user-" + profileID, Timestamp: received.Add(-time.Second), ReceivedAt: received,
		Properties: json.RawMessage(`{"total":12.5,"currency":"EUR"}`), ProfileID: profileID,
	}
}

// fullEvents returns events that together set every field of core.Event.
func fullEvents() []*core.Event {
	return []*core.Event{
		{
			SourceID: "src_web", MessageID: "msg-identify", Type: core.TypeIdentify,
			UserID: "user-1", AnonymousID: "anon-1",
			Timestamp: at(-time.Minute), OriginalTimestamp: at(-2 * time.Minute), SentAt: at(-90 * time.Second), ReceivedAt: at(0),
			Traits:       json.RawMessage(`{"email":"ada@example.com","plan":"pro","tags":["a","b"]}`),
			Context:      json.RawMessage(`{"ip":"203.0.113.9","timezone":"Europe/Paris"}`),
			Integrations: json.RawMessage(`{"All":true,"Mailchimp":false}`),
		},
		{
			SourceID: "src_web", MessageID: "msg-page", Type: core.TypePage, Name: "Pricing <beta> & more",
			AnonymousID: "anon-1", Timestamp: at(time.Second), ReceivedAt: at(2 * time.Second),
			Properties: json.RawMessage(`{"path":"/pricing","title":"Pricing \u2014 Overture"}`),
		},
		{
			SourceID: "src_app", MessageID: "msg-alias", Type: core.TypeAlias,
			UserID: "user-1", PreviousID: "anon-1", Timestamp: at(3 * time.Second), ReceivedAt: at(3 * time.Second),
			ProfileID: "prof-1",
		},
		{
			SourceID: "src_app", MessageID: "msg-group", Type: core.TypeGroup, UserID: "user-1", GroupID: "acme",
			Timestamp: at(4 * time.Second), ReceivedAt: at(5 * time.Second),
			Traits: json.RawMessage(`{"name":"Acme Inc.","employees":120}`),
		},
		{
			SourceID: "src_app", MessageID: "msg-track-\u00e9\u65e5", Type: core.TypeTrack, Event: "Order Completed",
			UserID: "user-1", Timestamp: at(6 * time.Second), ReceivedAt: at(6 * time.Second),
			Properties: json.RawMessage(`{"total":99.95,"items":[{"sku":"X-1","qty":2}],"note":null}`),
			Context:    json.RawMessage(`{"locale":"fr-FR"}`),
		},
	}
}

// clone copies events so that the store's writes to Seq do not reach the
// expected values.
func clone(events []*core.Event) []*core.Event {
	out := make([]*core.Event, len(events))
	for i, e := range events {
		c := *e
		out[i] = &c
	}
	return out
}

func seqsOf(events []*core.Event) []int64 {
	out := make([]int64, len(events))
	for i, e := range events {
		out[i] = e.Seq
	}
	return out
}

// diffEvent describes how got differs from want, or returns "".
func diffEvent(got, want *core.Event) string {
	var d []string
	str := func(name, g, w string) {
		if g != w {
			d = append(d, fmt.Sprintf("%s = %q, want %q", name, g, w))
		}
	}
	tm := func(name string, g, w time.Time) {
		if !g.Equal(w) {
			d = append(d, fmt.Sprintf("%s = %s, want %s", name, g.Format(time.RFC3339Nano), w.Format(time.RFC3339Nano)))
		}
	}
	raw := func(name string, g, w json.RawMessage) {
		if !bytes.Equal(g, w) {
			d = append(d, fmt.Sprintf("%s = %s, want %s", name, g, w))
		}
	}
	if got.Seq != want.Seq {
		d = append(d, fmt.Sprintf("Seq = %d, want %d", got.Seq, want.Seq))
	}
	str("SourceID", got.SourceID, want.SourceID)
	str("MessageID", got.MessageID, want.MessageID)
	str("Type", got.Type, want.Type)
	str("Event", got.Event, want.Event)
	str("Name", got.Name, want.Name)
	str("UserID", got.UserID, want.UserID)
	str("AnonymousID", got.AnonymousID, want.AnonymousID)
	str("PreviousID", got.PreviousID, want.PreviousID)
	str("GroupID", got.GroupID, want.GroupID)
	tm("Timestamp", got.Timestamp, want.Timestamp)
	tm("OriginalTimestamp", got.OriginalTimestamp, want.OriginalTimestamp)
	tm("SentAt", got.SentAt, want.SentAt)
	tm("ReceivedAt", got.ReceivedAt, want.ReceivedAt)
	raw("Properties", got.Properties, want.Properties)
	raw("Traits", got.Traits, want.Traits)
	raw("Context", got.Context, want.Context)
	raw("Integrations", got.Integrations, want.Integrations)
	str("ProfileID", got.ProfileID, want.ProfileID)
	if len(d) == 0 {
		return ""
	}
	return fmt.Sprint(d)
}

// checkEvents fails unless got equals want, field by field and in order.
func checkEvents(t *testing.T, what string, got, want []*core.Event) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: got %d events (seqs %v), want %d (seqs %v)", what, len(got), seqsOf(got), len(want), seqsOf(want))
	}
	for i := range got {
		if d := diffEvent(got[i], want[i]); d != "" {
			t.Errorf("%s: event %d (seq %d): %s", what, i, want[i].Seq, d)
		}
	}
}

func checkSeqs(t *testing.T, what string, got []*core.Event, want ...int64) {
	t.Helper()
	if g := seqsOf(got); !slices.Equal(g, want) {
		t.Errorf("%s: seqs %v, want %v", what, g, want)
	}
}

// checkCode fails unless err is a core error with the given code and field.
func checkCode(t *testing.T, what string, err error, code, field string) {
	t.Helper()
	if err == nil {
		t.Errorf("%s: no error, want %s", what, code)
		return
	}
	if c := core.ErrorCode(err); c != code {
		t.Errorf("%s: error %v has code %q, want %q", what, err, c, code)
	}
	if f := core.ErrorField(err); f != field {
		t.Errorf("%s: error %v names field %q, want %q", what, err, f, field)
	}
}

// appendEvents appends events and returns them.
func appendEvents(t *testing.T, s core.Store, events ...*core.Event) []*core.Event {
	t.Helper()
	if err := s.Append(t.Context(), events); err != nil {
		t.Fatalf("append: %v", err)
	}
	return events
}

// trackBatch returns n track events from one source, for log tests.
func trackBatch(prefix string, n int) []*core.Event {
	out := make([]*core.Event, n)
	for i := range out {
		out[i] = track(0, "src_web", fmt.Sprintf("%s-%d", prefix, i), "", at(time.Duration(i)*time.Millisecond))
	}
	return out
}

func readLog(t *testing.T, s core.Store, after int64, limit int) []*core.Event {
	t.Helper()
	events, err := s.ReadLog(t.Context(), after, limit)
	if err != nil {
		t.Fatalf("read log after %d: %v", after, err)
	}
	return events
}

// apply runs one ApplyBatch whose fn records what it was given and returns
// c. It returns the fresh events and the number of duplicates.
func apply(t *testing.T, s core.Store, since time.Time, events []*core.Event, c *core.PartitionCommit) ([]*core.Event, int) {
	t.Helper()
	if c == nil {
		c = &core.PartitionCommit{}
	}
	var fresh []*core.Event
	calls := 0
	dups, err := s.ApplyBatch(t.Context(), &core.ApplyBatch{Events: events, DedupeSince: since}, func(f []*core.Event) (*core.PartitionCommit, error) {
		calls++
		fresh = append([]*core.Event(nil), f...)
		return c, nil
	})
	if err != nil {
		t.Fatalf("apply batch: %v", err)
	}
	if calls != 1 {
		t.Fatalf("apply batch called fn %d times, want 1", calls)
	}
	if dups+len(fresh) != len(events) {
		t.Errorf("apply batch: %d duplicates and %d fresh of %d events", dups, len(fresh), len(events))
	}
	return fresh, dups
}

func listEvents(t *testing.T, s core.Store, profileID string, before int64, limit int) []*core.Event {
	t.Helper()
	events, err := s.ListEvents(t.Context(), profileID, before, limit)
	if err != nil {
		t.Fatalf("list events of %s before %d: %v", profileID, before, err)
	}
	return events
}

func commitIdentities(t *testing.T, s core.Store, ops ...core.IdentityOp) {
	t.Helper()
	if err := s.CommitIdentities(t.Context(), ops); err != nil {
		t.Fatalf("commit identities: %v", err)
	}
}

func bind(kind, value, profileID string) core.IdentityOp {
	return core.IdentityOp{Bind: &core.Identifier{Kind: kind, Value: value}, ProfileID: profileID}
}

func merge(from, into string) core.IdentityOp {
	return core.IdentityOp{Merge: &core.Merge{From: from, Into: into}}
}

func lookup(t *testing.T, s core.Store, keys ...string) map[string]string {
	t.Helper()
	m, err := s.LookupIdentities(t.Context(), keys)
	if err != nil {
		t.Fatalf("lookup identities: %v", err)
	}
	return m
}

func pendingMerges(t *testing.T, s core.Store) []core.Merge {
	t.Helper()
	m, err := s.PendingMerges(t.Context())
	if err != nil {
		t.Fatalf("pending merges: %v", err)
	}
	return m
}

// profile returns a profile with every field set but the merge fields.
func profile(id string, events int64) *core.Profile {
	return &core.Profile{
		ID: id, CreatedAt: t0, FirstSeen: at(time.Minute), LastSeen: at(time.Duration(events) * time.Hour),
		Traits: map[string]core.Trait{
			"plan":  {Value: json.RawMessage(`"pro"`), At: at(time.Minute)},
			"seats": {Value: json.RawMessage(`{"used":3,"max":10}`), At: at(2 * time.Minute)},
		},
		Timezone: &core.Trait{Value: json.RawMessage(`"Europe/Paris"`), At: at(time.Minute)},
		Consent:  map[string]core.Consent{"email": {Granted: true, At: at(time.Minute)}, "sms": {At: at(3 * time.Minute)}},
		Counts:   map[string]int64{"Order Completed": events, "identify": 1},
		Events:   events + 1,
		Computed: &core.Computed{Traits: map[string]*core.Window{
			"orders_30d": {Def: 0xdeadbeef, Buckets: []core.Bucket{
				{K: 19850, N: events, Sum: 42.5, Min: -2.5, Max: 30.125, F: at(time.Minute).UnixNano(), L: at(time.Hour).UnixNano(),
					Q: 17, V: json.RawMessage(`{"sku":"X-1","price":12.5}`)},
				{K: 19852, N: 2, D: []uint64{1, 1 << 53, 1<<53 + 1, math.MaxUint64}, X: true}, // beyond float64's exact integers
			}},
			"last_plan": {Def: 7},
		}},
		Entered: map[string]core.Entries{"welcome": {Count: 2, Last: at(time.Hour)}},
		Audiences: map[string]core.Membership{
			"vip":     {Member: true, Since: at(time.Hour), Entries: 2},
			"churned": {Since: at(2 * time.Hour), Entries: 1},
		},
	}
}

func tombstone(id, into string) *core.Profile {
	p := profile(id, 1)
	p.MergedInto = into
	return p
}

// checkProfile compares profiles by their JSON form, which holds every
// field.
func checkProfile(t *testing.T, what string, got, want *core.Profile) {
	t.Helper()
	if got == nil {
		t.Errorf("%s: no profile, want %s", what, want.ID)
		return
	}
	g, _ := json.Marshal(got)
	w, _ := json.Marshal(want)
	if !bytes.Equal(g, w) {
		t.Errorf("%s:\n got %s\nwant %s", what, g, w)
	}
}

func getProfile(t *testing.T, s core.Store, id string) *core.Profile {
	t.Helper()
	p, err := s.GetProfile(t.Context(), id)
	if err != nil {
		t.Fatalf("get profile %s: %v", id, err)
	}
	return p
}

func loadProfiles(t *testing.T, s core.Store, ids ...string) map[string]*core.Profile {
	t.Helper()
	m, err := s.LoadProfiles(t.Context(), ids)
	if err != nil {
		t.Fatalf("load profiles: %v", err)
	}
	return m
}
