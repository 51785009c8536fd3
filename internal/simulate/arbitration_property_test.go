package simulate_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/overture-cjo/overture/internal/core"
	"github.com/overture-cjo/overture/internal/journey"
	"github.com/overture-cjo/overture/internal/machine"
	"github.com/overture-cjo/overture/internal/policy"
	"github.com/overture-cjo/overture/internal/proptest"
	"github.com/overture-cjo/overture/internal/simulate"
)

// The property test below draws a contact policy, journeys, customers and
// their events, runs them through the simulator (machine and policy
// together), and checks every decision against an oracle recomputed from
// the drawn inputs and the trace, without policy.Decide.

var (
	arbChannels   = []string{"email", "sms", "push"}
	arbCategories = []string{"service", "marketing", "fraud", "transactional"}
	arbZones      = []string{"", "UTC", "Europe/Berlin", "America/New_York", "Asia/Tokyo", "Asia/Kolkata", "Australia/Lord_Howe"}
	// Days just before DST changes (America/New_York 8 Mar and 1 Nov,
	// Europe/Berlin 29 Mar and 25 Oct, Australia/Lord_Howe 5 Apr and 4
	// Oct 2026), and one without.
	arbStarts = []time.Time{
		time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2026, 3, 6, 0, 0, 0, 0, time.UTC),
		time.Date(2026, 3, 27, 0, 0, 0, 0, time.UTC),
		time.Date(2026, 4, 3, 0, 0, 0, 0, time.UTC),
		time.Date(2026, 10, 2, 0, 0, 0, 0, time.UTC),
		time.Date(2026, 10, 23, 0, 0, 0, 0, time.UTC),
		time.Date(2026, 10, 30, 0, 0, 0, 0, time.UTC),
	}
)

// arbSlot is the granularity of drawn times and durations: coarse, so
// that events, timers and windows often coincide.
const arbSlot = 15 * time.Minute

// The marker journey, entered by every identify; it sends nothing, and
// its category is one no rule names.
const (
	arbMarker     = "marker"
	arbMarkerYAML = `id: marker
name: Marks identifies in the trace
category: onboarding
entry:
  trigger: {event: identify}
  reentry: always
start: done
steps:
  done: {type: exit, reason: marked}
`
)

type arbSend struct {
	channel    string        // a channel, or best
	candidates []string      // with best: the channels it may choose
	expires    time.Duration // expires_after; 0: none
	deadline   time.Time     // the deadline expression's value; zero: none
}

type arbJourney struct {
	id, category string
	priority     int
	sends        map[string]arbSend // by step name
	yaml         string
}

type arbQuiet struct {
	channel  string // "" for every channel
	from, to int    // minutes after local midnight
}

type arbCap struct {
	channel, category string // "" for any
	max               int
	window            time.Duration
}

type arbRule struct {
	whileCategory, whileJourney, suppressCategory, suppressJourney string
}

type arbPolicy struct {
	consent, override []string
	quiet             []arbQuiet
	caps              []arbCap
	rules             []arbRule
	priorityWindow    time.Duration
	yaml              string
}

// arbIdentify is an identify event as the oracle sees it.
type arbIdentify struct {
	at      time.Time
	consent map[string]bool // channels it sets
	zone    string          // "" if it sets none
}

type arbEvent struct {
	at       time.Time
	customer string
	identify *arbIdentify // nil for a track event
	line     string
}

func arbMinutes(d time.Duration) string { return fmt.Sprintf("%dm", int(d/time.Minute)) }

func arbClock(m int) string { return fmt.Sprintf("%02d:%02d", m/60, m%60) }

