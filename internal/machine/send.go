package machine

import (
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"github.com/overture-cjo/overture/internal/core"
	"github.com/overture-cjo/overture/internal/journey"
	"github.com/overture-cjo/overture/internal/policy"
)

// HoldRecheck is how long a send held by a suppression rule waits before
// it is decided again when no other instance of the customer ends first
// (an end decides held sends again at once).
const HoldRecheck = 24 * time.Hour

// send runs a send step: the message passes the contact policy, and is
// queued, dropped or delayed as it decides. A delayed send waits at the
// step (in.Held) and is decided again by its timer, or, when a
// suppression rule holds it, as soon as another instance ends. Each
// attempt records a Decision.
func (r *run) send(st *journey.Step) (next string, wait bool) {
	sc, in, d := r.sc, r.in, r.j.Def
	detail := st.Channel + " " + st.Template
	if st.Offer != "" {
		detail += " offer " + st.Offer
	}
	if in.Holdout {
		r.decision(st, st.Channel, st.Offer, policy.Decision{Outcome: policy.Suppress, Rule: "holdout",
			Reason: "the customer is in the journey's holdout group, which is measured but never messaged"}, 1)
		r.record(st.Name, core.RecordSuppress, detail+" (holdout)", st.Next)
		return st.Next, false
	}
	if in.Held == nil {
		in.Held = &core.Held{Since: sc.now, Deadline: r.deadline(st)}
	}
	held := in.Held
	held.Attempts++
	msg := policy.Message{Channel: st.Channel, Category: d.Category, Journey: d.ID, Priority: d.Priority,
		Deadline: held.Deadline, LoserAction: d.WhenOutranked}
	dec := policy.Decision{Outcome: policy.Send, Reason: "no contact policy"}
	if p := r.m.deciders.Policy; p != nil {
		dec = p.Decide(r.view(), msg, sc.now)
	}
	if dec.Outcome == policy.Delay && dec.Until.IsZero() {
		// Held until a blocking instance ends: look again at the latest
		// by HoldRecheck, and drop it at its deadline.
		dec.Until = sc.now.Add(HoldRecheck)
		if !held.Deadline.IsZero() {
			if !held.Deadline.After(sc.now) {
				dec = policy.Decision{Outcome: policy.Suppress, Rule: "expired",
					Reason: dec.Rule + " held it past its deadline " + held.Deadline.UTC().Format(time.RFC3339)}
			} else if held.Deadline.Before(dec.Until) {
				dec.Until = held.Deadline
			}
		}
	}
	r.decision(st, st.Channel, st.Offer, dec, held.Attempts)
	why := dec.Rule + ": " + dec.Reason
	switch dec.Outcome {
	case policy.Send:
		in.Held = nil
		var vars string
		if len(in.Vars) > 0 {
			b, _ := json.Marshal(in.Vars)
			vars = string(b)
		}
		r.out.Outbox = append(r.out.Outbox, &core.OutboxEntry{
			Key: in.ID + ":" + strconv.Itoa(in.Steps), InstanceID: in.ID, ProfileID: in.ProfileID,
			JourneyID: in.JourneyID, Version: in.Version, Step: st.Name,
			Channel: st.Channel, Template: st.Template, Offer: st.Offer, Vars: vars, CreatedAt: sc.now,
		})
		r.c.Profile.AddContact(core.Contact{At: sc.now, Channel: st.Channel, Category: d.Category, Journey: d.ID,
			Priority: d.Priority, Offer: st.Offer}, sc.now.Add(-r.m.deciders.Policy.Horizon()))
		r.out.ProfileChange = true
		r.record(st.Name, core.RecordSend, detail, st.Next)
		return st.Next, false
	case policy.Suppress:
		in.Held = nil
		r.record(st.Name, core.RecordSuppress, detail+" ("+why+")", st.Next)
		return st.Next, false
	default:
		held.Rule = dec.Rule
		in.Due = dec.Until
		r.record(st.Name, core.RecordDelay, detail+" until "+dec.Until.UTC().Format(time.RFC3339)+" ("+why+")", "")
		return "", true
	}
}

