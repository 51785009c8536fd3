package machine

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/overture-cjo/overture/internal/core"
	"github.com/overture-cjo/overture/internal/journey"
)

// The golden traces in internal/simulate cover each step type and rule;
// these tests cover what a simulation cannot reach: inputs that arrive
// stale or out of order, versions the machine does not know, and limits.

var t0 = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

// parse parses a journey definition or fails the test.
func parse(t *testing.T, src string) *journey.Definition {
	t.Helper()
	d, err := journey.Parse("test.yaml", []byte(src))
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	return d
}

// machineFor returns a machine running the definitions, each as version 1.
func machineFor(t *testing.T, srcs ...string) *Machine {
	t.Helper()
	var defs []*journey.Definition
	for _, s := range srcs {
		defs = append(defs, parse(t, s))
	}
	cat, err := FromDefinitions(defs)
	if err != nil {
		t.Fatal(err)
	}
	return New(cat, nil)
}

// track returns a track event for profile id at time at.
func track(id, name, props string, at time.Time) *core.Event {
	e := &core.Event{Type: core.TypeTrack, Event: name, UserID: id, ProfileID: id, Timestamp: at}
	if props != "" {
		e.Properties = []byte(props)
	}
	return e
}

// customer returns a new customer with an empty profile.
func customer(id string) *Customer {
	return &Customer{Profile: core.NewProfile(id, t0)}
}

// kinds lists the trace's records as "step kind" (or "kind" without a step).
func kinds(rs []Record) string {
	var s []string
	for _, r := range rs {
		if r.Step == "" {
			s = append(s, r.Kind)
		} else {
			s = append(s, r.Step+" "+r.Kind)
		}
	}
	return strings.Join(s, ", ")
}

const waiter = `id: waiter
name: Waiter
entry: {trigger: {event: Go}, reentry: always}
start: wait
steps:
  wait: {type: wait, duration: 1h, next: hello}
  hello: {type: send, channel: email, template: hi, next: done}
  done: {type: exit}
`

func TestStaleTimerIgnored(t *testing.T) {
	m := machineFor(t, waiter)
	c := customer("u1")
	var out Output
	m.Event(c, track("u1", "Go", "", t0), t0, &out)
	if len(c.Instances) != 1 {
		t.Fatalf("instances = %d, want 1", len(c.Instances))
	}
	in := c.Instances[0]
	due := in.Due
	if !due.Equal(t0.Add(time.Hour)) {
		t.Fatalf("due = %v, want %v", due, t0.Add(time.Hour))
	}

	for _, tc := range []struct {
		name     string
		instance string
		due      time.Time
	}{
		{"earlier due", in.ID, due.Add(-time.Minute)},
		{"later due", in.ID, due.Add(time.Minute)},
		{"unknown instance", "waiter:u1:9", due},
	} {
		out.Reset()
		m.Timer(c, tc.instance, tc.due, &out)
		if len(out.Trace) != 0 || len(out.Changed) != 0 || in.Step != "wait" || !in.Due.Equal(due) {
			t.Errorf("%s: the timer acted: trace %q, step %q, due %v", tc.name, kinds(out.Trace), in.Step, in.Due)
		}
	}

	out.Reset()
	m.Timer(c, in.ID, due, &out)
	if got, want := kinds(out.Trace), "wait resumed, hello send, done exit"; got != want {
		t.Fatalf("due timer: trace %q, want %q", got, want)
	}
	// The same timer again, after the instance ended: nothing.
	out.Reset()
	m.Timer(c, in.ID, due, &out)
	if len(out.Trace) != 0 {
		t.Errorf("timer after the end: trace %q", kinds(out.Trace))
	}
}

const caller = `id: caller
name: Caller
entry: {trigger: {event: Go}}
start: call
steps:
  call: {type: webhook, url: 'https://example.com/hook', timeout: 5s, capture: {got: response.body.v}, next: ok, on_error: failed}
  ok: {type: exit, reason: ok}
  failed: {type: exit, reason: failed}
`

