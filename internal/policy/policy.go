// Package policy is the contact policy: which messages may reach a customer,
// when, and why not. A Policy is parsed from a definition file (Parse) and
// decides one candidate message at a time (Decide) from an immutable view of
// the customer and the time, with no I/O and no clock of its own, so that
// simulate, serve and the property tests decide alike.
//
// Quiet hours, frequency caps and suppression rules may have a condition,
// `when`: a CEL expression of type bool, and the rule applies only when it
// is true. A condition sees
//
//   - profile: the customer's profile as journeys and audiences see it
//     (traits, consent, computed...; View.Profile);
//   - message: the candidate message, {channel, category, journey,
//     priority} (priority an int);
//   - now: the time of the decision, a timestamp.
//
// Conditions are compiled by Parse and evaluated by Decide, only for a
// rule that would otherwise object (its channel, category or journey
// match the message, the message is in its period, the cap is at its
// maximum, an instance blocks it), with a cost limit (CostLimit). A
// condition that fails to evaluate (a missing field, a wrong type, the
// cost limit) counts as false, so its rule does not apply, and is
// reported in Decision.Errors.
package policy

import (
	"fmt"
	"slices"
	"time"
)

// Policy is one parsed contact policy. Its zero value allows every send.
type Policy struct {
	Consent        Consent
	QuietHours     []QuietHours
	Caps           []Cap
	Suppression    []Suppression
	PriorityWindow time.Duration // 0: no priority arbitration
}

// Consent says which channels need the customer's consent and which
// categories may be sent without it.
type Consent struct {
	Channels           []string // channels that need consent
	OverrideCategories []string // categories sent even without consent (fraud, transactional)
}

// QuietHours is a daily period, in the customer's timezone, during which
// sends on Channel are delayed to its end. From and To are minutes after
// local midnight; a period with From > To runs across midnight.
type QuietHours struct {
	Channel  string // "" for every channel
	From, To int
	When     *Condition // nil: always
}

// Cap is a frequency cap: at most Max sends matching Channel and Category
// (each "" for any) in any sliding Window. With a condition, it caps only
// the messages for which it holds, counting every matching send in the
// window (whatever the condition said when they were sent).
type Cap struct {
	Name              string
	Channel, Category string
	Max               int
	Window            time.Duration
	When              *Condition // nil: always
}

// Action is what a suppression rule does with a message it matches.
type Action string

const (
	// Hold delays the message until the blocking instance ends.
	Hold Action = "hold"
	// Drop suppresses the message.
	Drop Action = "drop"
)

// Suppression mutes messages of a category or journey while the customer
// has an active instance of another category or journey. Exactly one of
// WhileCategory and WhileJourney is set, and one of SuppressCategory and
// SuppressJourney.
type Suppression struct {
	Name                              string // given, or "WHILE_mutes_SUPPRESS"
	WhileCategory, WhileJourney       string
	SuppressCategory, SuppressJourney string
	Action                            Action
	When                              *Condition // nil: always
}

// View is what Decide knows of one customer: an immutable snapshot the
// caller builds from the profile, its sends and its journey instances.
type View struct {
	Consent  map[string]bool // channel -> granted
	Location *time.Location  // the customer's timezone; nil means UTC
	Sent     []Sent          // recent sends, in any order
	Active   []Active        // active journey instances
	// Profile is `profile` for conditions: the customer's profile map
	// with "computed". Nil is an empty map; a caller may leave it nil
	// unless the policy's UsesProfile.
	Profile map[string]any
}

// Sent is one message already sent to the customer.
type Sent struct {
	At       time.Time
	Channel  string
	Category string
	Journey  string
	Priority int
}

// Active is one active journey instance of the customer.
type Active struct {
	Journey  string
	Category string
}