// drawArbJourneys draws 3-5 journeys j0.., each triggered by start_jN and
// ended by stop_jN (some also by the goal ping_b), with 1-3 sends (on a
// channel or best, some with expires_after or a deadline) one after the
// other or separated by a wait (a duration or a time of day) or a
// wait_for step (ping_a or ping_b).
func drawArbJourneys(t *rapid.T, t0 time.Time) []*arbJourney {
	var js []*arbJourney
	for i := range rapid.IntRange(3, 5).Draw(t, "journeys") {
		l := func(s string) string { return fmt.Sprintf("j%d.%s", i, s) }
		slots := func(lo, hi int, label string) time.Duration {
			return time.Duration(rapid.IntRange(lo, hi).Draw(t, l(label))) * arbSlot
		}
		j := &arbJourney{
			id:       fmt.Sprintf("j%d", i),
			category: rapid.SampledFrom(arbCategories).Draw(t, l("category")),
			priority: rapid.SampledFrom([]int{50, 10, 90}).Draw(t, l("priority")),
			sends:    map[string]arbSend{},
		}
		var b strings.Builder
		fmt.Fprintf(&b, "id: %s\nname: Journey %d\ncategory: %s\npriority: %d\n", j.id, i, j.category, j.priority)
		if rapid.Bool().Draw(t, l("drop_outranked")) {
			b.WriteString("when_outranked: drop\n")
		}
		fmt.Fprintf(&b, "entry:\n  trigger: {event: start_%s}\n", j.id)
		switch rapid.IntRange(0, 2).Draw(t, l("reentry")) {
		case 1:
			b.WriteString("  reentry: always\n")
		case 2:
			fmt.Fprintf(&b, "  reentry: {after: %s}\n", arbMinutes(slots(1, 4*24, "reentry_after")))
		}
		if n := rapid.IntRange(1, 2).Draw(t, l("max_concurrent")); n > 1 {
			fmt.Fprintf(&b, "  max_concurrent: %d\n", n)
		}
		if rapid.IntRange(0, 3).Draw(t, l("goal")) == 3 {
			b.WriteString("goal: {event: ping_b}\n")
		}
		fmt.Fprintf(&b, "exit:\n  - event: stop_%s\nstart: s0\nsteps:\n", j.id)
		n := rapid.IntRange(1, 3).Draw(t, l("sends"))
		for k := range n {
			name := fmt.Sprintf("s%d", k)
			s := arbSend{channel: rapid.SampledFrom([]string{"email", "sms", "push", journey.ChannelBest}).Draw(t, l(name+".channel"))}
			fmt.Fprintf(&b, "  %s: {type: send, channel: %s, template: %s-%s", name, s.channel, j.id, name)
			if s.channel == journey.ChannelBest {
				s.candidates = core.Channels
				if rapid.Bool().Draw(t, l(name+".candidates")) {
					s.candidates = rapid.SliceOfNDistinct(rapid.SampledFrom(arbChannels), 1, 3, rapid.ID).Draw(t, l(name+".channels"))
					fmt.Fprintf(&b, ", channels: [%s]", strings.Join(s.candidates, ", "))
				}
			}
			if rapid.Bool().Draw(t, l(name+".expires")) {
				s.expires = slots(1, 3*24*4, name+".expires_after")
				fmt.Fprintf(&b, ", expires_after: %s", arbMinutes(s.expires))
			}
			if rapid.IntRange(0, 3).Draw(t, l(name+".has_deadline")) == 3 {
				s.deadline = t0.Add(slots(0, 6*24*4, name+".deadline"))
				fmt.Fprintf(&b, `, deadline: 'timestamp("%s")'`, s.deadline.Format(time.RFC3339))
			}
			j.sends[name] = s
			next := fmt.Sprintf("s%d", k+1)
			gap := fmt.Sprintf("g%d", k)
			if k+1 == n {
				b.WriteString(", next: done}\n")
				continue
			}
			switch rapid.IntRange(0, 3).Draw(t, l(gap+".kind")) {
			case 0: // straight on
				fmt.Fprintf(&b, ", next: %s}\n", next)
			case 1:
				fmt.Fprintf(&b, ", next: %s}\n  %s: {type: wait, duration: %s, next: %s}\n", gap, gap,
					arbMinutes(slots(1, 2*24*4, gap+".duration")), next)
			case 2:
				onEvent := next
				if rapid.Bool().Draw(t, l(gap+".skip")) {
					onEvent = "done"
				}
				fmt.Fprintf(&b, ", next: %s}\n  %s: {type: wait_for, event: %s, timeout: %s, on_event: %s, on_timeout: %s}\n",
					gap, gap, rapid.SampledFrom([]string{"ping_a", "ping_b"}).Draw(t, l(gap+".event")),
					arbMinutes(slots(1, 2*24*4, gap+".timeout")), onEvent, next)
			case 3: // to a time of day in the customer's timezone
				fmt.Fprintf(&b, ", next: %s}\n  %s: {type: wait, until: {time: %q}, next: %s}\n", gap, gap,
					arbClock(15*rapid.IntRange(0, 95).Draw(t, l(gap+".until"))), next)
			}
		}
		b.WriteString("  done: {type: exit, reason: finished}\n")
		j.yaml = b.String()
		js = append(js, j)
	}
	return js
}