func TestReplyWithWrongSeqIgnored(t *testing.T) {
	m := machineFor(t, caller)
	c := customer("u1")
	var out Output
	m.Event(c, track("u1", "Go", "", t0), t0, &out)
	if len(out.Webhooks) != 1 {
		t.Fatalf("webhooks = %d, want 1", len(out.Webhooks))
	}
	h := out.Webhooks[0]
	in := c.Instances[0]

	for _, rep := range []Reply{
		{InstanceID: h.InstanceID, Seq: h.Seq - 1, Status: 200, Body: []byte(`{"v": 1}`)},
		{InstanceID: h.InstanceID, Seq: h.Seq + 1, Status: 200, Body: []byte(`{"v": 1}`)},
		{InstanceID: "caller:u1:2", Seq: h.Seq, Status: 200},
	} {
		out.Reset()
		m.Reply(c, rep, t0.Add(time.Second), &out)
		if len(out.Trace) != 0 || in.Step != "call" || in.Vars != nil {
			t.Errorf("reply %+v acted: trace %q, step %q, vars %v", rep, kinds(out.Trace), in.Step, in.Vars)
		}
	}

	out.Reset()
	m.Reply(c, Reply{InstanceID: h.InstanceID, Seq: h.Seq, Status: 200, Body: []byte(`{"v": 7}`)}, t0.Add(time.Second), &out)
	if got, want := kinds(out.Trace), "call resumed, ok exit"; got != want {
		t.Fatalf("right reply: trace %q, want %q", got, want)
	}
	if in.Vars["got"] != float64(7) {
		t.Errorf("captured %v, want 7", in.Vars["got"])
	}
	// A late duplicate of the reply, and the timeout timer: nothing.
	out.Reset()
	m.Reply(c, Reply{InstanceID: h.InstanceID, Seq: h.Seq, Status: 500}, t0.Add(2*time.Second), &out)
	m.Timer(c, in.ID, t0.Add(5*time.Second), &out)
	if len(out.Trace) != 0 || in.EndReason != "ok" {
		t.Errorf("after the reply: trace %q, end reason %q", kinds(out.Trace), in.EndReason)
	}
}

func TestWebhookTimeoutThenLateReply(t *testing.T) {
	m := machineFor(t, caller)
	c := customer("u1")
	var out Output
	m.Event(c, track("u1", "Go", "", t0), t0, &out)
	h := out.Webhooks[0]
	in := c.Instances[0]
	out.Reset()
	m.Timer(c, in.ID, t0.Add(5*time.Second), &out)
	if got, want := kinds(out.Trace), "call resumed, failed exit"; got != want {
		t.Fatalf("timeout: trace %q, want %q", got, want)
	}
	out.Reset()
	m.Reply(c, Reply{InstanceID: h.InstanceID, Seq: h.Seq, Status: 200}, t0.Add(6*time.Second), &out)
	if len(out.Trace) != 0 || in.EndReason != "failed" {
		t.Errorf("late reply acted: trace %q, end reason %q", kinds(out.Trace), in.EndReason)
	}
}

func TestUnknownVersionLeftAlone(t *testing.T) {
	m := machineFor(t, waiter)
	c := customer("u1")
	// An instance of version 2, which this catalog (version 1 only) does
	// not have: a server mid-deploy, say.
	in := &core.Instance{
		ID: "waiter:u1:1", ProfileID: "u1", JourneyID: "waiter", Version: 2,
		Status: core.InstanceActive, Step: "wait", Due: t0.Add(time.Hour), EnteredAt: t0, UpdatedAt: t0,
	}
	c.Instances = append(c.Instances, in)
	c.Profile.Enter("waiter", t0)
	before := *in

	var out Output
	m.Timer(c, in.ID, in.Due, &out)
	m.Event(c, track("u1", "Other", "", t0.Add(2*time.Hour)), t0.Add(2*time.Hour), &out)
	m.Reply(c, Reply{InstanceID: in.ID, Seq: in.Steps, Status: 200}, t0.Add(2*time.Hour), &out)
	if len(out.Trace) != 0 || len(out.Changed) != 0 {
		t.Errorf("unknown version acted: trace %q, changed %d", kinds(out.Trace), len(out.Changed))
	}
	if in.Step != before.Step || !in.Due.Equal(before.Due) || in.Status != before.Status || len(in.History) != 0 {
		t.Errorf("instance changed: %+v", in)
	}

	// The instance still counts as the customer being in the journey: a
	// trigger is refused (the trace says so), and the instance untouched.
	out.Reset()
	m.Event(c, track("u1", "Go", "", t0.Add(3*time.Hour)), t0.Add(3*time.Hour), &out)
	if len(c.Instances) != 1 || c.Instances[0] != in || in.Step != "wait" ||
		len(out.Trace) != 1 || out.Trace[0].Kind != core.RecordNotEntered || len(out.Changed) != 0 {
		t.Errorf("after a trigger: instances %+v, trace %q", c.Instances, kinds(out.Trace))
	}
}

