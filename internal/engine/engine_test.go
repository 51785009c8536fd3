package engine_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/overture-cjo/overture/internal/audience"
	"github.com/overture-cjo/overture/internal/computed"
	"github.com/overture-cjo/overture/internal/core"
	"github.com/overture-cjo/overture/internal/engine"
	"github.com/overture-cjo/overture/internal/machine"
	"github.com/overture-cjo/overture/internal/proptest"
	"github.com/overture-cjo/overture/internal/sqlite"
)

// propertyChecks is how many random streams each property runs unless
// -rapid.checks (or RAPID_CHECKS) says otherwise. A check opens a SQLite
// store and runs one or two engines (20-150 ms); 50 keeps the package at a
// few seconds on two cores.
const propertyChecks = 50

// limitChecks applies propertyChecks (see proptest.Limit).
func limitChecks(t *testing.T) { proptest.Limit(t, propertyChecks) }

// TestEngineMatchesSequentialReference feeds random event streams to the
// engine on the SQLite store, appended and offered in small groups as the
// ingest committer does, and checks that the state it reaches equals a
// sequential fold of the same stream with the pure core code.
func TestEngineMatchesSequentialReference(t *testing.T) {
	limitChecks(t)
	rapid.Check(t, func(rt *rapid.T) { runProperty(t, rt, false) })
}

// TestEngineRestartMatchesSequentialReference is the same property with the
// engine stopped halfway through the stream (at once, a moment later, or
// once idle), a few groups logged while no engine runs, and a new engine
// started on the same store: checkpoint, replay and pending merges must
// give the same state.
func TestEngineRestartMatchesSequentialReference(t *testing.T) {
	limitChecks(t)
	rapid.Check(t, func(rt *rapid.T) { runProperty(t, rt, true) })
}

var (
	testUsers  = []string{"u1", "u2", "u3"}
	testAnons  = []string{"a1", "a2", "a3", "a4"}
	testEmails = []string{"ann@example.com", " Ann@Example.COM", "bob@example.com", "cy@example.com"}
	testNames  = []string{"Signed Up", "Order Completed", "Product Viewed"}
	testPlans  = []string{"free", "pro", "team"}
	// testSources are write keys: the same messageId from two of them is
	// two events.
	testSources = []string{"src_a", "src_b"}
)

// testPrevIDs are alias previousIds: anonymous ids, one never seen
// otherwise, and user ids.
func testPrevIDs() []string {
	ids := append(slices.Clone(testAnons), "legacy-1")
	return append(ids, testUsers...)
}

