package decide

import (
	"slices"
	"strconv"
	"strings"
)

// DefaultStrength is the prior strength of the population rate in channel
// choice, in pseudo-deliveries, when ChannelInput.Strength is not set: a
// customer's own record outweighs the population's once they have had
// about 20 deliveries on a channel.
const DefaultStrength = 20

// DefaultChannelRate is the engagement rate assumed for a channel the
// population has had no deliveries on. Being the same for every such
// channel, it leaves the choice among them to the customer's own data and
// then to the order of the candidates.
const DefaultChannelRate = 0.1

// Engagement counts deliveries on a channel and how many of them were
// engaged with (opened or clicked).
type Engagement struct {
	Delivered, Engaged int64
}

// ChannelInput is one channel choice's question.
type ChannelInput struct {
	// Candidates are the channels allowed (by the step or the offer), in
	// order of preference of the business: ties go to the earlier one.
	// Repeated channels count once.
	Candidates []string
	// Consented tells whether the customer may be contacted on a channel.
	// Nil: every channel is.
	Consented func(channel string) bool
	// Preferred is the customer's stated preference, "" if none. It wins
	// if it is a consented candidate.
	Preferred string
	// Own is this customer's engagement, per channel.
	Own map[string]Engagement
	// Population is everyone's engagement, per channel.
	Population map[string]Engagement
	// Strength is how many deliveries the population rate counts for in a
	// customer's posterior; 0 (or less) means DefaultStrength.
	Strength float64
}

// ChannelRank is one candidate channel in a choice.
type ChannelRank struct {
	Channel   string
	Consented bool
	Preferred bool // the customer's stated preference
	// Rate is the posterior mean of the customer's engagement rate:
	// (Strength·PopulationRate + Own.Engaged) / (Strength + Own.Delivered).
	Rate           float64
	Own            Engagement
	PopulationRate float64 // the population's engagement rate, or DefaultChannelRate without data
	Reason         string  // how Rate came about, or why the channel is out
}

// ChannelChoice is the channel chosen and why.
type ChannelChoice struct {
	// Channel is the channel chosen, "" when no candidate is consented.
	Channel string
	// Ranked is every candidate: the chosen one first, then the other
	// consented ones by Rate (ties in candidate order), then the others in
	// candidate order.
	Ranked []ChannelRank
	// Reason says why Channel: "stated preference", "highest engagement:
	// ...", or "no consented channel among ...".
	Reason string
}

// ChooseChannel chooses the channel to reach a customer on: among the
// consented candidates, the stated preference if it is one, or else the
// one with the highest engagement rate, each customer's rate shrunk
// towards the population's: the posterior mean under a prior Beta(S·p,
// S·(1−p)) where p is the population rate and S is Strength. One open out
// of one delivery on a channel does not beat a channel proven on the
// population; twenty do. Ties keep candidate order. It is deterministic.
func ChooseChannel(in ChannelInput) ChannelChoice {
	strength := in.Strength
	if !(strength > 0) || strength > 1e12 {
		strength = DefaultStrength
	}
	var ranked []ChannelRank
	for _, ch := range in.Candidates {
		if slices.ContainsFunc(ranked, func(r ChannelRank) bool { return r.Channel == ch }) {
			continue
		}
		own := clean(in.Own[ch])
		pop := clean(in.Population[ch])
		p := DefaultChannelRate
		if pop.Delivered > 0 {
			p = float64(pop.Engaged) / float64(pop.Delivered)
		}
		r := ChannelRank{
			Channel:        ch,
			Consented:      in.Consented == nil || in.Consented(ch),
			Preferred:      in.Preferred != "" && ch == in.Preferred,
			Rate:           (strength*p + float64(own.Engaged)) / (strength + float64(own.Delivered)),
			Own:            own,
			PopulationRate: p,
		}
		if r.Consented {
			r.Reason = "rate " + num(r.Rate, 3) + " = (" + num(strength, -1) + " × population " + num(p, 3) +
				popNote(pop) + " + " + strconv.FormatInt(own.Engaged, 10) + " engaged) / (" + num(strength, -1) +
				" + " + strconv.FormatInt(own.Delivered, 10) + " delivered)"
		} else {
			r.Reason = "not consented"
		}
		ranked = append(ranked, r)
	}
	// Consented first; among them the preference, then by rate; the
	// stable sort keeps candidate order on ties.
	slices.SortStableFunc(ranked, func(a, b ChannelRank) int {
		switch {
		case a.Consented != b.Consented:
			return boolOrder(a.Consented, b.Consented)
		case !a.Consented:
			return 0
		case a.Preferred != b.Preferred:
			return boolOrder(a.Preferred, b.Preferred)
		case a.Rate > b.Rate:
			return -1
		case a.Rate < b.Rate:
			return 1
		}
		return 0
	})
	choice := ChannelChoice{Ranked: ranked}
	if len(ranked) == 0 || !ranked[0].Consented {
		choice.Reason = "no consented channel among " + list(in.Candidates)
		if len(in.Candidates) == 0 {
			choice.Reason = "no candidate channels"
		}
		return choice
	}
	best := &ranked[0]
	choice.Channel = best.Channel
	if best.Preferred {
		best.Reason = "stated preference; " + best.Reason
		choice.Reason = "stated preference"
		return choice
	}
	var sb strings.Builder
	sb.WriteString("highest engagement: ")
	var out []string
	for i, r := range ranked {
		if !r.Consented {
			out = append(out, r.Channel)
			continue
		}
		switch {
		case i == 1:
			sb.WriteString(" over ")
		case i > 1:
			sb.WriteString(", ")
		}
		sb.WriteString(r.Channel + " " + num(r.Rate, 2) + " (" + strconv.FormatInt(r.Own.Engaged, 10) + " of " +
			strconv.FormatInt(r.Own.Delivered, 10) + " own, population " + num(r.PopulationRate, 2) + popNote(in.Population[r.Channel]) + ")")
	}
	if len(ranked) > 1 && ranked[1].Consented && ranked[1].Rate == best.Rate {
		sb.WriteString("; tied with " + ranked[1].Channel + ", first in candidate order")
	}
	if len(out) > 0 {
		sb.WriteString("; not consented: " + strings.Join(out, ", "))
	}
	if in.Preferred != "" {
		if i := slices.IndexFunc(ranked, func(r ChannelRank) bool { return r.Preferred }); i >= 0 {
			sb.WriteString("; stated preference " + in.Preferred + " is not consented")
		} else {
			sb.WriteString("; stated preference " + in.Preferred + " is not a candidate")
		}
	}
	choice.Reason = sb.String()
	return choice
}

// clean makes e's counts sensible: none negative, no more engaged than
// delivered.
func clean(e Engagement) Engagement {
	e.Delivered = max(e.Delivered, 0)
	e.Engaged = min(max(e.Engaged, 0), e.Delivered)
	return e
}

// popNote marks a population rate that is the default for want of data.
func popNote(pop Engagement) string {
	if clean(pop).Delivered == 0 {
		return " (no data)"
	}
	return ""
}

// boolOrder sorts true before false.
func boolOrder(a, b bool) int {
	if a == b {
		return 0
	}
	if a {
		return -1
	}
	return 1
}

// list joins channels for a reason: "email, sms"; "none" if empty.
func list(chs []string) string {
	if len(chs) == 0 {
		return "none"
	}
	return strings.Join(chs, ", ")
}
