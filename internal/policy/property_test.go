package policy

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/overture-cjo/overture/internal/proptest"
)

var (
	propChannels   = []string{"email", "sms", "push", "voice"}
	propCategories = []string{"marketing", "service", "fraud", "transactional"}
	propJourneys   = []string{"promo", "renewal", "bill-dispute", "outage", "welcome"}
	propZones      = []string{"UTC", "America/New_York", "Europe/London", "Australia/Lord_Howe", "Asia/Kolkata", "America/St_Johns"}
)

// propInstance is a journey instance active in [start, end).
type propInstance struct {
	Active
	start, end time.Time
}

// propMessage is a candidate arriving at at.
type propMessage struct {
	Message
	at time.Time
}

// drawWhen draws no condition, or one that always or never holds, as a
// field to append to a rule.
func drawWhen(t *rapid.T, label string) string {
	return rapid.SampledFrom([]string{"", ", when: 'true'", ", when: 'false'", `, when: 'message.priority >= 0'`}).Draw(t, label)
}

// off reports whether a drawn condition never holds.
func off(w *Condition) bool { return w != nil && w.Source == "false" }

// unconditional returns p without its rules whose condition never holds
// and without the conditions of the others (which always hold).
func unconditional(p *Policy) *Policy {
	q := &Policy{Consent: p.Consent, PriorityWindow: p.PriorityWindow}
	for _, r := range p.QuietHours {
		if !off(r.When) {
			r.When = nil
			q.QuietHours = append(q.QuietHours, r)
		}
	}
	for _, r := range p.Caps {
		if !off(r.When) {
			r.When = nil
			q.Caps = append(q.Caps, r)
		}
	}
	for _, r := range p.Suppression {
		if !off(r.When) {
			r.When = nil
			q.Suppression = append(q.Suppression, r)
		}
	}
	return q
}

// drawPolicy draws a policy as a file and parses it, so the parser is
// exercised too.
func drawPolicy(t *rapid.T) *Policy {
	var b strings.Builder
	b.WriteString("consent:\n")
	fmt.Fprintf(&b, "  channels: [%s]\n", strings.Join(rapid.SliceOfDistinct(rapid.SampledFrom(propChannels), rapid.ID).Draw(t, "consent"), ", "))
	fmt.Fprintf(&b, "  override_categories: [%s]\n", strings.Join(rapid.SliceOfDistinct(rapid.SampledFrom(propCategories), rapid.ID).Draw(t, "override"), ", "))
	b.WriteString("quiet_hours:\n")
	for i := range rapid.IntRange(0, 3).Draw(t, "quiet") {
		// Periods start at 12:30 or later and end by 12:00 the next
		// day, so 12:00-12:30 is never quiet: a policy whose quiet hours
		// cover the whole day is refused by Parse (TestParseErrors).
		start := 30 * rapid.IntRange(0, 46).Draw(t, fmt.Sprintf("from%d", i))
		length := 30 * rapid.IntRange(1, 47-start/30).Draw(t, fmt.Sprintf("len%d", i))
		from, to := (750+start)%(24*60), (750+start+length)%(24*60)
		ch := rapid.SampledFrom(append([]string{""}, propChannels...)).Draw(t, fmt.Sprintf("qch%d", i))
		if ch != "" {
			ch = "channel: " + ch + ", "
		}
		fmt.Fprintf(&b, "  - {%sfrom: %q, to: %q%s}\n", ch, clock(from), clock(to), drawWhen(t, fmt.Sprintf("qwhen%d", i)))
	}
	b.WriteString("frequency_caps:\n")
	for i := range rapid.IntRange(0, 3).Draw(t, "caps") {
		fmt.Fprintf(&b, "  - {name: cap%d", i)
		if ch := rapid.SampledFrom(append([]string{""}, propChannels...)).Draw(t, fmt.Sprintf("cch%d", i)); ch != "" {
			fmt.Fprintf(&b, ", channel: %s", ch)
		}
		if cat := rapid.SampledFrom(append([]string{""}, propCategories...)).Draw(t, fmt.Sprintf("ccat%d", i)); cat != "" {
			fmt.Fprintf(&b, ", category: %s", cat)
		}
		fmt.Fprintf(&b, ", max: %d, window: %s%s}\n", rapid.IntRange(1, 3).Draw(t, fmt.Sprintf("max%d", i)),
			rapid.SampledFrom([]string{"1h", "6h", "1d", "7d", "90m"}).Draw(t, fmt.Sprintf("window%d", i)), drawWhen(t, fmt.Sprintf("cwhen%d", i)))
	}
	b.WriteString("suppression:\n")
	for i := range rapid.IntRange(0, 3).Draw(t, "suppressions") {
		side := func(kind string) string {
			if rapid.Bool().Draw(t, fmt.Sprintf("%s%d", kind, i)) {
				return kind + "_journey: " + rapid.SampledFrom(propJourneys).Draw(t, fmt.Sprintf("%sj%d", kind, i))
			}
			return kind + "_category: " + rapid.SampledFrom(propCategories).Draw(t, fmt.Sprintf("%sc%d", kind, i))
		}
		fmt.Fprintf(&b, "  - {name: s%d, %s, %s, action: %s%s}\n", i, side("while"), side("suppress"),
			rapid.SampledFrom([]string{"hold", "drop"}).Draw(t, fmt.Sprintf("action%d", i)), drawWhen(t, fmt.Sprintf("swhen%d", i)))
	}
	if w := rapid.SampledFrom([]string{"", "30m", "1h", "3h"}).Draw(t, "priority"); w != "" {
		fmt.Fprintf(&b, "priority_window: %s\n", w)
	}
	p, err := Parse("drawn.yaml", []byte(b.String()))
	if err != nil {
		t.Fatalf("drawn policy does not parse: %v\n%s", err, b.String())
	}
	return p
}