// recvBase is when the stream's first event is received; the engine's clock
// stands an hour later, so every event is inside the dedupe window.
var recvBase = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// genStream draws 20 to 200 events shaped like decoded ingested ones
// (ingest/decode.go): source, messageId, type, timestamps, raw JSON parts.
func genStream(rt *rapid.T) []core.Event {
	n := rapid.IntRange(20, 200).Draw(rt, "events")
	prevIDs := testPrevIDs()
	out := make([]core.Event, 0, n)
	used := map[string]bool{} // source/messageId
	for i := 0; i < n; i++ {
		recv := recvBase.Add(time.Duration(i) * time.Millisecond)
		kind := rapid.IntRange(0, 99).Draw(rt, "kind")
		if len(out) > 0 && kind >= 88 {
			// A client retry: the same message again, received later.
			e := out[rapid.IntRange(0, len(out)-1).Draw(rt, "dupOf")]
			e.ReceivedAt = recv
			out = append(out, e)
			continue
		}
		e := core.Event{
			SourceID:   rapid.SampledFrom(testSources).Draw(rt, "source"),
			MessageID:  fmt.Sprintf("m%03d", i),
			ReceivedAt: recv,
			Context:    json.RawMessage(`{"library":{"name":"analytics-go","version":"3.3.0"}}`),
		}
		if len(out) > 0 && kind >= 84 {
			// An earlier messageId from the other source: not a duplicate.
			prev := out[rapid.IntRange(0, len(out)-1).Draw(rt, "reuseOf")]
			src := testSources[0]
			if prev.SourceID == src {
				src = testSources[1]
			}
			if !used[src+"/"+prev.MessageID] {
				e.SourceID, e.MessageID = src, prev.MessageID
			}
		}
		used[e.SourceID+"/"+e.MessageID] = true
		// Whole minutes out of log order: traits often tie on timestamp.
		ts := recvBase.Add(-time.Hour + time.Duration(rapid.IntRange(0, 40).Draw(rt, "minute"))*time.Minute)
		e.Timestamp, e.OriginalTimestamp = ts, ts
		user := func() string { return rapid.SampledFrom(testUsers).Draw(rt, "userId") }
		anon := func() string { return rapid.SampledFrom(testAnons).Draw(rt, "anonymousId") }
		who := func() {
			switch rapid.IntRange(0, 2).Draw(rt, "who") {
			case 0:
				e.UserID = user()
			case 1:
				e.AnonymousID = anon()
			default:
				e.UserID, e.AnonymousID = user(), anon()
			}
		}
		switch {
		case kind < 35:
			e.Type = core.TypeIdentify
			who()
			traits := map[string]any{"plan": rapid.SampledFrom(testPlans).Draw(rt, "plan")}
			if rapid.IntRange(0, 3).Draw(rt, "hasEmail") > 0 {
				traits["email"] = rapid.SampledFrom(testEmails).Draw(rt, "email")
			}
			if rapid.Bool().Draw(rt, "hasScore") {
				traits["score"] = rapid.IntRange(0, 9).Draw(rt, "score")
			}
			e.Traits = mustJSON(traits)
		case kind < 65:
			e.Type = core.TypeTrack
			who()
			e.Event = rapid.SampledFrom(testNames).Draw(rt, "name")
			e.Properties = mustJSON(map[string]any{"value": rapid.IntRange(1, 99).Draw(rt, "value")})
			if rapid.IntRange(0, 9).Draw(rt, "ctxEmail") == 0 {
				// context.traits.email identifies on any call.
				e.Context = mustJSON(map[string]any{"traits": map[string]any{"email": rapid.SampledFrom(testEmails).Draw(rt, "email")}})
			}
		case kind < 72:
			e.Type = core.TypePage
			who()
			e.Name = "Home"
		default:
			e.Type = core.TypeAlias
			e.UserID = user()
			e.PreviousID = rapid.SampledFrom(prevIDs).Draw(rt, "previousId")
		}
		out = append(out, e)
	}
	return out
}

func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

func runProperty(t *testing.T, rt *rapid.T, restart bool) {
	stream := genStream(rt)
	ref := referenceOf(stream)
	// Groups as the committer forms them.
	var groups [][]core.Event
	for start := 0; start < len(stream); {
		end := min(start+rapid.IntRange(1, 8).Draw(rt, "group"), len(stream))
		groups = append(groups, stream[start:end])
		start = end
	}
	opts := engine.Options{
		Partitions:      3,
		BatchSize:       rapid.IntRange(1, 8).Draw(rt, "batchSize"),
		Linger:          time.Duration(rapid.IntRange(1, 8).Draw(rt, "lingerHalfMs")) * 500 * time.Microsecond,
		CheckpointEvery: 5 * time.Millisecond,
		IdentityCache:   rapid.SampledFrom([]int{2, 5, 1_000_000}).Draw(rt, "identityCache"),
		ProfileCache:    rapid.SampledFrom([]int{10, 100_000}).Draw(rt, "profileCache"),
	}
	// Now and then the hand-off is "dropped" (as Offer does when the
	// router is behind): the router must read the group from the log. (A
	// group the test waits after is always offered: Idle only knows of
	// offered events.)
	offered := make([]bool, len(groups))
	for i := range groups {
		offered[i] = i == len(groups)-1 || rapid.IntRange(0, 9).Draw(rt, "offer") > 0
	}
	half := len(groups) / 2
	stopMode, downtime := 0, 0
	if restart {
		stopMode = rapid.IntRange(0, 2).Draw(rt, "stopMode") // at once, after a moment, once idle
		downtime = rapid.IntRange(0, min(2, len(groups)-half-1)).Draw(rt, "downtimeGroups")
	}

	h := newHarness(rt, t.TempDir(), opts)
	h.start()
	i := 0
	if restart {
		for ; i < half; i++ {
			h.append(groups[i], offered[i])
		}
		switch stopMode {
		case 1:
			time.Sleep(time.Duration(rapid.IntRange(0, 20).Draw(rt, "stopAfterMs")) * time.Millisecond)
		case 2:
			h.waitIdle()
		}
		h.stop()
		// Groups the committer logged while no engine ran.
		for ; i < half+downtime; i++ {
			h.append(groups[i], false)
		}
		h.start()
	}
	for ; i < len(groups); i++ {
		h.append(groups[i], offered[i])
	}
	h.waitIdle()
	h.stop()
	h.compare(ref)
}

