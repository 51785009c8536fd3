package machine

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/overture-cjo/overture/internal/analytics"
	"github.com/overture-cjo/overture/internal/core"
	"github.com/overture-cjo/overture/internal/policy"
)

const promo = `id: promo
name: Promo
category: marketing
entry: {trigger: {event: Go}, reentry: always}
holdout: 50
goal: {event: Bought, within: 2h}
exit: [{event: Stop}]
start: hello
steps:
  hello: {type: send, channel: email, template: hi, offer: spring, next: pause}
  pause: {type: wait, duration: 3h, next: nudge}
  nudge: {type: send, channel: sms, template: nudge, next: done}
  done: {type: exit, reason: finished}
`

const promoPolicy = `consent:
  channels: [sms]
quiet_hours:
  - {channel: sms, from: "21:00", to: "08:00"}
`

// armed returns n profile ids that draw into the holdout of journey id
// (control true) or not.
func armed(id string, holdout int, control bool, n int) []string {
	var out []string
	for i := 0; len(out) < n; i++ {
		p := fmt.Sprintf("p%d", i)
		if (draw(p, id, "") < holdout) == control {
			out = append(out, p)
		}
	}
	return out
}

// statsOf renders summed counters one per line, for comparison.
func statsOf(stats []core.JourneyStat) string {
	var b strings.Builder
	for _, s := range core.SumJourneyStats(stats) {
		fmt.Fprintf(&b, "%s@%d %q %s %q %d = %d\n", s.Journey, s.Version, s.Step, s.Metric, s.Dim, s.Day, s.N)
	}
	return b.String()
}

// TestJourneyStatsDeltas runs a small journey with a holdout, a goal with
// a window, an exit criterion and a contact policy for a handful of
// customers, and checks every counter delta the machine emits: entries
// per arm and day, step visits, sends, delays and suppressions by rule,
// exits by step and reason, goals within the window only (per arm, with
// time to goal and the conversions of the messages sent), and message
// events for known journey steps.
func TestJourneyStatsDeltas(t *testing.T) {
	pol, err := policy.Parse("policy.yaml", []byte(promoPolicy))
	if err != nil {
		t.Fatal(err)
	}
	m := machineFor(t, promo).With(Deciders{Policy: pol})
	treated := armed("promo", 50, false, 5)
	control := armed("promo", 50, true, 1)
	buyer, late, quiet, stopper, unconsented := treated[0], treated[1], treated[2], treated[3], treated[4]
	ctl := control[0]
	customers := map[string]*Customer{}
	var stats []core.JourneyStat
	var out Output
	timers := func(c *Customer, now time.Time) {
		for {
			var due *core.Instance
			for _, in := range c.Instances {
				if !in.Due.IsZero() && !in.Due.After(now) {
					due = in
				}
			}
			if due == nil {
				return
			}
			out.Reset()
			m.Timer(c, due.ID, due.Due, &out)
			stats = append(stats, out.JourneyStats...)
		}
	}
	event := func(id, name, props string, at time.Time) {
		c := customers[id]
		if c == nil {
			c = customer(id)
			if id != unconsented {
				c.Profile.Consent = map[string]core.Consent{"sms": {Granted: true, At: t0.Add(-time.Hour)}}
			}
			customers[id] = c
		}
		timers(c, at)
		out.Reset()
		m.Event(c, track(id, name, props, at), at, &out)
		stats = append(stats, out.JourneyStats...)
	}
	at := func(d time.Duration) time.Time { return t0.Add(d) } // t0 is 09:00 UTC
	for _, id := range []string{buyer, late, stopper, unconsented, ctl} {
		event(id, "Go", "", t0)
	}
	event(quiet, "Go", "", at(9*time.Hour)) // its sms falls due at 21:00: quiet hours
	event(buyer, "Bought", "", at(30*time.Minute))
	event(ctl, "Bought", "", at(time.Hour))
	event(late, "Bought", "", at(150*time.Minute)) // after the 2h window: not a goal
	event(stopper, "Stop", "", at(time.Hour))
	// Message events about the buyer's email; one names a step the
	// journey does not have, one a journey the machine does not know.
	msg := `{"journey":"promo","version":1,"step":"hello","channel":"email","offer":"spring","key":"k"}`
	event(buyer, "message_delivered", msg, at(time.Minute))
	event(buyer, "message_opened", msg, at(2*time.Minute))
	event(buyer, "message_clicked", msg, at(3*time.Minute))
	event(late, "message_failed", strings.Replace(msg, "spring", "", 1), at(time.Minute))
	event(late, "message_delivered", strings.Replace(msg, "hello", "nope", 1), at(time.Minute))
	event(late, "message_delivered", strings.Replace(msg, "promo", "other", 1), at(time.Minute))
	event(late, "message_delivered", `{"journey":"promo","version":1,"step":"hello"}`, at(time.Minute)) // no channel
	for _, c := range customers {
		timers(c, at(48*time.Hour))
	}

	d0, d1 := core.StatDay(t0), core.StatDay(t0.Add(24*time.Hour))
	ttg := func(arm string, d time.Duration) string { return core.TimeToGoalDim(arm, analytics.Bucket(d)) }
	want := []core.JourneyStat{
		{Step: "", Metric: core.StatEntered, Dim: core.ArmControl, Day: d0, N: 1},
		{Step: "", Metric: core.StatEntered, Dim: core.ArmTreatment, Day: d0, N: 5},
		{Step: "", Metric: core.StatTimeToGoal, Dim: ttg(core.ArmControl, time.Hour), N: 1},
		{Step: "", Metric: core.StatTimeToGoal, Dim: ttg(core.ArmTreatment, 30*time.Minute), N: 1},
		{Step: "done", Metric: core.StatExited, Dim: "finished", N: 3}, // late, quiet, unconsented
		{Step: "done", Metric: core.StatReached, N: 3},
		{Step: "hello", Metric: core.StatClicked, Dim: "email/spring", N: 1},
		{Step: "hello", Metric: core.StatConverted, Dim: "email/spring", N: 1}, // the buyer; the control group was sent nothing
		{Step: "hello", Metric: core.StatDelivered, Dim: "email/spring", N: 1},
		{Step: "hello", Metric: core.StatFailed, Dim: "email/", N: 1},
		{Step: "hello", Metric: core.StatOpened, Dim: "email/spring", N: 1},
		{Step: "hello", Metric: core.StatReached, N: 6},
		{Step: "hello", Metric: core.StatSent, Dim: "email/spring", Day: d0, N: 5},
		{Step: "hello", Metric: core.StatSuppressed, Dim: "holdout", Day: d0, N: 1},
		{Step: "nudge", Metric: core.StatDelayed, Dim: "quiet_hours:sms", N: 1},
		{Step: "nudge", Metric: core.StatReached, N: 3},
		{Step: "nudge", Metric: core.StatSent, Dim: "sms/", Day: d0, N: 1}, // late
		{Step: "nudge", Metric: core.StatSent, Dim: "sms/", Day: d1, N: 1}, // quiet, at 08:00 the next day
		{Step: "nudge", Metric: core.StatSuppressed, Dim: "consent:sms", Day: d0, N: 1},
		{Step: "pause", Metric: core.StatExited, Dim: "exit[0] event Stop", N: 1},
		{Step: "pause", Metric: core.StatExited, Dim: "goal", N: 2},
		{Step: "pause", Metric: core.StatGoal, Dim: core.ArmControl, Day: d0, N: 1},
		{Step: "pause", Metric: core.StatGoal, Dim: core.ArmTreatment, Day: d0, N: 1},
		{Step: "pause", Metric: core.StatReached, N: 6},
	}
	for i := range want {
		want[i].Journey, want[i].Version = "promo", 1
	}
	if got, w := statsOf(stats), statsOf(want); got != w {
		t.Errorf("counters:\n%s\nwant\n%s", got, w)
	}
}