// deadline is when a send reached now stops being worth sending: the
// earlier of expires_after and the deadline expression (zero: never). A
// deadline expression that fails is recorded and ignored.
func (r *run) deadline(st *journey.Step) time.Time {
	var t time.Time
	if st.ExpiresAfter > 0 {
		t = r.sc.now.Add(st.ExpiresAfter)
	}
	if st.Deadline == nil {
		return t
	}
	v, err := r.sc.value(st.Deadline)
	if err == nil {
		s, ok := v.(string)
		var dl time.Time
		if ok {
			dl, err = time.Parse(time.RFC3339Nano, s)
		}
		if !ok || err != nil {
			r.record(st.Name, core.RecordError, st.Deadline.Path+": want a timestamp or an RFC 3339 string", "")
			return t
		}
		if t.IsZero() || dl.Before(t) {
			t = dl
		}
		return t
	}
	r.record(st.Name, core.RecordError, err.Error(), "")
	return t
}

// view is the customer as the contact policy sees them.
func (r *run) view() policy.View {
	p := r.c.Profile
	v := policy.View{Location: r.m.zone(p.TimezoneName())}
	if len(p.Consent) > 0 {
		v.Consent = make(map[string]bool, len(p.Consent))
		for ch, c := range p.Consent {
			v.Consent[ch] = c.Granted
		}
	}
	v.Sent = make([]policy.Sent, len(p.Contacts))
	for i, c := range p.Contacts {
		v.Sent[i] = policy.Sent{At: c.At, Channel: c.Channel, Category: c.Category, Journey: c.Journey, Priority: c.Priority}
	}
	for _, in := range r.c.Instances {
		if in.Status != core.InstanceActive {
			continue
		}
		a := policy.Active{Journey: in.JourneyID}
		if j := r.m.cat.Version(in.JourneyID, in.Version); j != nil {
			a.Category = j.Def.Category
		}
		v.Active = append(v.Active, a)
	}
	return v
}

// decision records an arbitration outcome for the decision log.
func (r *run) decision(st *journey.Step, channel, offer string, d policy.Decision, attempt int) {
	in := r.in
	r.out.Decisions = append(r.out.Decisions, &core.Decision{
		ProfileID: in.ProfileID, At: r.sc.now, Key: in.ID + ":" + strconv.Itoa(in.Steps) + ":" + strconv.Itoa(attempt),
		InstanceID: in.ID, JourneyID: in.JourneyID, Version: in.Version, Step: st.Name,
		Channel: channel, Category: r.j.Def.Category, Offer: offer,
		Outcome: string(d.Outcome), Until: d.Until, Rule: d.Rule, Reason: d.Reason,
	})
}

// released decides again, at now, the sends of c held by a suppression
// rule if an instance ended since out.ended was before (which may have
// lifted the rule).
func (m *Machine) released(c *Customer, now time.Time, out *Output, before int) {
	if out.ended == before || m.deciders.Policy == nil {
		return
	}
	for range MaxEnterDepth {
		ended := out.ended
		for _, in := range append([]*core.Instance(nil), c.Instances...) {
			if in.Held == nil || !strings.HasPrefix(in.Held.Rule, "suppression:") || in.Status != core.InstanceActive {
				continue
			}
			r := m.runFor(c, in, &scope{pr: c.Profile, computed: c.Computed, now: now}, out)
			if r == nil {
				continue
			}
			r.retry()
		}
		if out.ended == ended {
			return
		}
	}
}

// retry decides a delayed send again and goes on if it is settled.
func (r *run) retry() {
	st := r.j.Def.Steps[r.in.Step]
	if st == nil || st.Type != journey.StepSend {
		return
	}
	r.in.Due = time.Time{}
	if next, wait := r.send(st); !wait && r.in.Status == core.InstanceActive {
		r.advance(next)
	}
}