// Message is a candidate send.
type Message struct {
	Channel  string
	Category string
	Journey  string
	Priority int       // higher wins within the priority window
	Deadline time.Time // zero: none; not sendable by then means suppressed
	// LoserAction is what happens when a higher-priority journey reached
	// the customer within the priority window: "delay" (also "") or "drop".
	LoserAction string
}

// Outcome is what Decide says to do with a message.
type Outcome string

const (
	// Send sends the message now.
	Send Outcome = "send"
	// Delay asks to decide again at Decision.Until (or, if it is zero,
	// when the blocking journey instance ends).
	Delay Outcome = "delay"
	// Suppress drops the message.
	Suppress Outcome = "suppress"
)

// Decision is the outcome for one message, the rule that decided it and
// why, in a sentence meant for the customer's decision log.
type Decision struct {
	Outcome Outcome
	Until   time.Time // for Delay: when to decide again; zero: when the blocking instance ends
	Rule    string    // e.g. "consent:sms", "quiet_hours:sms", "frequency_cap:NAME", "suppression:NAME", "priority", "expired"; "" for Send
	Reason  string    // names the rule's condition, if it has one
	// Errors are the conditions that failed to evaluate, each "RULE: when
	// SOURCE: ERROR": their rules did not apply. Callers should log them.
	Errors []string
}

// Decide arbitrates message m for the customer seen in v at now. Rules are
// checked in this order, and the first that objects decides:
//
//  1. expiry: now after m's deadline suppresses ("expired");
//  2. consent: a channel that needs consent without it suppresses, unless
//     m's category is an override category;
//  3. suppression rules, in file order: an active instance of another
//     journey matching the rule's while side mutes m if m matches its
//     suppress side (and the rule's condition holds): drop suppresses,
//     hold delays with a zero Until (until that instance ends; the caller
//     decides again then);
//  4. quiet hours for m's channel (whose condition holds), by the wall
//     clock of v.Location: delay to the period's end, and past every
//     other such period it runs into;
//  5. frequency caps: counting the sends matching a cap in (now-window,
//     now], a cap at its maximum (whose condition holds) delays until
//     enough of them leave the window (the latest such time over all caps
//     at their maximum);
//  6. priority: a send of another journey with a higher priority in
//     (now-window, now] delays m until the window after the latest such
//     send ends, or suppresses it if m.LoserAction is "drop".
//
// Finally a delay whose Until is after m's deadline suppresses
// ("expired"). A delayed message must be decided again at Until: every
// rule is checked again then, since sends and instances may have changed.
//
// Conditions are evaluated with v.Profile, m and now, each at most once;
// those that fail to evaluate are in the Decision's Errors.
func (p *Policy) Decide(v View, m Message, now time.Time) Decision {
	c := conds{profile: v.Profile, now: now}
	c.msg.channel, c.msg.category, c.msg.journey, c.msg.priority = m.Channel, m.Category, m.Journey, m.Priority
	d := p.decide(v, m, now, &c)
	if d.Outcome == Delay && !m.Deadline.IsZero() && d.Until.After(m.Deadline) {
		d = Decision{Outcome: Suppress, Rule: "expired",
			Reason: fmt.Sprintf("%s would delay it until %s, after its deadline %s", d.Rule, stamp(d.Until), stamp(m.Deadline))}
	}
	d.Errors = c.errs
	return d
}

// UsesProfile reports whether a condition of the policy reads profile: if
// not, Decide needs no View.Profile. A nil policy uses none.
func (p *Policy) UsesProfile() bool {
	if p == nil {
		return false
	}
	for _, q := range p.QuietHours {
		if q.When != nil && q.When.UsesProfile {
			return true
		}
	}
	for _, cp := range p.Caps {
		if cp.When != nil && cp.When.UsesProfile {
			return true
		}
	}
	for _, s := range p.Suppression {
		if s.When != nil && s.When.UsesProfile {
			return true
		}
	}
	return false
}

