package sqlite

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/overture-cjo/overture/internal/core"
	"github.com/overture-cjo/overture/internal/storetest"
)

// BenchmarkApplyBatch measures a partition worker's transaction: batches
// of 10 to 1,000 events over 10,000 profiles, dedupe + timeline + profile
// upserts.
func BenchmarkApplyBatch(b *testing.B) {
	for _, n := range []int{10, 100, 1000} {
		b.Run(fmt.Sprintf("events=%d", n), func(b *testing.B) { benchApply(b, n) })
	}
}

func benchApply(b *testing.B, size int) {
	ctx := context.Background()
	s, err := Open(ctx, b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	props := []byte(`{"product_id":"p-123","price":19.99,"currency":"EUR","category":"shoes","sku":"abc-123-def"}`)
	ctxj := []byte(`{"library":{"name":"analytics-go","version":"3.3.0"},"ip":"10.0.0.1"}`)
	seq := int64(0)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		batch := &core.ApplyBatch{DedupeSince: now.Add(-time.Hour)}
		for j := 0; j < size; j++ {
			seq++
			batch.Events = append(batch.Events, &core.Event{Seq: seq, SourceID: "src", MessageID: fmt.Sprintf("m-%d", seq), Type: "track", Event: "Product Viewed",
				UserID: fmt.Sprintf("u-%d", seq%10000), ProfileID: fmt.Sprintf("p-%d", seq%10000), Timestamp: now, ReceivedAt: now, Properties: props, Context: ctxj})
		}
		_, err := s.ApplyBatch(ctx, batch, func(fresh []*core.Event) (*core.PartitionCommit, error) {
			ps := map[string]*core.Profile{}
			for _, e := range fresh {
				p := ps[e.ProfileID]
				if p == nil {
					p = core.NewProfile(e.ProfileID, now)
					ps[e.ProfileID] = p
				}
				p.Apply(e, &core.Facts{})
			}
			c := &core.PartitionCommit{}
			for _, p := range ps {
				c.Profiles = append(c.Profiles, p)
			}
			return c, nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*size)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkApplyInstances: see storetest.BenchApplyInstances.
func BenchmarkApplyInstances(b *testing.B) {
	s, err := Open(context.Background(), b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	storetest.BenchApplyInstances(b, s)
}

// BenchmarkApplyAudiences: see storetest.BenchApplyAudiences.
func BenchmarkApplyAudiences(b *testing.B) {
	s, err := Open(context.Background(), b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	storetest.BenchApplyAudiences(b, s)
}

// BenchmarkCommitIdentities measures the router's identity commit for new
// customers: 1,000 customers per commit, a userId and an anonymousId each.
func BenchmarkCommitIdentities(b *testing.B) {
	ctx := context.Background()
	s, err := Open(ctx, b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	n := 0
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		ops := make([]core.IdentityOp, 0, 2000)
		for j := 0; j < 1000; j++ {
			n++
			p := fmt.Sprintf("p_%012d", n)
			ops = append(ops,
				core.IdentityOp{Bind: &core.Identifier{Kind: core.KindUserID, Value: fmt.Sprintf("u-%d", n)}, ProfileID: p},
				core.IdentityOp{Bind: &core.Identifier{Kind: core.KindAnonymousID, Value: fmt.Sprintf("a-%x", n*7919)}, ProfileID: p})
		}
		if err := s.CommitIdentities(ctx, ops); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*2000)/b.Elapsed().Seconds(), "bindings/s")
}