// drawArbPolicy draws a contact policy as a file. Every quiet period
// avoids one drawn quarter hour, so no channel is quiet all day.
func drawArbPolicy(t *rapid.T, js []*arbJourney) *arbPolicy {
	p := &arbPolicy{
		consent:  rapid.SliceOfDistinct(rapid.SampledFrom(arbChannels), rapid.ID).Draw(t, "consent"),
		override: rapid.SliceOfDistinct(rapid.SampledFrom(arbCategories), rapid.ID).Draw(t, "override"),
	}
	var b strings.Builder
	fmt.Fprintf(&b, "consent:\n  channels: [%s]\n  override_categories: [%s]\n", strings.Join(p.consent, ", "), strings.Join(p.override, ", "))

	free := 15 * rapid.IntRange(0, 95).Draw(t, "quiet.free")
	for _, ch := range append([]string{""}, arbChannels...) {
		for i := range rapid.IntRange(0, 2).Draw(t, "quiet."+ch) {
			l := fmt.Sprintf("quiet.%s%d", ch, i)
			a := rapid.IntRange(0, 94).Draw(t, l+".start")
			n := rapid.IntRange(1, 95-a).Draw(t, l+".length")
			from := (free + 15 + 15*a) % (24 * 60)
			p.quiet = append(p.quiet, arbQuiet{channel: ch, from: from, to: (from + 15*n) % (24 * 60)})
		}
	}
	if len(p.quiet) > 0 {
		b.WriteString("quiet_hours:\n")
		for _, q := range p.quiet {
			b.WriteString("  - {")
			if q.channel != "" {
				fmt.Fprintf(&b, "channel: %s, ", q.channel)
			}
			fmt.Fprintf(&b, "from: %q, to: %q}\n", arbClock(q.from), arbClock(q.to))
		}
	}

	for i := range rapid.IntRange(0, 3).Draw(t, "caps") {
		l := fmt.Sprintf("cap%d", i)
		p.caps = append(p.caps, arbCap{
			channel:  rapid.SampledFrom(append([]string{""}, arbChannels...)).Draw(t, l+".channel"),
			category: rapid.SampledFrom(append([]string{""}, arbCategories...)).Draw(t, l+".category"),
			max:      rapid.IntRange(1, 3).Draw(t, l+".max"),
			window:   time.Duration(rapid.IntRange(1, 72).Draw(t, l+".window_hours")) * time.Hour,
		})
	}
	if len(p.caps) > 0 {
		b.WriteString("frequency_caps:\n")
		for i, c := range p.caps {
			fmt.Fprintf(&b, "  - {name: cap%d", i)
			if c.channel != "" {
				fmt.Fprintf(&b, ", channel: %s", c.channel)
			}
			if c.category != "" {
				fmt.Fprintf(&b, ", category: %s", c.category)
			}
			fmt.Fprintf(&b, ", max: %d, window: %dh}\n", c.max, int(c.window/time.Hour))
		}
	}

	ids := make([]string, len(js))
	for i, j := range js {
		ids[i] = j.id
	}
	if n := rapid.IntRange(0, 2).Draw(t, "rules"); n > 0 {
		b.WriteString("suppression:\n")
		for i := range n {
			l := fmt.Sprintf("rule%d", i)
			var r arbRule
			fmt.Fprintf(&b, "  - {name: rule%d", i)
			if rapid.Bool().Draw(t, l+".while_journey") {
				r.whileJourney = rapid.SampledFrom(ids).Draw(t, l+".while")
				fmt.Fprintf(&b, ", while_journey: %s", r.whileJourney)
			} else {
				r.whileCategory = rapid.SampledFrom(arbCategories).Draw(t, l+".while")
				fmt.Fprintf(&b, ", while_category: %s", r.whileCategory)
			}
			if rapid.Bool().Draw(t, l+".suppress_journey") {
				r.suppressJourney = rapid.SampledFrom(ids).Draw(t, l+".suppress")
				fmt.Fprintf(&b, ", suppress_journey: %s", r.suppressJourney)
			} else {
				r.suppressCategory = rapid.SampledFrom(arbCategories).Draw(t, l+".suppress")
				fmt.Fprintf(&b, ", suppress_category: %s", r.suppressCategory)
			}
			fmt.Fprintf(&b, ", action: %s}\n", rapid.SampledFrom([]string{"hold", "drop"}).Draw(t, l+".action"))
			p.rules = append(p.rules, r)
		}
	}
	if rapid.Bool().Draw(t, "priority") {
		p.priorityWindow = time.Duration(rapid.IntRange(30, 120).Draw(t, "priority_window_minutes")) * time.Minute
		fmt.Fprintf(&b, "priority_window: %s\n", arbMinutes(p.priorityWindow))
	}
	p.yaml = b.String()
	return p
}