func TestMaxHistory(t *testing.T) {
	m := machineFor(t, `id: looper
name: Looper
entry: {trigger: {event: Go}}
start: wait
steps:
  wait: {type: wait, duration: 1m, next: again}
  again: {type: branch, cases: [{when: 'false', next: done}], default: wait}
  done: {type: exit}
`)
	c := customer("u1")
	var out Output
	m.Event(c, track("u1", "Go", "", t0), t0, &out)
	in := c.Instances[0]
	// Each timer adds 3 records (resumed, branch, wait).
	n := MaxHistory/3 + 10
	for i := 0; i < n; i++ {
		out.Reset()
		m.Timer(c, in.ID, in.Due, &out)
	}
	if len(in.History) != MaxHistory {
		t.Fatalf("history has %d records, want %d", len(in.History), MaxHistory)
	}
	if in.History[0].Kind != core.RecordEntered {
		t.Errorf("first record is %q, want the entry kept", in.History[0].Kind)
	}
	last := in.History[len(in.History)-1]
	if last.Kind != core.RecordWait || !last.At.Equal(t0.Add(time.Duration(n)*time.Minute)) {
		t.Errorf("last record %+v, want the latest wait at +%dm", last, n)
	}
	// The records kept after the entry are the newest, in order.
	for i := 2; i < len(in.History); i++ {
		if in.History[i].At.Before(in.History[i-1].At) {
			t.Fatalf("history out of order at %d: %v before %v", i, in.History[i].At, in.History[i-1].At)
		}
	}
	if got := in.History[1].At; !got.After(t0.Add(time.Duration(n-MaxHistory/3-1) * time.Minute)) {
		t.Errorf("oldest kept record after the entry is at %v: older ones were kept", got)
	}
}