// TestPropertySendsObeyPolicy runs random messages for one customer
// through Decide, deciding delayed ones again at their Until (held ones
// when an active instance ends), and checks every send against the
// policy's rules recounted from the sends made.
//
// Conditions always or never hold: Decide must decide as if the rules
// whose condition never holds were not there, and the others had none.
func TestPropertySendsObeyPolicy(t *testing.T) {
	proptest.Limit(t, 100)
	rapid.Check(t, func(t *rapid.T) {
		p := drawPolicy(t)
		plain := unconditional(p)
		loc, err := time.LoadLocation(rapid.SampledFrom(propZones).Draw(t, "zone"))
		if err != nil {
			t.Fatal(err)
		}
		// around the 2025 DST changes of both hemispheres
		t0 := rapid.SampledFrom([]time.Time{
			time.Date(2025, 3, 7, 0, 0, 0, 0, time.UTC), time.Date(2025, 3, 28, 0, 0, 0, 0, time.UTC),
			time.Date(2025, 4, 4, 0, 0, 0, 0, time.UTC), time.Date(2025, 10, 1, 0, 0, 0, 0, time.UTC),
			time.Date(2025, 10, 31, 0, 0, 0, 0, time.UTC),
		}).Draw(t, "t0")
		at := func(label string) time.Time {
			return t0.Add(time.Duration(rapid.IntRange(0, 6*24*60).Draw(t, label)) * time.Minute)
		}
		consent := map[string]bool{}
		for _, ch := range propChannels {
			consent[ch] = rapid.Bool().Draw(t, "consent_"+ch)
		}
		var insts []propInstance
		for i := range rapid.IntRange(0, 4).Draw(t, "instances") {
			start := at(fmt.Sprintf("istart%d", i))
			insts = append(insts, propInstance{
				Active: Active{Journey: rapid.SampledFrom(propJourneys).Draw(t, fmt.Sprintf("ij%d", i)),
					Category: rapid.SampledFrom(propCategories).Draw(t, fmt.Sprintf("ic%d", i))},
				start: start,
				end:   start.Add(time.Duration(rapid.IntRange(1, 3*24*60).Draw(t, fmt.Sprintf("ilen%d", i))) * time.Minute),
			})
		}
		activeAt := func(now time.Time) []propInstance {
			var out []propInstance
			for _, in := range insts {
				if !now.Before(in.start) && now.Before(in.end) {
					out = append(out, in)
				}
			}
			return out
		}
		type pending struct {
			m    propMessage
			next time.Time
		}
		var queue []pending
		for i := range rapid.IntRange(1, 25).Draw(t, "messages") {
			m := propMessage{at: at(fmt.Sprintf("at%d", i)), Message: Message{
				Channel:     rapid.SampledFrom(propChannels).Draw(t, fmt.Sprintf("ch%d", i)),
				Category:    rapid.SampledFrom(propCategories).Draw(t, fmt.Sprintf("cat%d", i)),
				Journey:     rapid.SampledFrom(propJourneys).Draw(t, fmt.Sprintf("j%d", i)),
				Priority:    rapid.IntRange(0, 3).Draw(t, fmt.Sprintf("prio%d", i)),
				LoserAction: rapid.SampledFrom([]string{"", "delay", "drop"}).Draw(t, fmt.Sprintf("loser%d", i)),
			}}
			if rapid.Bool().Draw(t, fmt.Sprintf("hasdeadline%d", i)) {
				m.Deadline = m.at.Add(time.Duration(rapid.IntRange(0, 3*24*60).Draw(t, fmt.Sprintf("deadline%d", i))) * time.Minute)
			}
			queue = append(queue, pending{m: m, next: m.at})
		}

		type record struct {
			m  propMessage
			at time.Time
		}
		var sends []record
		var sent []Sent
		for steps := 0; len(queue) > 0; steps++ {
			if steps > 100_000 {
				t.Fatalf("no end after %d decisions", steps)
			}
			i := 0 // the earliest pending decision, first queued on ties
			for j := range queue {
				if queue[j].next.Before(queue[i].next) {
					i = j
				}
			}
			it := queue[i]
			queue = slices.Delete(queue, i, i+1)
			now := it.next
			v := View{Consent: consent, Location: loc, Sent: sent}
			act := activeAt(now)
			for _, in := range act {
				v.Active = append(v.Active, in.Active)
			}
			d := p.Decide(v, it.m.Message, now)
			if len(d.Errors) > 0 {
				t.Fatalf("condition errors: %q", d.Errors)
			}
			if e := plain.Decide(v, it.m.Message, now); e.Outcome != d.Outcome || !e.Until.Equal(d.Until) || e.Rule != d.Rule {
				t.Fatalf("with conditions: %s until %v by %q (%s)\nwithout: %s until %v by %q (%s)", d.Outcome, d.Until, d.Rule, d.Reason, e.Outcome, e.Until, e.Rule, e.Reason)
			}
			switch d.Outcome {
			case Send:
				sends = append(sends, record{it.m, now})
				sent = append(sent, Sent{At: now, Channel: it.m.Channel, Category: it.m.Category, Journey: it.m.Journey, Priority: it.m.Priority})
			case Suppress:
			case Delay:
				next := d.Until
				if next.IsZero() { // held: decide again when an active instance ends
					for _, in := range act {
						if next.IsZero() || in.end.Before(next) {
							next = in.end
						}
					}
					if next.IsZero() {
						t.Fatalf("%s held with no active instance", d.Rule)
					}
				} else if !it.m.Deadline.IsZero() && d.Until.After(it.m.Deadline) {
					t.Fatalf("delayed until %v, after the deadline %v", d.Until, it.m.Deadline)
				}
				if !next.After(now) {
					t.Fatalf("%s delays to %v, not after now %v", d.Rule, next, now)
				}
				queue = append(queue, pending{m: it.m, next: next})
			default:
				t.Fatalf("unknown outcome %q", d.Outcome)
			}
		}

		for _, s := range sends {
			m, now := s.m, s.at
			if !m.Deadline.IsZero() && now.After(m.Deadline) {
				t.Fatalf("%+v sent at %v, after its deadline", m.Message, now)
			}
			if slices.Contains(p.Consent.Channels, m.Channel) && !consent[m.Channel] && !slices.Contains(p.Consent.OverrideCategories, m.Category) {
				t.Fatalf("%+v sent at %v without consent", m.Message, now)
			}
			h, mi, sec := now.In(loc).Clock()
			tod := h*3600 + mi*60 + sec
			for _, q := range p.QuietHours {
				from, to := q.From*60, q.To*60
				in := from <= tod && tod < to
				if from > to {
					in = tod >= from || tod < to
				}
				if in && (q.Channel == "" || q.Channel == m.Channel) && !off(q.When) {
					t.Fatalf("%+v sent at %v (%v) in quiet hours %+v", m.Message, now, now.In(loc), q)
				}
			}
			for _, c := range p.Caps {
				if (c.Channel != "" && c.Channel != m.Channel) || (c.Category != "" && c.Category != m.Category) || off(c.When) {
					continue
				}
				n := 0
				for _, o := range sends {
					if (c.Channel == "" || c.Channel == o.m.Channel) && (c.Category == "" || c.Category == o.m.Category) &&
						o.at.After(now.Add(-c.Window)) && !o.at.After(now) {
						n++
					}
				}
				if n > c.Max {
					t.Fatalf("cap %+v: %d sends in the window ending %v", c, n, now)
				}
			}
			for _, r := range p.Suppression {
				if r.SuppressCategory != m.Category && r.SuppressJourney != m.Journey || off(r.When) {
					continue
				}
				for _, in := range insts {
					if in.Journey != m.Journey && !now.Before(in.start) && now.Before(in.end) &&
						(r.WhileCategory == in.Category || r.WhileJourney == in.Journey) {
						t.Fatalf("%+v sent at %v while %+v was active, against %+v", m.Message, now, in, r)
					}
				}
			}
		}
	})
}
