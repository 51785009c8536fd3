package machine

import (
	"encoding/json"
	"strings"

	"github.com/overture-cjo/overture/internal/analytics"
	"github.com/overture-cjo/overture/internal/core"
	"github.com/overture-cjo/overture/internal/journey"
	"github.com/overture-cjo/overture/internal/policy"
)

// Journey analytics: the machine states each fact once, as a counter
// delta in Output.JourneyStats (see core.JourneyStat for the metrics);
// the partition commits the deltas with the input that caused them, so
// the counters follow the instances, decisions and events exactly, across
// crashes and replays.

// eventMessageFailed is the delivery failure event of engagement tracking
// (track.EventMessageFailed).
const eventMessageFailed = "message_failed"

// arm is the instance's group: control (holdout) or treatment.
func arm(in *core.Instance) string {
	if in.Holdout {
		return core.ArmControl
	}
	return core.ArmTreatment
}

// count adds one to a counter of the instance's journey version; a daily
// metric counts on the input's UTC day.
func (r *run) count(step, metric, dim string) {
	st := core.JourneyStat{Journey: r.in.JourneyID, Version: r.in.Version, Step: step, Metric: metric, Dim: dim, N: 1}
	if core.DailyStat(metric) {
		st.Day = core.StatDay(r.sc.now)
	}
	r.out.JourneyStats = append(r.out.JourneyStats, st)
}

// countDecision counts a send step's arbitration outcome.
func (r *run) countDecision(step, channel, offer string, d policy.Decision) {
	switch d.Outcome {
	case policy.Send:
		r.count(step, core.StatSent, core.MessageDim(channel, offer))
	case policy.Delay:
		r.count(step, core.StatDelayed, d.Rule)
	default:
		r.count(step, core.StatSuppressed, d.Rule)
	}
}

// countGoal counts the instance reaching its goal at now: the goal at its
// step, the time from entry, and a conversion for each step, channel and
// offer it was sent a message on (read from its history: the send
// records' details are "channel template[ offer O]").
func (r *run) countGoal() {
	in := r.in
	a := arm(in)
	r.count(in.Step, core.StatGoal, a)
	r.count("", core.StatTimeToGoal, core.TimeToGoalDim(a, analytics.Bucket(r.sc.now.Sub(in.EnteredAt))))
	var seen map[[2]string]bool
	for _, rec := range in.History {
		if rec.Kind != core.RecordSend {
			continue
		}
		st := r.j.Def.Steps[rec.Step]
		if st == nil || st.Type != journey.StepSend {
			continue
		}
		channel, rest, _ := strings.Cut(rec.Detail, " ")
		offer := ""
		if after, ok := strings.CutPrefix(rest, st.Template+" offer "); ok {
			offer = after
		}
		dim := core.MessageDim(channel, offer)
		if seen[[2]string{rec.Step, dim}] {
			continue
		}
		if seen == nil {
			seen = map[[2]string]bool{}
		}
		seen[[2]string{rec.Step, dim}] = true
		r.count(rec.Step, core.StatConverted, dim)
	}
}

// messageEvent is what a message event says about its message.
type messageEvent struct {
	Journey string `json:"journey"`
	Version int    `json:"version"`
	Step    string `json:"step"`
	Channel string `json:"channel"`
	Offer   string `json:"offer"`
}

// maxStatDim bounds the channel and offer a message event may count
// under, so that events from clients cannot grow the counters without
// bound.
const maxStatDim = 200

// countMessage counts a message event (delivered, opened, clicked,
// failed) for the journey version and step that sent the message, if the
// machine knows them.
func (m *Machine) countMessage(ev *core.Event, out *Output) {
	var metric string
	switch ev.Label() {
	case core.EventMessageDelivered:
		metric = core.StatDelivered
	case core.EventMessageOpened:
		metric = core.StatOpened
	case core.EventMessageClicked:
		metric = core.StatClicked
	case eventMessageFailed:
		metric = core.StatFailed
	default:
		return
	}
	var me messageEvent
	if len(ev.Properties) == 0 || json.Unmarshal(ev.Properties, &me) != nil {
		return
	}
	if me.Channel == "" || len(me.Channel) > maxStatDim || strings.Contains(me.Channel, "/") || len(me.Offer) > maxStatDim {
		return
	}
	j := m.cat.Version(me.Journey, me.Version)
	if j == nil || j.Def.Steps[me.Step] == nil {
		return
	}
	out.JourneyStats = append(out.JourneyStats, core.JourneyStat{Journey: me.Journey, Version: me.Version, Step: me.Step,
		Metric: metric, Dim: core.MessageDim(me.Channel, me.Offer), N: 1})
}