func TestEnterJourneySeesProfileUpdate(t *testing.T) {
	// outer reads the profile, enters inner (which sets a trait at once),
	// then branches on that trait: it must see the new value.
	m := machineFor(t, `id: outer
name: Outer
entry: {trigger: {event: Go}}
start: before
steps:
  before: {type: branch, cases: [{when: 'has(profile.traits.tier)', next: done}], default: hand_over}
  hand_over: {type: enter_journey, journey: inner, next: after}
  after: {type: branch, cases: [{when: 'has(profile.traits.tier) && profile.traits.tier == "gold"', next: gold}], default: done}
  gold: {type: send, channel: email, template: gold, next: done}
  done: {type: exit}
`, `id: inner
name: Inner
entry: {trigger: {event: Never}}
start: set
steps:
  set: {type: update_profile, set: {tier: '"gold"'}, next: done}
  done: {type: exit}
`)
	c := customer("u1")
	var out Output
	m.Event(c, track("u1", "Go", "", t0), t0, &out)
	var got []string
	for _, r := range out.Trace {
		got = append(got, r.Journey+" "+r.Step+" "+r.Kind+" "+r.Detail)
	}
	want := []string{
		"outer  entered trigger Go",
		"outer before branch default",
		"outer hand_over enter inner: entered",
		"inner  entered from outer",
		`inner set update tier="gold"`,
		"inner done exit exit step",
		`outer after branch case 0 has(profile.traits.tier) && profile.traits.tier == "gold"`,
		"outer gold send email gold",
		"outer done exit exit step",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("trace:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestEnterJourneyRefusals(t *testing.T) {
	const outer = `id: outer
name: Outer
entry: {trigger: {event: Go}, reentry: always, max_concurrent: 5}
start: hand_over
steps:
  hand_over: {type: enter_journey, journey: inner, next: done}
  done: {type: exit}
`
	const inner = `id: inner
name: Inner
entry: {trigger: {event: Never}, reentry: always, max_concurrent: 1}
start: wait
steps:
  wait: {type: wait, duration: 1d, next: done}
  done: {type: exit}
`
	m := machineFor(t, outer, inner)
	c := customer("u1")
	var out Output
	m.Event(c, track("u1", "Go", "", t0), t0, &out)
	out.Reset()
	m.Event(c, track("u1", "Go", "", t0.Add(time.Hour)), t0.Add(time.Hour), &out)
	if got := enterDetail(out.Trace); got != "inner: not entered (at most 1 at once)" {
		t.Errorf("second entry: %q", got)
	}

	// A paused journey is not entered.
	cat := m.Catalog().Clone()
	cat.SetState("inner", core.JourneyPaused)
	m2 := New(cat, nil)
	c2 := customer("u2")
	out.Reset()
	m2.Event(c2, track("u2", "Go", "", t0), t0, &out)
	if got := enterDetail(out.Trace); got != "inner: paused" {
		t.Errorf("paused: %q", got)
	}
	if len(c2.Instances) != 0 {
		t.Errorf("instances: %+v", c2.Instances)
	}
}

func enterDetail(rs []Record) string {
	for _, r := range rs {
		if r.Kind == core.RecordEnter {
			return r.Detail
		}
	}
	return "(no enter record)"
}

func TestConditionErrorRecorded(t *testing.T) {
	m := machineFor(t, `id: strict
name: Strict
entry: {trigger: {event: Go}}
start: check
steps:
  check: {type: branch, cases: [{when: 'event.properties.total > 20.0', next: big}], default: small}
  big: {type: exit, reason: big}
  small: {type: exit, reason: small}
`)
	c := customer("u1")
	var out Output
	m.Event(c, track("u1", "Go", `{}`, t0), t0, &out)
	if got, want := kinds(out.Trace), "entered, check error, check branch, small exit"; got != want {
		t.Fatalf("trace %q, want %q", got, want)
	}
	if d := out.Trace[1].Detail; !strings.Contains(d, "steps.check.cases[0].when") || !strings.Contains(d, "total") {
		t.Errorf("error detail %q does not name the field and the key", d)
	}
}

func TestHoldoutCarriesIntoEnteredJourney(t *testing.T) {
	const outer = `id: outer
name: Outer
holdout: 50
entry: {trigger: {event: Go}}
start: hand_over
steps:
  hand_over: {type: enter_journey, journey: inner, next: done}
  done: {type: exit}
`
	const inner = `id: inner
name: Inner
entry: {trigger: {event: Never}}
start: hello
steps:
  hello: {type: send, channel: email, template: hi, next: done}
  done: {type: exit}
`
	m := machineFor(t, outer, inner)
	// One customer in outer's holdout, one not (inner has no holdout).
	var held, treated string
	for i := 0; held == "" || treated == ""; i++ {
		id := "u" + strconv.Itoa(i)
		if draw(id, "outer", "") < 50 {
			held = id
		} else {
			treated = id
		}
	}
	for _, tc := range []struct {
		id       string
		holdout  bool
		outboxes int
	}{{held, true, 0}, {treated, false, 1}} {
		c := customer(tc.id)
		var out Output
		m.Event(c, track(tc.id, "Go", "", t0), t0, &out)
		if len(out.Changed) != 2 {
			t.Fatalf("%s: %d instances changed, want 2", tc.id, len(out.Changed))
		}
		for _, in := range out.Changed {
			if in.Holdout != tc.holdout {
				t.Errorf("%s: %s holdout = %v, want %v", tc.id, in.JourneyID, in.Holdout, tc.holdout)
			}
		}
		if len(out.Outbox) != tc.outboxes {
			t.Errorf("%s: %d messages, want %d", tc.id, len(out.Outbox), tc.outboxes)
		}
	}
}

func TestEnterJourneyDepthLimit(t *testing.T) {
	// A journey that enters itself, as often as it likes.
	m := machineFor(t, `id: again
name: Again
entry: {trigger: {event: Go}, reentry: always, max_concurrent: 1000}
start: hand_over
steps:
  hand_over: {type: enter_journey, journey: again, next: wait}
  wait: {type: wait, duration: 1h, next: done}
  done: {type: exit}
`)
	c := customer("u1")
	var out Output
	m.Event(c, track("u1", "Go", "", t0), t0, &out)
	if len(c.Instances) != MaxEnterDepth+1 {
		t.Errorf("%d instances, want %d (the triggered one and %d nested)", len(c.Instances), MaxEnterDepth+1, MaxEnterDepth)
	}
	var refused int
	for _, r := range out.Trace {
		if r.Kind == core.RecordEnter && strings.Contains(r.Detail, "journeys deep") {
			refused++
		}
	}
	if refused != 1 {
		t.Errorf("%d refusals for depth, want 1", refused)
	}
}
