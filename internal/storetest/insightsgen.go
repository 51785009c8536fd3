package storetest

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strconv"
	"testing"
	"time"

	"github.com/overture-cjo/overture/internal/core"
)

// Population is a synthetic journey population written straight through
// a store (Append, then ApplyBatch), for path and driver analysis at
// scale: Customers customers, each entering Journey version 1 with its
// first event and sending EventsPerCustomer events in all, the customers'
// events interleaved in the log as live traffic would be (round r holds
// every customer's r-th event, customers shuffled), so that a
// customer's events lie far apart in the timeline table.
//
// The planted driver is the mortgage-refinance case: a customer on iOS
// who uploads a document calls the contact centre with probability
// CallPlanted, anyone else with CallBase. Customers reach the goal
// ("application_completed") with probability 0.3, 0.15 after a call.
type Population struct {
	Journey           string
	Customers         int
	EventsPerCustomer int
	Start             time.Time // the first customer's entry; entries spread over 30 days
	CallPlanted       float64
	CallBase          float64
	Batch             int // events per Append and ApplyBatch
	// Progress, if set, is called after each batch with the events
	// written so far.
	Progress func(written int)
}

// Labels of the synthetic population.
const (
	PopulationTrigger = "application_started"
	PopulationGoal    = "application_completed"
	PopulationCall    = "contact_center_call"
	PopulationUpload  = "document_upload"
)

// PopulationJourney is the journey definition a Population enters (its
// id replaced by the Population's Journey): a goal within 7 days.
const PopulationJourney = `id: %s
name: Synthetic population
entry: {trigger: {event: application_started}}
goal: {event: application_completed, within: 7d}
start: remind
steps:
  remind: {type: send, channel: email, template: remind, next: pause}
  pause: {type: wait, duration: 3d, next: done}
  done: {type: exit, reason: finished}
`

var populationOS = []string{"iOS", "Android", "web"}

// customerPlan is what the generator decided for one customer.
type customerPlan struct {
	os, app, plan int
	labels        []string
	goal          int // index of the goal event in labels, or -1
}

func (p *Population) plan(c int) customerPlan {
	r := rand.New(rand.NewPCG(uint64(c), 0x0be7))
	cp := customerPlan{goal: -1}
	switch x := r.Float64(); {
	case x < 0.4:
		cp.os = 0
	case x < 0.75:
		cp.os = 1
	default:
		cp.os = 2
	}
	cp.app = r.IntN(2)
	cp.plan = r.IntN(3)
	n := p.EventsPerCustomer
	cp.labels = make([]string, n)
	cp.labels[0] = PopulationTrigger
	upload := -1
	for i := 1; i < n; i++ {
		switch x := r.Float64(); {
		case x < 0.4:
			cp.labels[i] = "page_viewed"
		case x < 0.6:
			cp.labels[i] = "email_opened"
		case x < 0.8:
			cp.labels[i] = "product_viewed"
		case x < 0.9:
			cp.labels[i] = PopulationUpload
			if upload < 0 {
				upload = i
			}
		default:
			cp.labels[i] = "faq_viewed"
		}
	}
	called := false
	pCall := p.CallBase
	if cp.os == 0 && upload > 0 {
		pCall = p.CallPlanted
	}
	if r.Float64() < pCall && n > 2 {
		at := 1 + r.IntN(n-1)
		if upload > 0 && at <= upload {
			at = upload + 1 + r.IntN(max(n-upload-1, 1))
		}
		if at < n {
			cp.labels[at] = PopulationCall
			called = true
		}
	}
	pGoal := 0.3
	if called {
		pGoal = 0.15
	}
	if r.Float64() < pGoal && n > 2 {
		at := n/2 + r.IntN(n-n/2)
		if cp.labels[at] != PopulationCall {
			cp.labels[at] = PopulationGoal
			cp.goal = at
		}
	}
	return cp
}

