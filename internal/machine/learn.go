package machine

import (
	"encoding/json"
	"time"

	"github.com/overture-cjo/overture/internal/core"
)

// learnedEvent is the part of an event's properties learning reads.
type learnedEvent struct {
	Channel string `json:"channel"`
	Offer   string `json:"offer"`
	Offers  []struct {
		ID     string `json:"id"`
		Bucket string `json:"bucket"`
	} `json:"offers"`
}

// learn updates what the customer's profile and the shared models know
// from an event: message engagement per channel (message_delivered,
// message_opened, message_clicked), offers shown at a touchpoint
// (touchpoint_decision), and offer conversions (an offer's outcome events
// within its window of an open impression; an event naming an offer in
// properties.offer converts only that one). The models' deltas go to
// out.Stats.
func (m *Machine) learn(c *Customer, ev *core.Event, now time.Time, out *Output) {
	name := ev.Label()
	offers := m.deciders.Offers
	converted := offers.ConvertedBy(name)
	switch name {
	case core.EventMessageDelivered, core.EventMessageOpened, core.EventMessageClicked, core.EventTouchpointDecision:
	default:
		if len(converted) == 0 {
			return
		}
	}
	var le learnedEvent
	if len(ev.Properties) > 0 {
		_ = json.Unmarshal(ev.Properties, &le)
	}
	p := c.Profile
	switch name {
	case core.EventMessageDelivered, core.EventMessageOpened, core.EventMessageClicked:
		if le.Channel == "" {
			return
		}
		if p.Engagement == nil {
			p.Engagement = map[string]core.Engagement{}
		}
		e := p.Engagement[le.Channel]
		st := core.ModelStat{Model: core.ModelChannel, Key: le.Channel}
		if name == core.EventMessageDelivered {
			e.Delivered++
			st.Trials = 1
		} else if e.Engaged < e.Delivered { // an open and a click of one message count once
			e.Engaged++
			st.Successes = 1
		} else {
			return
		}
		p.Engagement[le.Channel] = e
		out.Stats = append(out.Stats, st)
		out.ProfileChange = true
		return
	case core.EventTouchpointDecision:
		for _, o := range le.Offers {
			if offers != nil && offers.Get(o.ID) != nil {
				m.impression(c, o.ID, o.Bucket, now, out)
			}
		}
		return
	}
	for _, o := range converted {
		if le.Offer != "" && le.Offer != o.ID {
			continue
		}
		seen, ok := p.Offers[o.ID]
		if !ok || !seen.Open || now.Sub(seen.Last) > o.Outcome.Within || now.Before(seen.Last) {
			continue
		}
		seen.Open = false
		seen.Conversions++
		p.Offers[o.ID] = seen
		out.Stats = append(out.Stats, core.ModelStat{Model: core.ModelOffer, Key: o.ID, Bucket: seen.Bucket, Successes: 1})
		out.ProfileChange = true
	}
}

// impression records that the customer was shown an offer.
func (m *Machine) impression(c *Customer, offer, bucket string, now time.Time, out *Output) {
	p := c.Profile
	if p.Offers == nil {
		p.Offers = map[string]core.OfferSeen{}
	}
	seen := p.Offers[offer]
	seen.Impressions++
	seen.Last, seen.Bucket, seen.Open = now, bucket, true
	p.Offers[offer] = seen
	out.Stats = append(out.Stats, core.ModelStat{Model: core.ModelOffer, Key: offer, Bucket: bucket, Trials: 1})
	out.ProfileChange = true
}