// drawArbIdentify draws an identify's consent changes and timezone.
func drawArbIdentify(t *rapid.T, label string) (map[string]bool, string) {
	consent := map[string]bool{}
	for _, ch := range arbChannels {
		switch rapid.IntRange(0, 2).Draw(t, label+"."+ch) {
		case 1:
			consent[ch] = true
		case 2:
			consent[ch] = false
		}
	}
	return consent, rapid.SampledFrom(arbZones).Draw(t, label+".timezone")
}

func arbIdentifyLine(id string, at time.Time, consent map[string]bool, zone string) string {
	m := map[string]any{"type": "identify", "userId": id, "timestamp": at.Format(time.RFC3339),
		"traits": map[string]any{"consent": consent}}
	if zone != "" {
		m["context"] = map[string]any{"timezone": zone}
	}
	b, _ := json.Marshal(m)
	return string(b)
}

// TestPropertySimulatedSendsObeyPolicy checks, through the machine and
// the simulator, that no sequence of events and times gets a message sent
// against the contact policy. Each send decision is checked, in trace
// order, against what the drawn inputs say at that point: consent (as the
// profile keeps it: the latest identify wins, a tie revokes) unless the
// category overrides it, quiet hours in the customer's timezone, every
// matching cap counting the sends before it, suppression rules against
// the instances active then, the priority window, and the send's
// deadline. Delays must end after they start, by the deadline and (quiet
// hours) outside quiet hours, and be decided again then (a suppression
// hold as soon as another instance ends); the sends must be
// Result.Messages.
func TestPropertySimulatedSendsObeyPolicy(t *testing.T) {
	proptest.Limit(t, 100)
	rapid.Check(t, func(t *rapid.T) {
		t0 := rapid.SampledFrom(arbStarts).Draw(t, "start")
		js := drawArbJourneys(t, t0)
		ap := drawArbPolicy(t, js)
		pol, err := policy.Parse("policy.yaml", []byte(ap.yaml))
		if err != nil {
			t.Fatalf("drawn policy does not parse: %v\n%s", err, ap.yaml)
		}
		var defs []*journey.Definition
		byID := map[string]*arbJourney{}
		for _, j := range js {
			d, err := journey.Parse(j.id+".yaml", []byte(j.yaml))
			if err != nil {
				t.Fatalf("drawn journey does not parse: %v\n%s", err, j.yaml)
			}
			defs = append(defs, d)
			byID[j.id] = j
		}
		// With the marker journey, every identify enters (and at once
		// leaves) it, so the trace shows where each identify was played
		// among the decisions; identifies can then come anywhere among
		// events at the same time. Its exits also release held sends at
		// each identify.
		marker := rapid.Bool().Draw(t, "marker")
		if marker {
			d, err := journey.Parse(arbMarker+".yaml", []byte(arbMarkerYAML))
			if err != nil {
				t.Fatalf("marker journey: %v", err)
			}
			defs = append(defs, d)
		}
		cat, err := machine.FromDefinitions(defs)
		if err != nil {
			t.Fatal(err)
		}

		// Customers start with an identify an hour before everything.
		var evs []arbEvent
		customers := rapid.IntRange(1, 4).Draw(t, "customers")
		for c := range customers {
			id := fmt.Sprintf("c%d", c)
			consent, zone := drawArbIdentify(t, id+".initial")
			at := t0.Add(-time.Hour)
			evs = append(evs, arbEvent{at: at, customer: id, identify: &arbIdentify{at: at, consent: consent, zone: zone},
				line: arbIdentifyLine(id, at, consent, zone)})
		}
		for i := range rapid.IntRange(5, 40).Draw(t, "events") {
			l := fmt.Sprintf("ev%d", i)
			id := fmt.Sprintf("c%d", rapid.IntRange(0, customers-1).Draw(t, l+".customer"))
			at := t0.Add(time.Duration(rapid.IntRange(0, 3*24*4).Draw(t, l+".slot")) * arbSlot)
			e := arbEvent{at: at, customer: id}
			switch kind := rapid.SampledFrom([]string{"start", "identify", "stop", "ping", "start"}).Draw(t, l+".kind"); kind {
			case "identify":
				consent, zone := drawArbIdentify(t, l)
				e.identify = &arbIdentify{at: at, consent: consent, zone: zone}
				e.line = arbIdentifyLine(id, at, consent, zone)
			case "ping":
				e.line = fmt.Sprintf(`{"event": %q, "userId": %q, "timestamp": %q}`,
					rapid.SampledFrom([]string{"ping_a", "ping_b"}).Draw(t, l+".ping"), id, at.Format(time.RFC3339))
			default:
				e.line = fmt.Sprintf(`{"event": "%s_%s", "userId": %q, "timestamp": %q}`,
					kind, rapid.SampledFrom(js).Draw(t, l+".journey").id, id, at.Format(time.RFC3339))
			}
			evs = append(evs, e)
		}
		// Without the marker, identifies come last at equal times, so
		// that every decision at a time sees the identifies before it and
		// none at it: timers due at an event's time fire before it, so an
		// identify played first would be seen by some decisions at that
		// time and not others, and nothing in the trace would tell which.
		sort.SliceStable(evs, func(a, b int) bool {
			if !evs[a].at.Equal(evs[b].at) {
				return evs[a].at.Before(evs[b].at)
			}
			return !marker && evs[a].identify == nil && evs[b].identify != nil
		})
		var lines strings.Builder
		identifies := map[string][]arbIdentify{} // by customer, in the order played
		for _, e := range evs {
			lines.WriteString(e.line + "\n")
			if e.identify != nil {
				identifies[e.customer] = append(identifies[e.customer], *e.identify)
			}
		}
		inputs, err := simulate.ReadEvents("events.jsonl", strings.NewReader(lines.String()), t0)
		if err != nil {
			t.Fatal(err)
		}
		until := evs[len(evs)-1].at.Add(4 * 24 * time.Hour)
		res := simulate.Run(cat, inputs, simulate.Options{Policy: pol, Zone: simulate.LoadZone, Until: until})

		o := &arbOracle{t: t, pol: ap, journeys: byID, until: until, marker: marker}
		o.input = func() string {
			var b strings.Builder
			fmt.Fprintf(&b, "policy:\n%s\n", ap.yaml)
			for _, j := range js {
				fmt.Fprintf(&b, "journey %s.yaml:\n%s\n", j.id, j.yaml)
			}
			if marker {
				fmt.Fprintf(&b, "journey %s.yaml:\n%s\n", arbMarker, arbMarkerYAML)
			}
			fmt.Fprintf(&b, "events (until %s):\n%s", until.Format(time.RFC3339), lines.String())
			return b.String()
		}
		sends := 0
		for _, c := range res.Customers {
			sends += o.check(c, identifies[c.ID])
		}
		if sends != res.Messages {
			t.Fatalf("%d send decisions, but Result.Messages = %d\n%s", sends, res.Messages, o.input())
		}
	})
}

