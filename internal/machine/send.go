package machine

import (
	"encoding/json"
	"hash/fnv"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/overture-cjo/overture/internal/core"
	"github.com/overture-cjo/overture/internal/decide"
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
			Reason: "the customer is in the journey's holdout group, which is measured but never messaged"}, 1, nil)
		r.record(st.Name, core.RecordSuppress, detail+" (holdout)", st.Next)
		return st.Next, false
	}
	if in.Held == nil {
		in.Held = &core.Held{Since: sc.now, Deadline: r.deadline(st)}
	}
	held := in.Held
	held.Attempts++
	ch := r.choose(st, held.Attempts)
	if ch.refused != nil {
		in.Held = nil
		r.decision(st, st.Channel, ch.offer, *ch.refused, held.Attempts, ch.explain)
		r.record(st.Name, core.RecordSuppress, detail+" ("+ch.refused.Rule+": "+ch.refused.Reason+")", st.Next)
		return st.Next, false
	}
	var dec policy.Decision
	channel := ""
	for i, c := range ch.channels {
		msg := policy.Message{Channel: c, Category: d.Category, Journey: d.ID, Priority: d.Priority,
			Deadline: held.Deadline, LoserAction: d.WhenOutranked}
		got := policy.Decision{Outcome: policy.Send, Reason: "no contact policy"}
		if p := r.m.deciders.Policy; p != nil {
			got = p.Decide(r.view(), msg, sc.now)
			for _, e := range got.Errors {
				// A failing when condition does not apply its rule; say so.
				ch.explain = append(ch.explain, "condition error: "+e)
				r.record(st.Name, core.RecordError, e, "")
			}
		}
		if len(ch.channels) > 1 {
			ch.explain = append(ch.explain, "arbitration on "+c+": "+string(got.Outcome)+" "+got.Rule)
		}
		if i == 0 || got.Outcome == policy.Send {
			dec, channel = got, c
		}
		if got.Outcome == policy.Send {
			break
		}
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
	r.decision(st, channel, ch.offer, dec, held.Attempts, ch.explain)
	if channel != st.Channel || ch.offer != st.Offer {
		detail = channel + " " + st.Template
		if ch.offer != "" {
			detail += " offer " + ch.offer
		}
	}
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
			Channel: channel, Template: st.Template, Offer: ch.offer, Vars: vars, EventSeq: in.Trigger,
			CreatedAt: sc.now, Status: core.OutboxQueued,
		})
		r.c.Profile.AddContact(core.Contact{At: sc.now, Channel: channel, Category: d.Category, Journey: d.ID,
			Priority: d.Priority, Offer: ch.offer}, sc.now.Add(-r.m.deciders.Policy.Horizon()))
		if ch.known {
			r.m.impression(r.c, ch.offer, ch.bucket, sc.now, r.out)
		}
		r.out.ProfileChange = true
		r.sc.profileChanged()
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

// choice is what a send step goes out with: the offer (as written, or
// chosen by `best`) and the channels to try in order (one, or the
// consented ones `best` ranked), with how they were chosen; or refused, a
// suppression when no offer or channel may be used.
type choice struct {
	offer    string
	bucket   string
	known    bool // offer is in the offers catalog: its impression is learned
	channels []string
	explain  []string
	refused  *policy.Decision
}