// reference is the sequential model: one Graph resolving every event in log
// order, profiles folded with Apply and Absorb, duplicates (same source and
// messageId) skipped.
type reference struct {
	graph    *core.Graph
	n        int
	profiles map[string]*core.Profile
	timeline map[string][]string // profile -> source/messageId of its events
	seen     map[string]bool     // source/messageId applied
	keys     map[string]bool     // every identifier key the stream used
	unique   int
}

func newReference() *reference {
	return &reference{
		graph: core.NewGraph(), profiles: map[string]*core.Profile{},
		timeline: map[string][]string{}, seen: map[string]bool{}, keys: map[string]bool{},
	}
}

func eventKey(e *core.Event) string { return e.SourceID + "/" + e.MessageID }

// apply folds one event in and reports whether it merged profiles.
func (r *reference) apply(ev core.Event) bool {
	e := &ev
	k := eventKey(e)
	if r.seen[k] {
		return false
	}
	r.seen[k] = true
	r.unique++
	f := core.DeriveFacts(e)
	ids := core.Identifiers(e, &f)
	alias := core.AliasKeys(e)
	for _, id := range append(slices.Clone(ids), alias...) {
		r.keys[id.Key()] = true
	}
	res := r.graph.Resolve(ids, alias, e.UserID, func() string { r.n++; return fmt.Sprintf("ref%d", r.n) })
	into := res.ProfileID
	p := r.profiles[into]
	if p == nil {
		p = core.NewProfile(into, time.Time{})
		r.profiles[into] = p
	}
	for _, from := range res.Merged {
		p.Absorb(r.profiles[from])
		r.timeline[into] = append(r.timeline[into], r.timeline[from]...)
		delete(r.profiles, from)
		delete(r.timeline, from)
	}
	p.Apply(e, &f)
	r.timeline[into] = append(r.timeline[into], k)
	return len(res.Merged) > 0
}

// tb is what the harness needs of *testing.T and *rapid.T.
type tb interface {
	Helper()
	Cleanup(func())
	Errorf(format string, args ...any)
	Fatalf(format string, args ...any)
}

// harness is one SQLite store and the engine running on it.
type harness struct {
	t         tb
	ctx       context.Context
	st        *sqlite.Store
	opts      engine.Options
	eng       *engine.Engine
	cancel    context.CancelFunc
	done      chan error
	applied   int64            // Stats().Applied of the engines stopped so far
	catalog   *machine.Catalog // if set, every engine runs these journeys from its start
	traits    *computed.Set    // if set, every engine keeps these computed traits from its start
	audiences *audience.Set    // if set, every engine keeps these audiences from its start
	logMu     sync.Mutex       // the log has one writer at a time: the test or the engine's emitter
}

// referenceOf runs the sequential reference over events.
func referenceOf(events []core.Event) *reference {
	ref := newReference()
	for _, e := range events {
		ref.apply(e)
	}
	return ref
}

func newHarness(t tb, dir string, opts engine.Options) *harness {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, dir)
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	opts.Clock = core.NewManualClock(recvBase.Add(time.Hour))
	opts.Logger = slog.New(slog.DiscardHandler)
	h := &harness{t: t, ctx: ctx, st: st}
	opts.Emit = h.emit
	h.opts = opts
	t.Cleanup(func() {
		if h.eng != nil {
			h.cancel()
			<-h.done
		}
		st.Close()
	})
	return h
}

// start runs a new engine on the store.
func (h *harness) start() {
	ctx, cancel := context.WithCancel(h.ctx)
	h.eng, h.cancel, h.done = engine.New(h.st, h.opts), cancel, make(chan error, 1)
	if h.catalog != nil {
		h.eng.SetCatalog(h.catalog)
	}
	if h.traits != nil {
		h.eng.SetTraits(h.traits)
	}
	if h.audiences != nil {
		h.eng.SetAudiences(h.audiences)
	}
	eng, done := h.eng, h.done
	go func() { done <- eng.Run(ctx) }()
}

// stop cancels the engine and waits for Run to return.
func (h *harness) stop() {
	h.t.Helper()
	h.cancel()
	select {
	case err := <-h.done:
		// Cancelled while starting up, Run reports the cancellation.
		if err != nil && !errors.Is(err, context.Canceled) {
			h.t.Fatalf("engine run: %v", err)
		}
	case <-time.After(10 * time.Second):
		h.t.Fatalf("engine did not stop")
	}
	h.applied += h.eng.Stats().Applied
	h.eng = nil
}