// TestJourneyStatsFollowTrace: on a stream of inputs the counters equal
// what the trace and decisions say, record by record, so no fact is
// counted twice or missed (reached counts each step's first record per
// visit: every step records when it runs).
func TestJourneyStatsFollowTrace(t *testing.T) {
	m := machineFor(t, promo)
	var out Output
	c := customer(armed("promo", 50, false, 1)[0])
	var stats []core.JourneyStat
	var decisions []*core.Decision
	var trace []Record
	for i := range 20 {
		now := t0.Add(time.Duration(i) * 40 * time.Minute)
		for _, in := range append([]*core.Instance(nil), c.Instances...) {
			if !in.Due.IsZero() && !in.Due.After(now) {
				out.Reset()
				m.Timer(c, in.ID, in.Due, &out)
				stats, decisions, trace = append(stats, out.JourneyStats...), append(decisions, out.Decisions...), append(trace, out.Trace...)
			}
		}
		name := []string{"Go", "Bought", "Go", "Stop"}[i%4]
		out.Reset()
		m.Event(c, track(c.Profile.ID, name, "", now), now, &out)
		stats, decisions, trace = append(stats, out.JourneyStats...), append(decisions, out.Decisions...), append(trace, out.Trace...)
	}
	var n = map[string]int64{}
	for _, s := range stats {
		n[s.Metric] += s.N
	}
	count := map[string]int64{}
	for _, r := range trace {
		switch r.Kind {
		case core.RecordEntered:
			count[core.StatEntered]++
		case core.RecordGoal:
			count[core.StatGoal]++
		case core.RecordExit:
			count[core.StatExited]++
		}
	}
	for _, d := range decisions {
		switch d.Outcome {
		case core.OutcomeSend:
			count[core.StatSent]++
		case core.OutcomeDelay:
			count[core.StatDelayed]++
		default:
			count[core.StatSuppressed]++
		}
	}
	for _, metric := range []string{core.StatEntered, core.StatGoal, core.StatExited, core.StatSent, core.StatDelayed, core.StatSuppressed} {
		if n[metric] != count[metric] {
			t.Errorf("%s: counted %d, the trace and decisions say %d", metric, n[metric], count[metric])
		}
	}
	if count[core.StatEntered] == 0 || count[core.StatGoal] == 0 || count[core.StatExited] == 0 {
		t.Errorf("the stream did not exercise entries, goals and exits: %v", count)
	}
}