type arbOracle struct {
	t        *rapid.T
	pol      *arbPolicy
	journeys map[string]*arbJourney
	until    time.Time
	marker   bool // identifies enter the marker journey
	input    func() string
}

type arbSent struct {
	at                         time.Time
	channel, category, journey string
	priority                   int
}

// check checks one customer's decisions against the trace, in trace
// order, and returns how many were sends. ids are the customer's
// identifies in the order they were played.
func (o *arbOracle) check(c *simulate.Customer, ids []arbIdentify) int {
	// applied is how many identifies were played before the decision
	// being checked: with the marker, as many as it was entered so far;
	// else those before the decision's time (at its time they come after
	// every decision).
	marked := 0
	applied := func(d *core.Decision) []arbIdentify {
		if o.marker {
			return ids[:marked]
		}
		n := 0
		for n < len(ids) && ids[n].at.Before(d.At) {
			n++
		}
		return ids[:n]
	}
	fail := func(d *core.Decision, format string, args ...any) {
		var b strings.Builder
		b.WriteString(o.input())
		fmt.Fprintf(&b, "\ncustomer %s decisions:\n", c.ID)
		for _, x := range c.Decisions {
			mark := "  "
			if x == d {
				mark = "> "
			}
			fmt.Fprintf(&b, "%s%s %s %s %s %s until=%s rule=%s (%s)\n", mark, x.At.Format(time.RFC3339), x.Key, x.Channel,
				x.Category, x.Outcome, x.Until.Format(time.RFC3339), x.Rule, x.Reason)
		}
		fmt.Fprintf(&b, "customer %s trace:\n", c.ID)
		for _, r := range c.Trace {
			fmt.Fprintf(&b, "  %s\n", r)
		}
		msg := fmt.Sprintf(format, args...)
		if d != nil {
			msg = fmt.Sprintf("%s: %s at %s (%s): %s", c.ID, d.Key, d.At.Format(time.RFC3339), d.At.In(o.zone(applied(d))).Format("15:04 MST"), msg)
		}
		o.t.Fatalf("%s\n%s", msg, b.String())
	}
	type reached struct {
		step string
		at   time.Time
	}
	var sent []arbSent
	active := map[string]string{} // instance -> journey, as the trace has it
	reach := map[string]reached{} // instance -> the step it last moved to
	exited := map[string]time.Time{}
	// A send held by a suppression rule is decided again as soon as
	// another instance of the customer ends.
	held := map[string]bool{}         // instance -> its last decision was a suppression hold
	release := map[string]time.Time{} // held instance -> when another ended since
	releasedBy := map[string]string{} // held instance -> the instance that ended
	di := 0
	for _, r := range c.Trace {
		if r.Instance == "" {
			continue
		}
		if r.Journey == arbMarker {
			if r.Kind == core.RecordEntered {
				marked++
			}
			if r.Kind != core.RecordExit {
				continue
			}
		}
		switch r.Kind {
		case core.RecordEntered:
			active[r.Instance] = r.Journey
		case core.RecordExit:
			delete(active, r.Instance)
			exited[r.Instance] = r.At
			delete(held, r.Instance)
			delete(release, r.Instance)
			for in := range held {
				if _, ok := release[in]; !ok {
					release[in], releasedBy[in] = r.At, r.Instance
				}
			}
		case core.RecordSend, core.RecordSuppress, core.RecordDelay:
			if di == len(c.Decisions) {
				fail(nil, "trace record %q has no decision", r.String())
			}
			d := c.Decisions[di]
			di++
			want := map[string]string{core.RecordSend: core.OutcomeSend, core.RecordSuppress: core.OutcomeSuppress, core.RecordDelay: core.OutcomeDelay}[r.Kind]
			if d.InstanceID != r.Instance || d.Step != r.Step || !d.At.Equal(r.At) || d.Outcome != want {
				fail(d, "decision does not match trace record %q", r.String())
			}
			if _, ok := active[d.InstanceID]; !ok {
				fail(d, "decision for an instance that is not active")
			}
			if at, ok := release[d.InstanceID]; ok && !d.At.Equal(at) {
				fail(d, "held by a suppression rule, not decided again when %s ended at %s", releasedBy[d.InstanceID], at.Format(time.RFC3339))
			}
			delete(release, d.InstanceID)
			held[d.InstanceID] = d.Outcome == core.OutcomeDelay && strings.HasPrefix(d.Rule, "suppression:")
			if !held[d.InstanceID] {
				delete(held, d.InstanceID)
			}
			j := o.journeys[d.JourneyID]
			s, ok := j.sends[d.Step]
			if !ok || d.Category != j.category ||
				d.Channel != s.channel && !slices.Contains(s.candidates, d.Channel) {
				fail(d, "decision names channel %q category %q; the journey says %q %v %q", d.Channel, d.Category, s.channel, s.candidates, j.category)
			}
			if s.channel == journey.ChannelBest && d.Outcome == core.OutcomeSend && !o.consent(applied(d), d.Channel) {
				fail(d, "channel best chose %s, which the customer has not consented to", d.Channel)
			}
			rr := reach[d.InstanceID]
			if rr.step != d.Step {
				fail(d, "decision at step %s, but the trace last moved the instance to %q", d.Step, rr.step)
			}
			var deadline time.Time
			if s.expires > 0 {
				deadline = rr.at.Add(s.expires)
			}
			if !s.deadline.IsZero() && (deadline.IsZero() || s.deadline.Before(deadline)) {
				deadline = s.deadline
			}
			switch d.Outcome {
			case core.OutcomeSend:
				o.send(d, j, deadline, applied(d), active, sent, fail)
				sent = append(sent, arbSent{at: d.At, channel: d.Channel, category: d.Category, journey: d.JourneyID, priority: j.priority})
			case core.OutcomeDelay:
				if !d.Until.After(d.At) {
					fail(d, "delayed until %s, not after the decision", d.Until.Format(time.RFC3339))
				}
				if !deadline.IsZero() && d.Until.After(deadline) {
					fail(d, "delayed until %s, after its deadline %s", d.Until.Format(time.RFC3339), deadline.Format(time.RFC3339))
				}
				if strings.HasPrefix(d.Rule, "quiet_hours:") {
					// Delayed past every quiet period it is in, not into another.
					loc := o.zone(applied(d))
					if q, ok := o.quiet(d.Channel, d.Until.In(loc)); ok {
						fail(d, "delayed until %s (%s in %s), in quiet hours %s-%s (%q)", d.Until.Format(time.RFC3339),
							d.Until.In(loc).Format("15:04"), loc, arbClock(q.from), arbClock(q.to), q.channel)
					}
				}
			}
		}
		if r.Next != "" {
			reach[r.Instance] = reached{r.Next, r.At}
		}
	}
	if di != len(c.Decisions) {
		fail(c.Decisions[di], "decision has no trace record")
	}
	if o.marker && marked != len(ids) {
		fail(nil, "%d identifies entered the marker journey %d times", len(ids), marked)
	}
	for in, at := range release {
		fail(nil, "%s: held by a suppression rule, not decided again when %s ended at %s", in, releasedBy[in], at.Format(time.RFC3339))
	}

	// Every delay is decided again by its Until (a suppression hold may be
	// released earlier, when another instance ends; other delays exactly
	// at Until), unless the instance ended first or the simulation did.
	for i, d := range c.Decisions {
		if d.Outcome != core.OutcomeDelay {
			continue
		}
		visit := d.Key[:strings.LastIndexByte(d.Key, ':')+1]
		var next *core.Decision
		for _, x := range c.Decisions[i+1:] {
			if strings.HasPrefix(x.Key, visit) {
				next = x
				break
			}
		}
		hold := strings.HasPrefix(d.Rule, "suppression:")
		switch {
		case next != nil && hold && next.At.After(d.Until),
			next != nil && !hold && !next.At.Equal(d.Until):
			fail(d, "delayed until %s, but decided again at %s (%s)", d.Until.Format(time.RFC3339), next.At.Format(time.RFC3339), next.Key)
		case next == nil && !d.Until.After(o.until):
			if at, ok := exited[d.InstanceID]; !ok || at.After(d.Until) {
				fail(d, "delayed until %s, but never decided again", d.Until.Format(time.RFC3339))
			}
		}
	}
	return len(sent)
}