func (p *Policy) decide(v View, m Message, now time.Time, c *conds) Decision {
	if !m.Deadline.IsZero() && now.After(m.Deadline) {
		return Decision{Outcome: Suppress, Rule: "expired", Reason: fmt.Sprintf("its deadline %s has passed", stamp(m.Deadline))}
	}
	if slices.Contains(p.Consent.Channels, m.Channel) && !v.Consent[m.Channel] && !slices.Contains(p.Consent.OverrideCategories, m.Category) {
		return Decision{Outcome: Suppress, Rule: "consent:" + m.Channel,
			Reason: fmt.Sprintf("the customer has not consented to %s and category %q may not override that", m.Channel, m.Category)}
	}
	for i := range p.Suppression {
		s := &p.Suppression[i]
		a, ok := s.blocking(v.Active, m)
		if !ok || !c.holds(s.When, "suppression:", s.Name) {
			continue
		}
		if s.Action == Drop {
			return Decision{Outcome: Suppress, Rule: "suppression:" + s.Name,
				Reason: withWhen(fmt.Sprintf("the customer is in journey %q (category %q)", a.Journey, a.Category), s.When)}
		}
		return Decision{Outcome: Delay, Rule: "suppression:" + s.Name,
			Reason: withWhen(fmt.Sprintf("held until the customer's instance of journey %q (category %q) ends", a.Journey, a.Category), s.When)}
	}
	loc := v.Location
	if loc == nil {
		loc = time.UTC
	}
	for i := range p.QuietHours {
		q := &p.QuietHours[i]
		if q.Channel != "" && q.Channel != m.Channel {
			continue
		}
		if end, ok := q.end(now, loc); ok && c.quietHolds(p, i, m.Channel) {
			// Periods may overlap: delay past all of them that apply
			// (Parse rejects periods that together cover the whole day).
			for range 2 * len(p.QuietHours) {
				moved := false
				for j := range p.QuietHours {
					o := &p.QuietHours[j]
					if o.Channel == "" || o.Channel == m.Channel {
						if e, ok := o.end(end, loc); ok && c.quietHolds(p, j, m.Channel) {
							end, moved = e, true
						}
					}
				}
				if !moved {
					break
				}
			}
			return Decision{Outcome: Delay, Until: end, Rule: "quiet_hours:" + q.channel(),
				Reason: withWhen(fmt.Sprintf("quiet hours %s-%s for %s in %s", clock(q.From), clock(q.To), q.channel(), loc), q.When)}
		}
	}
	var capped *Cap
	var until time.Time
	var count int
	for i := range p.Caps {
		cp := &p.Caps[i]
		if u, n, ok := cp.full(v.Sent, m, now); ok && c.holds(cp.When, "frequency_cap:", cp.Name) && (capped == nil || u.After(until)) {
			capped, until, count = cp, u, n
		}
	}
	if capped != nil {
		return Decision{Outcome: Delay, Until: until, Rule: "frequency_cap:" + capped.Name,
			Reason: withWhen(fmt.Sprintf("%d of at most %d matching sends in the last %s", count, capped.Max, capped.Window), capped.When)}
	}
	if p.PriorityWindow > 0 {
		var win *Sent
		for i := range v.Sent {
			s := &v.Sent[i]
			if s.Journey != m.Journey && s.Priority > m.Priority && s.At.After(now.Add(-p.PriorityWindow)) && !s.At.After(now) &&
				(win == nil || s.At.After(win.At)) {
				win = s
			}
		}
		if win != nil {
			why := fmt.Sprintf("journey %q (priority %d) reached the customer at %s, within %s", win.Journey, win.Priority, stamp(win.At), p.PriorityWindow)
			if m.LoserAction == "drop" {
				return Decision{Outcome: Suppress, Rule: "priority", Reason: why}
			}
			return Decision{Outcome: Delay, Until: win.At.Add(p.PriorityWindow), Rule: "priority", Reason: why}
		}
	}
	return Decision{Outcome: Send, Reason: "no rule objects"}
}