// Generate writes the population into s and returns the number of events
// written, at 12,000 to 20,000 events a second on a two-core machine.
func (p *Population) Generate(tb testing.TB, s core.Store) int {
	tb.Helper()
	ctx := context.Background()
	if p.Batch <= 0 {
		p.Batch = 20000
	}
	C, n := p.Customers, p.EventsPerCustomer
	plans := make([]customerPlan, C)
	contexts := make([]json.RawMessage, C)
	for c := range C {
		plans[c] = p.plan(c)
		cp := plans[c]
		app := ""
		if cp.os != 2 {
			app = fmt.Sprintf(`"app":{"name":"Refi","version":"3.%d","build":"3%d%02d"},`, cp.app+1, cp.app+1, c%100)
		}
		contexts[c] = json.RawMessage(fmt.Sprintf(`{%s"os":{"name":%q,"version":"%d.%d"},"library":{"name":"analytics-%s","version":"4.1.0"},`+
			`"ip":"10.%d.%d.%d","locale":"en-US","device":{"id":"%016x","model":"m-%d"},"timezone":"Europe/London"}`,
			app, populationOS[cp.os], 10+c%7, c%3, populationOS[cp.os], c>>16&255, c>>8&255, c&255, uint64(c)*0x9E3779B97F4A7C15, c%40))
	}
	props := map[string]json.RawMessage{
		PopulationTrigger: json.RawMessage(`{"product":"refinance","amount":250000,"term_years":25,"channel":"app"}`),
		PopulationGoal:    json.RawMessage(`{"product":"refinance","amount":250000}`),
		PopulationCall:    json.RawMessage(`{"queue":"mortgages","reason":"documents","wait_seconds":340}`),
		PopulationUpload:  json.RawMessage(`{"document_type":"payslip","pages":3,"size_kb":812}`),
		"page_viewed":     json.RawMessage(`{"path":"/refinance/step-2","title":"Your details","referrer":"/refinance"}`),
		"email_opened":    json.RawMessage(`{"campaign":"refi-reminder","template":"remind"}`),
		"product_viewed":  json.RawMessage(`{"product_id":"fixed-5y","rate":4.1,"category":"fixed"}`),
		"faq_viewed":      json.RawMessage(`{"article":"documents-needed","section":"faq"}`),
	}
	span := 30 * 24 * time.Hour
	entry := func(c int) time.Time { return p.Start.Add(time.Duration(int64(span) / int64(C) * int64(c))) }
	stamp := func(c, r int) time.Time {
		return entry(c).Add(time.Duration(r)*15*time.Minute + time.Duration(c%60)*time.Second)
	}
	pid := func(c int) string { return "p_bench" + fmt.Sprintf("%012x", c) }
	triggers := make([]int64, C)
	plans0 := []string{"gold", "silver", "bronze"}

	written, last := 0, int64(0)
	order := make([]int, C)
	for r := range n {
		rr := rand.New(rand.NewPCG(uint64(r), 0x5eed))
		for i := range order {
			order[i] = i
		}
		rr.Shuffle(C, func(i, j int) { order[i], order[j] = order[j], order[i] })
		for start := 0; start < C; start += p.Batch {
			part := order[start:min(start+p.Batch, C)]
			events := make([]*core.Event, len(part))
			for i, c := range part {
				label := plans[c].labels[r]
				ts := stamp(c, r)
				events[i] = &core.Event{
					SourceID: "src_bench", MessageID: "m-" + strconv.Itoa(c) + "-" + strconv.Itoa(r), Type: core.TypeTrack, Event: label,
					UserID: "u" + strconv.Itoa(c), Timestamp: ts, ReceivedAt: ts, ProfileID: pid(c),
					Properties: props[label], Context: contexts[c],
				}
			}
			if err := s.Append(ctx, events); err != nil {
				tb.Fatalf("append: %v", err)
			}
			last = events[len(events)-1].Seq
			commit := &core.PartitionCommit{}
			for i, c := range part {
				if r == 0 {
					triggers[c] = events[i].Seq
				}
				if r != n-1 {
					continue
				}
				// The last round writes each customer's profile and
				// instance in their final state.
				cp := plans[c]
				pr := core.NewProfile(pid(c), entry(c))
				pr.FirstSeen, pr.LastSeen, pr.Events = entry(c), stamp(c, n-1), int64(n)
				pr.Traits = map[string]core.Trait{
					"plan":  {Value: json.RawMessage(strconv.Quote(plans0[cp.plan])), At: entry(c)},
					"email": {Value: json.RawMessage(`"u` + strconv.Itoa(c) + `@example.com"`), At: entry(c)},
				}
				pr.Counts = map[string]int64{}
				for _, l := range cp.labels {
					pr.Counts[l]++
				}
				in := &core.Instance{
					ID: p.Journey + ":" + pid(c) + ":1", ProfileID: pid(c), JourneyID: p.Journey, Version: 1,
					Status: core.InstanceDone, EnteredAt: entry(c), UpdatedAt: entry(c), Trigger: triggers[c], Steps: 3,
					History: []core.StepRecord{
						{At: entry(c), Step: "remind", Kind: core.RecordEntered, Next: "remind"},
						{At: entry(c), Step: "remind", Kind: core.RecordSend, Detail: "email remind", Next: "pause"},
						{At: entry(c), Step: "pause", Kind: core.RecordWait, Detail: "until later"},
					},
				}
				if cp.goal >= 0 {
					in.GoalAt, in.EndedAt, in.EndReason = stamp(c, cp.goal), stamp(c, cp.goal), "goal"
				} else {
					in.EndedAt, in.EndReason = entry(c).Add(3*24*time.Hour), "finished"
				}
				in.UpdatedAt = in.EndedAt
				commit.Profiles = append(commit.Profiles, pr)
				commit.Instances = append(commit.Instances, in)
			}
			if _, err := s.ApplyBatch(ctx, &core.ApplyBatch{Events: events}, func([]*core.Event) (*core.PartitionCommit, error) { return commit, nil }); err != nil {
				tb.Fatalf("apply: %v", err)
			}
			written += len(events)
			if p.Progress != nil {
				p.Progress(written)
			}
		}
		if err := s.SaveCheckpoint(ctx, last); err != nil {
			tb.Fatalf("checkpoint: %v", err)
		}
	}
	return written
}