// send checks one send decision: consent, quiet hours, caps, suppression,
// priority and deadline, recomputed from the drawn inputs.
func (o *arbOracle) send(d *core.Decision, j *arbJourney, deadline time.Time, applied []arbIdentify,
	active map[string]string, sent []arbSent, fail func(*core.Decision, string, ...any)) {
	p, now := o.pol, d.At
	if !deadline.IsZero() && now.After(deadline) {
		fail(d, "sent after its deadline %s", deadline.Format(time.RFC3339))
	}
	if slices.Contains(p.consent, d.Channel) && !slices.Contains(p.override, j.category) && !o.consent(applied, d.Channel) {
		fail(d, "sent on %s without consent (category %s does not override)", d.Channel, j.category)
	}
	loc := o.zone(applied)
	if q, ok := o.quiet(d.Channel, now.In(loc)); ok {
		fail(d, "sent on %s at %s in %s, in quiet hours %s-%s (%q)", d.Channel, now.In(loc).Format("15:04"), loc, arbClock(q.from), arbClock(q.to), q.channel)
	}
	match := func(c arbCap, channel, category string) bool {
		return (c.channel == "" || c.channel == channel) && (c.category == "" || c.category == category)
	}
	for i, c := range p.caps {
		if !match(c, d.Channel, j.category) {
			continue
		}
		n := 1
		for _, x := range sent {
			if match(c, x.channel, x.category) && x.at.After(now.Add(-c.window)) && !x.at.After(now) {
				n++
			}
		}
		if n > c.max {
			fail(d, "cap%d (%+v): %d matching sends in (%s, %s]", i, c, n, now.Add(-c.window).Format(time.RFC3339), now.Format(time.RFC3339))
		}
	}
	for i, r := range p.rules {
		if r.suppressCategory != j.category && r.suppressJourney != j.id {
			continue
		}
		for in, other := range active {
			if other == j.id {
				continue // a journey does not mute itself
			}
			if r.whileJourney == other || r.whileCategory == o.journeys[other].category {
				fail(d, "rule%d (%+v) mutes it while %s (category %s) is active", i, r, in, o.journeys[other].category)
			}
		}
	}
	if p.priorityWindow > 0 {
		for _, x := range sent {
			if x.journey != j.id && x.priority > j.priority && x.at.After(now.Add(-p.priorityWindow)) && !x.at.After(now) {
				fail(d, "sent within %s of %s's send at %s (priority %d > %d)", p.priorityWindow, x.journey, x.at.Format(time.RFC3339), x.priority, j.priority)
			}
		}
	}
}

