package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/overture-cjo/overture/internal/core"
)

func journeyStats(t *testing.T, s core.Store, q core.JourneyStatsQuery) []core.JourneyStat {
	t.Helper()
	got, err := s.JourneyStats(t.Context(), q)
	if err != nil {
		t.Fatalf("journey stats %+v: %v", q, err)
	}
	return got
}

// js is a counter delta of journey "cart".
func js(version int, step, metric, dim string, day int, n int64) core.JourneyStat {
	return core.JourneyStat{Journey: "cart", Version: version, Step: step, Metric: metric, Dim: dim, Day: day, N: n}
}

// testJourneyStats: counter deltas add up across batches (several for one
// counter in one batch included) and come back summed over days, or per
// day between two dates summed over steps; versions and journeys are kept
// apart; odd strings round-trip; a failed batch adds nothing.
func testJourneyStats(t *testing.T, s core.Store) {
	ctx := t.Context()
	since := at(-time.Hour)
	q := core.JourneyStatsQuery{Journey: "cart"}
	if got := journeyStats(t, s, q); len(got) != 0 {
		t.Errorf("stats of an empty store: %v", got)
	}
	const d1, d2, d3 = 20260301, 20260302, 20260310
	odd := "rule \x00 é ' \" ; --"
	apply(t, s, since, nil, &core.PartitionCommit{JourneyStats: []core.JourneyStat{
		js(1, "", core.StatEntered, core.ArmTreatment, d1, 1),
		js(1, "", core.StatEntered, core.ArmTreatment, d1, 1),
		js(1, "", core.StatEntered, core.ArmControl, d1, 1),
		js(1, "welcome", core.StatReached, "", 0, 1),
		js(1, "welcome", core.StatReached, "", 0, 1),
		js(1, "welcome", core.StatSent, "email/", d1, 1),
		js(1, "welcome", core.StatSuppressed, "holdout", d1, 1),
		js(1, "remind", core.StatSuppressed, odd, d2, 1),
		js(2, "", core.StatEntered, core.ArmTreatment, d2, 1),
		{Journey: "other", Version: 1, Metric: core.StatEntered, Dim: core.ArmTreatment, Day: d1, N: 7},
	}})
	apply(t, s, since, nil, &core.PartitionCommit{JourneyStats: []core.JourneyStat{
		js(1, "", core.StatEntered, core.ArmTreatment, d2, 1),
		js(1, "", core.StatEntered, core.ArmTreatment, d3, 2),
		js(1, "welcome", core.StatReached, "", 0, 3),
		js(1, "welcome", core.StatSent, "email/", d2, 1),
		js(1, "remind", core.StatSent, "email/", d2, 1),
		js(1, "remind", core.StatSuppressed, odd, d2, 1),
		js(1, "welcome", core.StatExited, "finished", 0, 0), // a zero delta writes nothing
	}})
	_, _ = s.ApplyBatch(ctx, &core.ApplyBatch{DedupeSince: since}, func([]*core.Event) (*core.PartitionCommit, error) {
		return &core.PartitionCommit{JourneyStats: []core.JourneyStat{js(1, "welcome", core.StatReached, "", 0, 100)}}, errBoom
	})

	want := []core.JourneyStat{
		js(1, "", core.StatEntered, core.ArmControl, 0, 1),
		js(1, "", core.StatEntered, core.ArmTreatment, 0, 5),
		js(1, "remind", core.StatSent, "email/", 0, 1),
		js(1, "remind", core.StatSuppressed, odd, 0, 2),
		js(1, "welcome", core.StatReached, "", 0, 5),
		js(1, "welcome", core.StatSent, "email/", 0, 2),
		js(1, "welcome", core.StatSuppressed, "holdout", 0, 1),
		js(2, "", core.StatEntered, core.ArmTreatment, 0, 1),
	}
	if got := journeyStats(t, s, q); jsonOf(got) != jsonOf(want) {
		t.Errorf("totals:\n%s\nwant\n%s", jsonOf(got), jsonOf(want))
	}
	if got := journeyStats(t, s, core.JourneyStatsQuery{Journey: "cart", Version: 2}); jsonOf(got) != jsonOf(want[7:]) {
		t.Errorf("version 2:\n%s\nwant\n%s", jsonOf(got), jsonOf(want[7:]))
	}

	daily := []core.JourneyStat{
		js(1, "", core.StatEntered, core.ArmControl, d1, 1),
		js(1, "", core.StatEntered, core.ArmTreatment, d1, 2),
		js(1, "", core.StatEntered, core.ArmTreatment, d2, 1),
		js(1, "", core.StatEntered, core.ArmTreatment, d3, 2),
		js(1, "", core.StatSent, "email/", d1, 1),
		js(1, "", core.StatSent, "email/", d2, 2), // welcome and remind
		js(1, "", core.StatSuppressed, "holdout", d1, 1),
		js(1, "", core.StatSuppressed, odd, d2, 2),
		js(2, "", core.StatEntered, core.ArmTreatment, d2, 1),
	}
	if got := journeyStats(t, s, core.JourneyStatsQuery{Journey: "cart", Daily: true}); jsonOf(got) != jsonOf(daily) {
		t.Errorf("daily:\n%s\nwant\n%s", jsonOf(got), jsonOf(daily))
	}
	var between []core.JourneyStat
	for _, st := range daily {
		if st.Day >= d2 && st.Day <= d2 && st.Version == 1 {
			between = append(between, st)
		}
	}
	if got := journeyStats(t, s, core.JourneyStatsQuery{Journey: "cart", Version: 1, Daily: true, From: d2, To: d2}); jsonOf(got) != jsonOf(between) {
		t.Errorf("daily on %d:\n%s\nwant\n%s", d2, jsonOf(got), jsonOf(between))
	}
	if got := journeyStats(t, s, core.JourneyStatsQuery{Journey: "cart", Daily: true, From: d3}); len(got) != 1 || got[0].Day != d3 || got[0].N != 2 {
		t.Errorf("daily from %d: %s", d3, jsonOf(got))
	}
	if got := journeyStats(t, s, core.JourneyStatsQuery{Journey: "other"}); len(got) != 1 || got[0].N != 7 || got[0].Journey != "other" {
		t.Errorf("other journey: %s", jsonOf(got))
	}
	if got := journeyStats(t, s, core.JourneyStatsQuery{Journey: "nope"}); len(got) != 0 {
		t.Errorf("unknown journey: %s", jsonOf(got))
	}
}