// blocking returns an active instance of another journey that makes s
// mute m, if there is one.
func (s *Suppression) blocking(active []Active, m Message) (Active, bool) {
	if (s.SuppressCategory == "" || s.SuppressCategory != m.Category) && (s.SuppressJourney == "" || s.SuppressJourney != m.Journey) {
		return Active{}, false
	}
	for _, a := range active {
		if a.Journey == m.Journey {
			continue // a journey does not mute itself
		}
		if (s.WhileCategory != "" && s.WhileCategory == a.Category) || (s.WhileJourney != "" && s.WhileJourney == a.Journey) {
			return a, true
		}
	}
	return Active{}, false
}

// full reports whether cap c is at its maximum for m at now, with how many
// sends it counts and when enough of them will have left the window.
func (c *Cap) full(sent []Sent, m Message, now time.Time) (until time.Time, n int, ok bool) {
	if (c.Channel != "" && c.Channel != m.Channel) || (c.Category != "" && c.Category != m.Category) {
		return time.Time{}, 0, false
	}
	var at []time.Time
	for _, s := range sent {
		if (c.Channel == "" || c.Channel == s.Channel) && (c.Category == "" || c.Category == s.Category) &&
			s.At.After(now.Add(-c.Window)) && !s.At.After(now) {
			at = append(at, s.At)
		}
	}
	if len(at) < c.Max {
		return time.Time{}, 0, false
	}
	slices.SortFunc(at, time.Time.Compare)
	// After the (len-Max+1)th oldest leaves, Max-1 remain.
	return at[len(at)-c.Max].Add(c.Window), len(at), true
}

// quiet reports whether wall-clock time t falls in the period.
func (q *QuietHours) quiet(t time.Time) bool {
	h, mi, s := t.Clock()
	tod := time.Duration(h)*time.Hour + time.Duration(mi)*time.Minute + time.Duration(s)*time.Second + time.Duration(t.Nanosecond())
	from, to := time.Duration(q.From)*time.Minute, time.Duration(q.To)*time.Minute
	if q.From < q.To {
		return from <= tod && tod < to
	}
	return tod >= from || tod < to
}

// end returns the first time after now that is outside the period in loc,
// if now is inside it.
func (q *QuietHours) end(now time.Time, loc *time.Location) (time.Time, bool) {
	lt := now.In(loc)
	if !q.quiet(lt) {
		return time.Time{}, false
	}
	y, mo, d := lt.Date()
	if q.From > q.To && lt.Hour()*60+lt.Minute() >= q.From {
		d++
	}
	end := time.Date(y, mo, d, q.To/60, q.To%60, 0, 0, loc)
	if end.After(now) && !q.quiet(end) {
		return end, true
	}
	// A DST change moved or repeated the period's end: walk the wall clock.
	t := lt.Truncate(time.Minute)
	for range 3 * 24 * 60 {
		t = t.Add(time.Minute)
		if !q.quiet(t) {
			return t, true
		}
	}
	return now.Add(24 * time.Hour), true
}

func (q *QuietHours) channel() string {
	if q.Channel == "" {
		return "all"
	}
	return q.Channel
}

func clock(min int) string { return fmt.Sprintf("%02d:%02d", min/60, min%60) }

func stamp(t time.Time) string { return t.Format(time.RFC3339) }

// MinHorizon is the least history of sends a caller keeps for Decide.
const MinHorizon = 7 * 24 * time.Hour

// Horizon is how far back Decide looks at sends: the longest cap window
// or the priority window, and at least MinHorizon. Sends older than now
// minus the horizon can be forgotten. A nil policy has MinHorizon.
func (p *Policy) Horizon() time.Duration {
	h := MinHorizon
	if p == nil {
		return h
	}
	h = max(h, p.PriorityWindow)
	for _, c := range p.Caps {
		h = max(h, c.Window)
	}
	return h
}
