package storetest

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/overture-cjo/overture/internal/core"
)

// BenchApplyInstances measures the journey part of a partition worker's
// transaction on s: 1,000 instances upserted (half new, half updated) and
// 250 outbox entries queued per batch, with no events. Each store's
// BenchmarkApplyInstances calls it.
func BenchApplyInstances(b *testing.B, s core.Store) {
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	const n = 1000
	next := 0
	for b.Loop() {
		c := &core.PartitionCommit{}
		for j := range n {
			k := next + j
			if j%2 == 1 && next > 0 {
				k = next - j // an update of the previous batch's
			}
			in := &core.Instance{ID: fmt.Sprintf("welcome:p-%d:1", k), ProfileID: fmt.Sprintf("p-%d", k), JourneyID: "welcome", Version: 1,
				Status: core.InstanceActive, Step: "wait_1", Due: now.Add(time.Duration(k) * time.Second), EnteredAt: now, UpdatedAt: now,
				Vars: map[string]any{"cart": 12.5, "name": "Ada"}, Steps: 3,
				History: []core.StepRecord{{At: now, Step: "start", Kind: core.RecordEntered, Next: "send_1"},
					{At: now, Step: "send_1", Kind: core.RecordSend, Detail: "email welcome", Next: "wait_1"},
					{At: now, Step: "wait_1", Kind: core.RecordWait, Detail: "until 2026-11-24T12:00:00Z"}}}
			c.Instances = append(c.Instances, in)
			if j%4 == 0 {
				c.Outbox = append(c.Outbox, &core.OutboxEntry{Key: in.ID + ":2", InstanceID: in.ID, ProfileID: in.ProfileID, JourneyID: "welcome",
					Version: 1, Step: "send_1", Channel: "email", Template: "welcome", Vars: `{"cart":12.5,"name":"Ada"}`, CreatedAt: now})
			}
		}
		next += n
		if _, err := s.ApplyBatch(b.Context(), &core.ApplyBatch{}, func([]*core.Event) (*core.PartitionCommit, error) { return c, nil }); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "instances/s")
}

// BenchApplyAudiences measures the audience part of a partition worker's
// transaction on s: 1,000 membership changes (three entries for one exit)
// and as many emitted events per batch, with no events applied. Each
// store's BenchmarkApplyAudiences calls it.
func BenchApplyAudiences(b *testing.B, s core.Store) {
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	props := json.RawMessage(`{"audience":"vip","entries":1}`)
	const n = 1000
	next := 0
	for b.Loop() {
		c := &core.PartitionCommit{}
		for j := range n {
			k, name := next+j, core.EventAudienceEntered
			m := core.MemberChange{Audience: "vip", ProfileID: fmt.Sprintf("p-%d", k), Member: true, Since: now}
			if j%4 == 3 && next > 0 {
				m.ProfileID, m.Member, name = fmt.Sprintf("p-%d", next-j), false, core.EventAudienceExited
			}
			c.Members = append(c.Members, m)
			c.Emits = append(c.Emits, &core.Event{SourceID: core.InternalSource, MessageID: fmt.Sprintf("%s:vip:%s:1", name, m.ProfileID),
				Type: core.TypeTrack, Event: name, Timestamp: now, ReceivedAt: now, Properties: props, ProfileID: m.ProfileID})
		}
		next += n
		if _, err := s.ApplyBatch(b.Context(), &core.ApplyBatch{}, func([]*core.Event) (*core.PartitionCommit, error) { return c, nil }); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "changes/s")
}