// choose resolves a send step's `offer: best` (or checks a named offer's
// eligibility) and `channel: best`. Without an offers catalog the step's
// offer is passed on as written.
func (r *run) choose(st *journey.Step, attempt int) choice {
	ch := choice{offer: st.Offer}
	p := r.c.Profile
	offers := r.m.deciders.Offers
	var offer *decide.Offer
	if st.Offer != "" && offers != nil && len(offers.List()) > 0 && (st.Offer == journey.OfferBest || offers.Get(st.Offer) != nil) {
		in := decide.Input{Profile: r.sc.profileMap(), Now: r.sc.now, Seen: SeenOffers(p),
			Rand: rand.New(rand.NewPCG(hash64(r.in.ID), uint64(r.in.Steps)<<20|uint64(attempt)))}
		in.Context = map[string]any{"journey": r.in.JourneyID, "step": st.Name}
		if st.Channel != journey.ChannelBest {
			in.Channel = st.Channel
			in.Context["channel"] = st.Channel
		}
		if st.Offer != journey.OfferBest {
			in.Only = []string{st.Offer}
		}
		ranked := offers.Rank(in, r.m.deciders.Model)
		for i, rk := range ranked {
			if i < 3 {
				ch.explain = append(ch.explain, "offer "+rk.Offer.ID+": "+rk.Reason)
			}
		}
		if len(ranked) == 0 || !ranked[0].Eligible {
			why := "no offer is eligible"
			if len(ranked) > 0 {
				why = "offer " + ranked[0].Offer.ID + ": " + ranked[0].Reason
			}
			ch.refused = &policy.Decision{Outcome: policy.Suppress, Rule: "offer:none", Reason: why}
			return ch
		}
		offer = ranked[0].Offer
		ch.offer, ch.bucket, ch.known = offer.ID, ranked[0].Bucket, true
	}
	if st.Channel != journey.ChannelBest {
		ch.channels = []string{st.Channel}
		return ch
	}
	cands := st.Channels
	if len(cands) == 0 && offer != nil {
		cands = offer.Channels
	}
	if len(cands) == 0 {
		cands = core.Channels
	}
	if f := r.m.deciders.TemplateChannels; f != nil {
		if has := f(st.Template); has != nil {
			cands = slices.DeleteFunc(slices.Clone(cands), func(c string) bool { return !slices.Contains(has, c) })
		}
	}
	own := make(map[string]decide.Engagement, len(p.Engagement))
	for c, e := range p.Engagement {
		own[c] = decide.Engagement{Delivered: e.Delivered, Engaged: e.Engaged}
	}
	var pop map[string]decide.Engagement
	if f := r.m.deciders.Population; f != nil {
		pop = f()
	}
	preferred, _ := r.sc.profileMap()["traits"].(map[string]any)["preferred_channel"].(string)
	cc := decide.ChooseChannel(decide.ChannelInput{Candidates: cands, Preferred: preferred, Own: own, Population: pop,
		Consented: func(c string) bool { return p.Consent[c].Granted }})
	ch.explain = append(ch.explain, "channel: "+cc.Reason)
	if cc.Channel == "" {
		ch.refused = &policy.Decision{Outcome: policy.Suppress, Rule: "channel:none", Reason: cc.Reason}
		return ch
	}
	for _, rk := range cc.Ranked {
		if rk.Consented {
			ch.channels = append(ch.channels, rk.Channel)
		}
	}
	return ch
}

// SeenOffers is a customer's offer history as ranking reads it.
func SeenOffers(p *core.Profile) map[string]decide.Seen {
	if len(p.Offers) == 0 {
		return nil
	}
	m := make(map[string]decide.Seen, len(p.Offers))
	for id, o := range p.Offers {
		m[id] = decide.Seen{Impressions: o.Impressions, Last: o.Last}
	}
	return m
}

func hash64(s string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(s))
	return h.Sum64()
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
	if r.m.deciders.Policy.UsesProfile() {
		v.Profile = r.sc.profileMap() // `profile` for the policy's conditions
	}
	return v
}

// decision records an arbitration outcome for the decision log.
func (r *run) decision(st *journey.Step, channel, offer string, d policy.Decision, attempt int, explain []string) {
	in := r.in
	r.countDecision(st.Name, channel, offer, d)
	r.out.Decisions = append(r.out.Decisions, &core.Decision{
		ProfileID: in.ProfileID, At: r.sc.now, Key: in.ID + ":" + strconv.Itoa(in.Steps) + ":" + strconv.Itoa(attempt),
		InstanceID: in.ID, JourneyID: in.JourneyID, Version: in.Version, Step: st.Name,
		Channel: channel, Category: r.j.Def.Category, Offer: offer,
		Outcome: string(d.Outcome), Until: d.Until, Rule: d.Rule, Reason: d.Reason, Explain: explain,
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
