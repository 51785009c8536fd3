package engine_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/overture-cjo/overture/internal/core"
	"github.com/overture-cjo/overture/internal/engine"
	"github.com/overture-cjo/overture/internal/journey"
	"github.com/overture-cjo/overture/internal/machine"
	"github.com/overture-cjo/overture/internal/simulate"
	"github.com/overture-cjo/overture/internal/webhook"
)

// testCatalog loads testdata/journeys, the journeys the journey tests run.
func testCatalog(t testing.TB) *machine.Catalog {
	t.Helper()
	defs, err := journey.Load("testdata/journeys")
	if err != nil {
		t.Fatal(err)
	}
	cat, err := machine.FromDefinitions(defs)
	if err != nil {
		t.Fatal(err)
	}
	return cat
}

var (
	journeyUsers  = []string{"u1", "u2", "u3"}
	journeyEvents = []string{"Cart Updated", "Cart Updated", "Order Completed", "Email Clicked", "Signed Up", "Unsubscribed", "Page Viewed"}
	journeyCarts  = []string{"c1", "c2"}
)

// genJourneyStream draws track events at increasing times, minutes to
// hours apart, starting at recvBase + 1h (the harness clock).
func genJourneyStream(rt *rapid.T) []core.Event {
	n := rapid.IntRange(1, 40).Draw(rt, "events")
	at := recvBase.Add(time.Hour)
	out := make([]core.Event, 0, n)
	for i := 0; i < n; i++ {
		at = at.Add(time.Duration(rapid.IntRange(1, 300).Draw(rt, "gapMinutes")) * time.Minute)
		props := map[string]any{
			"cart_id": rapid.SampledFrom(journeyCarts).Draw(rt, "cart"),
			"total":   rapid.SampledFrom([]float64{10, 50}).Draw(rt, "total"),
		}
		out = append(out, core.Event{
			SourceID: "src", MessageID: fmt.Sprintf("m%03d", i), Type: core.TypeTrack,
			Event:      rapid.SampledFrom(journeyEvents).Draw(rt, "name"),
			UserID:     rapid.SampledFrom(journeyUsers).Draw(rt, "user"),
			Timestamp:  at,
			ReceivedAt: at,
			Properties: mustJSON(props),
		})
	}
	return out
}

// TestJourneysMatchSimulation is the simulator's promise: for random event
// streams, every journey instance the server runs (on a test clock, each
// event sent at its own time, timers firing as the clock passes them, the
// engine restarted at a random point) has the same history, step by step,
// as the instance `overture simulate` reports for the same events.
func TestJourneysMatchSimulation(t *testing.T) {
	limitChecks(t)
	cat := testCatalog(t)
	rapid.Check(t, func(rt *rapid.T) {
		events := genJourneyStream(rt)
		until := events[len(events)-1].Timestamp.Add(48 * time.Hour)

		var inputs []simulate.Input
		for i := range events {
			e := events[i]
			inputs = append(inputs, simulate.Input{Event: &e, Line: i + 1})
		}
		sim := simulate.Run(cat, inputs, simulate.Options{Until: until})
		want := map[string][]string{}
		for _, c := range sim.Customers {
			for _, in := range c.Instances {
				want[instanceKey(c.ID, in)] = historyLines(in.History)
			}
		}

		// Now and then the engine stops (at once after an event is
		// handed over, or once idle) and a new one starts on the same
		// store, as after a crash: replay from the checkpoint, reloaded
		// timers and cold caches must not run a step twice or lose one.
		restartAt := rapid.IntRange(-1, len(events)-1).Draw(rt, "restartAt")
		abrupt := rapid.Bool().Draw(rt, "abrupt")
		h := newHarness(t, t.TempDir(), engine.Options{Partitions: 2, TimerTick: time.Millisecond, Linger: time.Millisecond})
		h.catalog = cat
		clock := h.opts.Clock.(*core.ManualClock)
		clock.Set(events[0].Timestamp)
		h.start()
		h.waitIdle()
		for i, e := range events {
			clock.Set(e.Timestamp)
			h.waitIdle() // timers due by now fire before the event, as in the simulation
			h.append([]core.Event{e}, true)
			if i == restartAt {
				if !abrupt {
					h.waitIdle()
				}
				h.stop()
				h.start()
			}
			h.waitIdle()
		}
		clock.Set(until)
		h.waitIdle()
		h.stop()

		got := map[string][]string{}
		for _, u := range journeyUsers {
			ids, err := h.st.LookupIdentities(h.ctx, []string{core.Identifier{Kind: core.KindUserID, Value: u}.Key()})
			if err != nil {
				t.Fatal(err)
			}
			pid, ok := ids[core.Identifier{Kind: core.KindUserID, Value: u}.Key()]
			if !ok {
				continue
			}
			ins, err := h.st.InstancesOf(h.ctx, pid, 1000)
			if err != nil {
				t.Fatal(err)
			}
			for _, in := range ins {
				got[instanceKey(u, in)] = historyLines(in.History)
			}
		}
		if len(got) != len(want) {
			rt.Fatalf("server ran %d instances, simulation %d\nserver: %v\nsimulation: %v", len(got), len(want), got, want)
		}
		for k, w := range want {
			g := got[k]
			if strings.Join(g, "\n") != strings.Join(w, "\n") {
				rt.Fatalf("instance %s differs\nserver:\n  %s\nsimulation:\n  %s", k, strings.Join(g, "\n  "), strings.Join(w, "\n  "))
			}
		}
	})
}

