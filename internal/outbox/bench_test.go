package outbox_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/overture-cjo/overture/internal/core"
	"github.com/overture-cjo/overture/internal/deliver"
	"github.com/overture-cjo/overture/internal/deliver/webhook"
	"github.com/overture-cjo/overture/internal/message"
	"github.com/overture-cjo/overture/internal/outbox"
	"github.com/overture-cjo/overture/internal/postgres"
	"github.com/overture-cjo/overture/internal/sqlite"
	"github.com/overture-cjo/overture/internal/storetest"
)

const benchTemplate = `id: order-update
webhook:
  body: '{"customer": {{ profile.id | json }}, "name": {{ profile.traits.first_name | json }}, "order": {{ journey.order | json }}, "status": "shipped"}'
sample:
  journey: {order: "A-1"}
`

// BenchmarkDispatchWebhook drains b.N queued messages from a real SQLite
// store through the real Renderer (a Liquid webhook template, the profile
// from the in-memory views) and the real webhook connector (Standard
// Webhooks signing) to a local HTTP sink, with the settings the server
// uses (concurrency 64 for the connector). It reports messages/s from the
// first claim to the last result written.
func BenchmarkDispatchWebhook(b *testing.B) {
	b.Run("sqlite", func(b *testing.B) {
		st, err := sqlite.Open(context.Background(), b.TempDir())
		if err != nil {
			b.Fatal(err)
		}
		defer st.Close()
		benchDispatch(b, st)
	})
	b.Run("postgres", func(b *testing.B) {
		st := postgresStore(b)
		defer st.Close()
		benchDispatch(b, st)
	})
}

// postgresStore opens a store in a fresh schema of the test PostgreSQL
// server, dropped when the benchmark ends.
func postgresStore(b *testing.B) core.Store {
	st, err := postgres.Open(context.Background(), storetest.PostgresURL(b))
	if err != nil {
		b.Fatal(err)
	}
	return st
}

func benchDispatch(b *testing.B, st core.Store) {
	ctx := context.Background()
	now := time.Now().UTC()
	for start := 0; start < b.N; start += 10000 {
		var es []*core.OutboxEntry
		for i := start; i < min(start+10000, b.N); i++ {
			es = append(es, &core.OutboxEntry{Key: fmt.Sprintf("order:p%d:1:1", i), InstanceID: fmt.Sprintf("order:p%d:1", i),
				ProfileID: fmt.Sprintf("p%d", i%10000), JourneyID: "order", Version: 1, Step: "notify", Channel: "webhook",
				Template: "order-update", Vars: fmt.Sprintf(`{"order":"A-%d"}`, i), CreatedAt: now, Status: core.OutboxQueued})
		}
		if _, err := st.ApplyBatch(ctx, &core.ApplyBatch{}, func([]*core.Event) (*core.PartitionCommit, error) {
			return &core.PartitionCommit{Outbox: es}, nil
		}); err != nil {
			b.Fatal(err)
		}
	}
	var received atomic.Int64
	sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		received.Add(1)
		w.WriteHeader(http.StatusNoContent)
	}))
	defer sink.Close()
	hook, err := webhook.New(webhook.Config{Name: "sink", URL: sink.URL, Key: []byte("0123456789abcdef0123456789abcdef")})
	if err != nil {
		b.Fatal(err)
	}
	tpl, err := message.Parse("order-update.yaml", []byte(benchTemplate))
	if err != nil {
		b.Fatal(err)
	}
	set, err := message.NewSet([]*message.Template{tpl})
	if err != nil {
		b.Fatal(err)
	}
	profile := &core.Profile{ID: "p", Traits: map[string]core.Trait{"first_name": {Value: []byte(`"Ada"`)}}}
	r := &outbox.Renderer{Store: st, Clock: core.RealClock{}, Templates: func() *message.Set { return set },
		Profile: func(id string) (*core.Profile, bool) { return profile, true }}
	d, err := outbox.New(st, core.RealClock{}, slog.New(slog.DiscardHandler), r,
		[]outbox.Route{{Connector: hook, Config: deliver.ConnectorConfig{Name: "sink", Concurrency: 64}}}, outbox.Options{})
	if err != nil {
		b.Fatal(err)
	}
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	b.ResetTimer()
	begin := time.Now()
	go func() { d.Run(rctx); close(done) }()
	d.Notify()
	for {
		if d.Sent() == int64(b.N) {
			es, err := st.ListOutbox(ctx, core.OutboxFilter{Status: core.OutboxQueued, Limit: 1})
			if err != nil {
				b.Fatal(err)
			}
			ss, err := st.ListOutbox(ctx, core.OutboxFilter{Status: core.OutboxSending, Limit: 1})
			if err != nil {
				b.Fatal(err)
			}
			if len(es) == 0 && len(ss) == 0 {
				break // every result written
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	elapsed := time.Since(begin)
	b.StopTimer()
	cancel()
	<-done
	if got := received.Load(); got != int64(b.N) {
		b.Fatalf("the sink received %d messages, want %d", got, b.N)
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "msgs/s")
}