// append logs a group of events and, if offer, hands it to the engine, as
// the ingest committer does.
func (h *harness) append(group []core.Event, offer bool) {
	h.t.Helper()
	batch := make([]*core.Event, len(group))
	for i := range group {
		e := group[i]
		batch[i] = &e
	}
	h.logMu.Lock()
	defer h.logMu.Unlock()
	if err := h.st.Append(h.ctx, batch); err != nil {
		h.t.Fatalf("append: %v", err)
	}
	if offer {
		h.eng.Offer(slices.Clone(batch))
	}
}

// emit is the engines' Options.Emit: it appends what an engine emits
// (audience events) and offers it to that engine, as the committer does.
func (h *harness) emit(ctx context.Context, evs []*core.Event) error {
	h.logMu.Lock()
	defer h.logMu.Unlock()
	if err := h.st.Append(ctx, evs); err != nil {
		return err
	}
	if eng := h.eng; eng != nil {
		eng.Offer(slices.Clone(evs))
	}
	return nil
}

// waitIdle waits until the engine has applied everything offered.
func (h *harness) waitIdle() {
	h.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !(h.eng.Idle() && h.eng.Stats().CaughtUp) {
		select {
		case err := <-h.done:
			h.t.Fatalf("engine stopped on its own: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("engine not idle after 15s: %+v", h.eng.Stats())
		}
		time.Sleep(time.Millisecond)
	}
}

// compare checks the store against the reference: every identifier the
// stream used is bound in both or neither; identifiers share a store
// profile exactly when they share a reference profile; and each profile's
// events, counts, first/last seen, traits and timeline equal the
// reference's. The engines must be stopped.
func (h *harness) compare(ref *reference) {
	t := h.t
	t.Helper()
	if h.applied != int64(ref.unique) {
		t.Errorf("engines applied %d events, want %d (the distinct source/messageId pairs)", h.applied, ref.unique)
	}
	keys := slices.Sorted(func(yield func(string) bool) {
		for k := range ref.keys {
			if !yield(k) {
				return
			}
		}
	})
	got, err := h.st.LookupIdentities(h.ctx, keys)
	if err != nil {
		t.Fatalf("lookup identities: %v", err)
	}
	refToStore, storeToRef := map[string]string{}, map[string]string{}
	for _, k := range keys {
		want, wantOK := ref.graph.Lookup(k)
		have, haveOK := got[k]
		if wantOK != haveOK {
			t.Fatalf("identifier %s: bound in store %v, in reference %v", k, haveOK, wantOK)
		}
		if !wantOK {
			continue
		}
		if s, ok := refToStore[want]; ok && s != have {
			t.Fatalf("identifier %s is on store profile %s, but the other identifiers of its reference profile %v are on %s",
				k, have, ref.graph.Keys(want), s)
		}
		if r, ok := storeToRef[have]; ok && r != want {
			t.Fatalf("identifier %s is on store profile %s with the identifiers of reference profile %v; the reference puts it with %v",
				k, have, ref.graph.Keys(r), ref.graph.Keys(want))
		}
		refToStore[want], storeToRef[have] = have, want
	}
	refIDs := slices.Sorted(func(yield func(string) bool) {
		for id := range refToStore {
			if !yield(id) {
				return
			}
		}
	})
	for _, refID := range refIDs {
		id := refToStore[refID]
		want := ref.profiles[refID]
		label := fmt.Sprintf("profile %s %v", id, ref.graph.Keys(refID))
		p, err := h.st.GetProfile(h.ctx, id)
		if err != nil {
			t.Fatalf("%s: get: %v", label, err)
		}
		if p.ID != id || p.MergedInto != "" {
			t.Errorf("%s: identifiers point at a merged profile (get answered %s, mergedInto %q)", label, p.ID, p.MergedInto)
		}
		if p.Events != want.Events {
			t.Errorf("%s: events = %d, want %d", label, p.Events, want.Events)
		}
		if !equalCounts(p.Counts, want.Counts) {
			t.Errorf("%s: counts = %v, want %v", label, p.Counts, want.Counts)
		}
		if !p.FirstSeen.Equal(want.FirstSeen) || !p.LastSeen.Equal(want.LastSeen) {
			t.Errorf("%s: seen %v..%v, want %v..%v", label, p.FirstSeen, p.LastSeen, want.FirstSeen, want.LastSeen)
		}
		if g, w := traitString(p.Traits), traitString(want.Traits); g != w {
			t.Errorf("%s: traits\n  got  %s\n  want %s", label, g, w)
		}
		evs, err := h.st.ListEvents(h.ctx, id, 0, 100_000)
		if err != nil {
			t.Fatalf("%s: list events: %v", label, err)
		}
		var timeline []string
		for _, e := range evs {
			timeline = append(timeline, eventKey(e))
		}
		slices.Sort(timeline)
		wantTimeline := slices.Sorted(slices.Values(ref.timeline[refID]))
		if extra, missing := diff(timeline, wantTimeline); len(extra)+len(missing) > 0 {
			t.Errorf("%s: timeline has %d events, want %d; extra %v, missing %v", label, len(timeline), len(wantTimeline), extra, missing)
		}
	}
}

// diff compares sorted lists: what got has beyond want, and what it lacks.
func diff(got, want []string) (extra, missing []string) {
	i, j := 0, 0
	for i < len(got) || j < len(want) {
		switch {
		case j == len(want) || i < len(got) && got[i] < want[j]:
			extra = append(extra, got[i])
			i++
		case i == len(got) || want[j] < got[i]:
			missing = append(missing, want[j])
			j++
		default:
			i++
			j++
		}
	}
	return extra, missing
}

func equalCounts(a, b map[string]int64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// traitString renders traits for comparison: compacted values and the
// timestamps that set them, in key order.
func traitString(m map[string]core.Trait) string {
	var b bytes.Buffer
	for _, k := range slices.Sorted(func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}) {
		var v bytes.Buffer
		if err := json.Compact(&v, m[k].Value); err != nil {
			v.Reset()
			v.Write(m[k].Value)
		}
		fmt.Fprintf(&b, "%s=%s@%s ", k, v.Bytes(), m[k].At.UTC().Format(time.RFC3339Nano))
	}
	return b.String()
}

// testEvent returns an event as decoded by ingest; n numbers its messageId
// and receipt.
func testEvent(n int, typ, userID, anonymousID string) core.Event {
	at := recvBase.Add(time.Duration(n) * time.Millisecond)
	e := core.Event{
		SourceID: "src_a", MessageID: fmt.Sprintf("t%04d", n), Type: typ,
		UserID: userID, AnonymousID: anonymousID, Timestamp: at, ReceivedAt: at,
	}
	if typ == core.TypeTrack {
		e.Event = "Order Completed"
	}
	return e
}

func identifyEmail(n int, userID, anonymousID, email string) core.Event {
	e := testEvent(n, core.TypeIdentify, userID, anonymousID)
	e.Traits = mustJSON(map[string]string{"email": email})
	return e
}

func alias(n int, userID, previousID string) core.Event {
	e := testEvent(n, core.TypeAlias, userID, "")
	e.PreviousID = previousID
	return e
}

// runGroups appends and offers each group, lets the engine go idle, stops
// it and compares with the reference of all groups in order.
func runGroups(t *testing.T, opts engine.Options, groups ...[]core.Event) {
	t.Helper()
	h := newHarness(t, t.TempDir(), opts)
	h.start()
	ref := newReference()
	for _, g := range groups {
		h.append(g, true)
		for _, e := range g {
			ref.apply(e)
		}
	}
	h.waitIdle()
	h.stop()
	h.compare(ref)
}

// TestDroppedGroupBetweenLiveGroups: the router gathers the live groups
// that arrive within its linger; when one between them was dropped, it must
// route only up to the gap and read the rest from the log.
func TestDroppedGroupBetweenLiveGroups(t *testing.T) {
	h := newHarness(t, t.TempDir(), engine.Options{Partitions: 3, Linger: 200 * time.Millisecond, CheckpointEvery: time.Hour})
	h.start()
	h.waitIdle() // past the start-up replay: groups come live
	var stream []core.Event
	for n := range 6 {
		stream = append(stream, testEvent(n, core.TypeTrack, fmt.Sprintf("u%d", n), ""))
	}
	h.append(stream[0:2], true)
	h.append(stream[2:4], false) // dropped: the router was behind
	h.append(stream[4:6], true)
	h.waitIdle()
	h.stop()
	h.compare(referenceOf(stream))
}

// TestChainedMergesAcrossPartitions merges A into B and then B into C, for
// many triples at once, so that the absorb of A often reaches B's partition
// after B's own barrier.
func TestChainedMergesAcrossPartitions(t *testing.T) {
	opts := engine.Options{Partitions: 3, Linger: time.Millisecond, CheckpointEvery: time.Hour}
	var setup, chains []core.Event
	for k := range 30 {
		a, b, u, email := fmt.Sprintf("a%d", k), fmt.Sprintf("b%d", k), fmt.Sprintf("u%d", k), fmt.Sprintf("e%d@example.com", k)
		n := 10 * k
		setup = append(setup,
			testEvent(n, core.TypeTrack, "", a),   // A
			identifyEmail(n+1, "", b, email),      // B
			testEvent(n+2, core.TypeTrack, u, "")) // C
		chains = append(chains,
			identifyEmail(n+3, "", a, email),        // email is B's: A merges into B
			testEvent(n+4, core.TypeIdentify, u, a)) // a is now B's, anonymous: B merges into C
	}
	h := newHarness(t, t.TempDir(), opts)
	h.start()
	h.append(setup, true)
	h.waitIdle()
	for i := 0; i < len(chains); i += 2 {
		h.append(chains[i:i+2], true)
	}
	h.waitIdle()
	h.stop()
	h.compare(referenceOf(append(setup, chains...)))
}

// TestReplayedAliasChangesNothing: an alias from a previousId nobody used
// yet binds it as an anonymous id; a later identify with that previousId as
// its userId makes a separate profile. Replaying the log after a restart
// (no checkpoint was saved) must not merge the two.
func TestReplayedAliasChangesNothing(t *testing.T) {
	stream := []core.Event{alias(0, "u3", "u2"), testEvent(1, core.TypeTrack, "u2", "")}
	h := newHarness(t, t.TempDir(), engine.Options{Partitions: 3, CheckpointEvery: time.Hour})
	h.start()
	h.append(stream, true)
	h.waitIdle()
	h.stop()
	h.start() // replays both events: they are duplicates now
	h.waitIdle()
	h.stop()
	h.compare(referenceOf(stream))
}

// TestDuplicateAliasChangesNothing: the same alias sent again (same source
// and messageId) after previousId became a userId must have no effect.
func TestDuplicateAliasChangesNothing(t *testing.T) {
	a := alias(0, "u3", "u2")
	retry := a
	retry.ReceivedAt = retry.ReceivedAt.Add(time.Second)
	runGroups(t, engine.Options{Partitions: 3}, []core.Event{a, testEvent(1, core.TypeTrack, "u2", "")}, []core.Event{retry})
}

// TestEraseDuringMerge: a profile merging into one that is being erased is
// erased with it, whichever of the two reaches the partition first; nothing
// comes back under the erased id.
func TestEraseDuringMerge(t *testing.T) {
	for k := range 20 {
		h := newHarness(t, t.TempDir(), engine.Options{Partitions: 3, Linger: time.Millisecond, CheckpointEvery: time.Hour})
		h.start()
		anon, user := fmt.Sprintf("anon%d", k), fmt.Sprintf("user%d", k)
		h.append([]core.Event{testEvent(0, core.TypeTrack, "", anon), testEvent(1, core.TypeTrack, user, "")}, true)
		h.waitIdle()
		ids, err := h.st.LookupIdentities(h.ctx, []string{"user_id:" + user, "anonymous_id:" + anon})
		if err != nil {
			t.Fatal(err)
		}
		survivor, merged := ids["user_id:"+user], ids["anonymous_id:"+anon]
		h.append([]core.Event{testEvent(2, core.TypeIdentify, user, anon)}, true) // anon's profile merges into user's
		if _, err := h.eng.Erase(h.ctx, survivor); err != nil && core.ErrorCode(err) != core.ENOTFOUND {
			t.Fatal(err)
		}
		h.waitIdle()
		h.stop()
		for _, id := range []string{survivor, merged} {
			if p, err := h.st.GetProfile(h.ctx, id); core.ErrorCode(err) != core.ENOTFOUND {
				t.Fatalf("run %d: profile %s after erasure: %+v, %v", k, id, p, err)
			}
			if evs, _ := h.st.ListEvents(h.ctx, id, 0, 10); len(evs) != 0 {
				t.Fatalf("run %d: profile %s still has %d events", k, id, len(evs))
			}
		}
	}
}