// instanceKey names an instance by user, journey and entry number (the
// profile id in its ID differs between server and simulation).
func instanceKey(user string, in *core.Instance) string {
	n := in.ID[strings.LastIndexByte(in.ID, ':')+1:]
	return user + "/" + in.JourneyID + "#" + n
}

func historyLines(h []core.StepRecord) []string {
	out := make([]string, len(h))
	for i, r := range h {
		out[i] = fmt.Sprintf("%s %s %s %s -> %s", r.At.Format(time.RFC3339), r.Step, r.Kind, r.Detail, r.Next)
	}
	return out
}

func keys(m map[string][]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// TestReferenceJourney runs the reference journey (enter, wait, send
// unless the goal came first) through the engine and checks the outbox:
// one message for the customer who did not buy, none for the one who did,
// and the instances' outcomes.
func TestReferenceJourney(t *testing.T) {
	src := `
id: ref
name: Reference
category: marketing
entry: {trigger: {event: Cart Updated}}
goal: {event: Order Completed}
start: wait
steps:
  wait: {type: wait, duration: 1h, next: send}
  send: {type: send, channel: email, template: reminder, next: done}
  done: {type: exit}
`
	d, err := journey.Parse("ref.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	cat, _ := machine.FromDefinitions([]*journey.Definition{d})
	h := newHarness(t, t.TempDir(), engine.Options{Partitions: 2, TimerTick: time.Millisecond})
	clock := h.opts.Clock.(*core.ManualClock)
	start := clock.Now()
	h.start()
	h.eng.SetCatalog(cat)
	ev := func(n int, user, name string) core.Event {
		return core.Event{SourceID: "s", MessageID: fmt.Sprint(n), Type: core.TypeTrack, Event: name, UserID: user,
			Timestamp: clock.Now(), ReceivedAt: clock.Now(), Properties: json.RawMessage(`{}`)}
	}
	h.append([]core.Event{ev(1, "buyer", "Cart Updated"), ev(2, "browser", "Cart Updated")}, true)
	h.waitIdle()
	clock.Advance(30 * time.Minute)
	h.append([]core.Event{ev(3, "buyer", "Order Completed")}, true)
	h.waitIdle()
	clock.Advance(31 * time.Minute)
	h.waitIdle()

	out, err := h.st.ListOutbox(h.ctx, core.OutboxFilter{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != 1 || out[0].Template != "reminder" || out[0].Channel != "email" || !out[0].CreatedAt.Equal(start.Add(time.Hour)) {
		t.Fatalf("outbox = %+v, want one reminder queued at %s", out, start.Add(time.Hour))
	}
	st := h.eng.Stats()
	if st.Entered != 2 || st.Messages != 1 || st.TimersFired != 1 || st.Ended != 2 {
		t.Errorf("stats = %+v, want 2 entered, 1 message, 1 timer, 2 ended", st)
	}
	// The same events again (a client retry) change nothing.
	h.append([]core.Event{ev(1, "buyer", "Cart Updated"), ev(2, "browser", "Cart Updated")}, true)
	h.waitIdle()
	if out2, _ := h.st.ListOutbox(h.ctx, core.OutboxFilter{Limit: 10}); len(out2) != 1 {
		t.Errorf("after a retry the outbox has %d entries, want 1", len(out2))
	}
}

// TestWebhookStep runs a webhook step against a real HTTP peer: the reply
// is captured into the instance's variables and decides a later branch;
// a failing peer takes on_error.
func TestWebhookStep(t *testing.T) {
	peer := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.URL.Path, "down") {
			w.WriteHeader(500)
			return
		}
		w.Write([]byte(`{"tier":"gold"}`))
	}))
	defer peer.Close()
	src := fmt.Sprintf(`
id: hook
name: Hook
category: service
entry: {trigger: {event: Ticket Opened}}
variables: {path: event.properties.path}
start: call
steps:
  call: {type: webhook, url: '%s/crm', body: '{"ticket": 1}', timeout: 2s, capture: {tier: response.body.tier}, next: route, on_error: failed}
  route: {type: branch, cases: [{when: 'journey.tier == "gold"', next: vip}], default: failed}
  vip: {type: send, channel: email, template: vip, next: done}
  failed: {type: send, channel: email, template: sorry, next: done}
  done: {type: exit}
`, peer.URL)
	d, err := journey.Parse("hook.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	cat, _ := machine.FromDefinitions([]*journey.Definition{d})
	h := newHarness(t, t.TempDir(), engine.Options{Partitions: 2, TimerTick: time.Millisecond, Webhooks: &webhook.Caller{}})
	clock := h.opts.Clock.(*core.ManualClock)
	h.start()
	h.eng.SetCatalog(cat)
	h.append([]core.Event{{SourceID: "s", MessageID: "1", Type: core.TypeTrack, Event: "Ticket Opened", UserID: "ann",
		Timestamp: clock.Now(), ReceivedAt: clock.Now(), Properties: json.RawMessage(`{}`)}}, true)
	h.waitIdle()
	out, err := h.st.ListOutbox(h.ctx, core.OutboxFilter{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != 1 || out[0].Template != "vip" || !strings.Contains(out[0].Vars, `"tier":"gold"`) {
		t.Fatalf("outbox = %+v, want the vip message with the captured tier", out)
	}
}

// TestVersionsAndPause: an instance started on version 1 finishes on it
// after version 2 is applied, new entries take version 2, and a paused
// journey takes none while its running instance goes on.
func TestVersionsAndPause(t *testing.T) {
	src := func(tmpl string) *journey.Definition {
		d, err := journey.Parse("v.yaml", []byte(`
id: v
name: Versions
entry: {trigger: {event: Go}, reentry: always}
start: wait
steps:
  wait: {type: wait, duration: 1h, next: send}
  send: {type: send, channel: email, template: `+tmpl+`, next: done}
  done: {type: exit}
`))
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	cat := machine.NewCatalog()
	cat.Add(src("first"), 1, core.JourneyActive)
	h := newHarness(t, t.TempDir(), engine.Options{Partitions: 2, TimerTick: time.Millisecond})
	clock := h.opts.Clock.(*core.ManualClock)
	h.start()
	h.eng.SetCatalog(cat)
	n := 0
	send := func(user string) {
		n++
		h.append([]core.Event{{SourceID: "s", MessageID: fmt.Sprint(n), Type: core.TypeTrack, Event: "Go", UserID: user,
			Timestamp: clock.Now(), ReceivedAt: clock.Now(), Properties: json.RawMessage(`{}`)}}, true)
		h.waitIdle()
	}
	send("a") // enters version 1
	cat = cat.Clone()
	cat.Add(src("second"), 2, core.JourneyActive)
	h.eng.SetCatalog(cat)
	send("b") // enters version 2
	cat = cat.Clone()
	cat.SetState("v", core.JourneyPaused)
	h.eng.SetCatalog(cat)
	send("c") // paused: no entry
	clock.Advance(time.Hour)
	h.waitIdle()

	out, err := h.st.ListOutbox(h.ctx, core.OutboxFilter{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	got := map[int]string{}
	for _, m := range out {
		got[m.Version] += m.Template
	}
	if len(out) != 2 || got[1] != "first" || got[2] != "second" {
		t.Fatalf("outbox = %+v, want version 1's first and version 2's second, nothing for the paused entry", out)
	}
	if st := h.eng.Stats(); st.Entered != 2 {
		t.Errorf("entered %d, want 2", st.Entered)
	}
}