// testJourneyStatsReplay: counters derived from a batch's fresh events
// count each event once, however often the events are applied again (a
// replay after a crash, a client's retry), including a batch that repeats
// an event of its own.
func testJourneyStatsReplay(t *testing.T, s core.Store) {
	since := at(-time.Hour)
	var events []*core.Event
	for i := range 50 {
		events = append(events, track(int64(i+1), "src", fmt.Sprintf("m%d", i), fmt.Sprintf("p%d", i%5), at(time.Duration(i)*time.Second)))
	}
	// Each fresh event counts one entry, as the step machine would.
	countFresh := func(evs []*core.Event) {
		t.Helper()
		_, err := s.ApplyBatch(t.Context(), &core.ApplyBatch{Events: evs, DedupeSince: since}, func(fresh []*core.Event) (*core.PartitionCommit, error) {
			c := &core.PartitionCommit{}
			for _, e := range fresh {
				c.JourneyStats = append(c.JourneyStats, js(1, "", core.StatEntered, core.ArmTreatment, core.StatDay(e.ReceivedAt), 1),
					js(1, "start", core.StatReached, "", 0, 1))
			}
			return c, nil
		})
		if err != nil {
			t.Fatalf("apply: %v", err)
		}
	}
	countFresh(events[:30])
	countFresh(events[20:])                             // overlaps the first batch
	countFresh(append(events[:10:10], events[5:15]...)) // all seen, and a repeat within the batch
	countFresh(events)
	want := []core.JourneyStat{
		js(1, "", core.StatEntered, core.ArmTreatment, 0, 50),
		js(1, "start", core.StatReached, "", 0, 50),
	}
	if got := journeyStats(t, s, core.JourneyStatsQuery{Journey: "cart"}); jsonOf(got) != jsonOf(want) {
		t.Errorf("after replays:\n%s\nwant\n%s", jsonOf(got), jsonOf(want))
	}
}

// BenchApplyJourneyStats measures what journey counters add to a
// partition worker's transaction on s: batches of 1,000 instances (half
// new, half updates, a message for every fourth) as in
// BenchApplyInstances, and, when counters is set, the deltas the step
// machine emits for them (an entry per new instance, a step visit per
// instance, a send per message, an exit per fourth, each with its day).
// Each store's BenchmarkApplyJourneyStats runs it both ways, on fresh
// stores.
func BenchApplyJourneyStats(b *testing.B, s core.Store, counters bool) {
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	day := core.StatDay(now)
	const n = 1000
	next := 0
	journey := fmt.Sprintf("welcome-%v", counters)
	for b.Loop() {
		c := &core.PartitionCommit{}
		for j := range n {
			k, fresh := next+j, true
			if j%2 == 1 && next > 0 {
				k, fresh = next-j, false // an update of the previous batch's
			}
			in := &core.Instance{ID: fmt.Sprintf("%s:p-%d:1", journey, k), ProfileID: fmt.Sprintf("p-%d", k), JourneyID: journey, Version: 1,
				Status: core.InstanceActive, Step: "wait_1", Due: now.Add(time.Duration(k) * time.Second), EnteredAt: now, UpdatedAt: now,
				Vars: map[string]any{"cart": 12.5, "name": "Ada"}, Steps: 3,
				History: []core.StepRecord{{At: now, Step: "start", Kind: core.RecordEntered, Next: "send_1"},
					{At: now, Step: "send_1", Kind: core.RecordSend, Detail: "email welcome", Next: "wait_1"},
					{At: now, Step: "wait_1", Kind: core.RecordWait, Detail: "until 2026-11-24T12:00:00Z"}}}
			c.Instances = append(c.Instances, in)
			if j%4 == 0 {
				c.Outbox = append(c.Outbox, &core.OutboxEntry{Key: in.ID + ":2", InstanceID: in.ID, ProfileID: in.ProfileID, JourneyID: journey,
					Version: 1, Step: "send_1", Channel: "email", Template: "welcome", Vars: `{"cart":12.5,"name":"Ada"}`, CreatedAt: now})
			}
			if !counters {
				continue
			}
			st := func(step, metric, dim string, d int) core.JourneyStat {
				return core.JourneyStat{Journey: journey, Version: 1, Step: step, Metric: metric, Dim: dim, Day: d, N: 1}
			}
			if fresh {
				c.JourneyStats = append(c.JourneyStats, st("", core.StatEntered, core.ArmTreatment, day), st("send_1", core.StatReached, "", 0))
			}
			c.JourneyStats = append(c.JourneyStats, st("wait_1", core.StatReached, "", 0))
			if j%4 == 0 {
				c.JourneyStats = append(c.JourneyStats, st("send_1", core.StatSent, core.MessageDim("email", ""), day),
					st("done", core.StatExited, "finished", 0))
			}
		}
		next += n
		if _, err := s.ApplyBatch(b.Context(), &core.ApplyBatch{}, func([]*core.Event) (*core.PartitionCommit, error) { return c, nil }); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "instances/s")
}