// quiet returns a quiet period for channel that wall-clock time t is in.
func (o *arbOracle) quiet(channel string, t time.Time) (arbQuiet, bool) {
	h, m, s := t.Clock()
	tod := h*3600 + m*60 + s
	for _, q := range o.pol.quiet {
		if q.channel != "" && q.channel != channel {
			continue
		}
		from, to := q.from*60, q.to*60
		if from <= tod && tod < to || from > to && (tod >= from || tod < to) {
			return q, true
		}
	}
	return arbQuiet{}, false
}

// consent is whether the customer's consent on channel stands granted
// after the applied identifies: the one with the latest timestamp setting
// it decides, and at equal timestamps a revocation wins.
func (o *arbOracle) consent(applied []arbIdentify, channel string) bool {
	var last time.Time
	granted, found := false, false
	for _, id := range applied {
		v, ok := id.consent[channel]
		if !ok {
			continue
		}
		switch {
		case !found || id.at.After(last):
			last, granted, found = id.at, v, true
		case id.at.Equal(last) && !v:
			granted = false
		}
	}
	return granted
}

// zone is the customer's timezone after the applied identifies: the
// latest setting one, and at equal timestamps the greater JSON value (UTC
// if none).
func (o *arbOracle) zone(applied []arbIdentify) *time.Location {
	var last time.Time
	name := ""
	for _, id := range applied {
		if id.zone == "" {
			continue
		}
		if name == "" || id.at.After(last) || id.at.Equal(last) && arbJSON(id.zone) > arbJSON(name) {
			last, name = id.at, id.zone
		}
	}
	if name == "" {
		return time.UTC
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		o.t.Fatal(err)
	}
	return loc
}

// arbJSON is s as a JSON string, as the profile keeps trait values.
func arbJSON(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
