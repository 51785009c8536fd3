package outbox_test

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/overture-cjo/overture/internal/core"
	"github.com/overture-cjo/overture/internal/outbox"
	"github.com/overture-cjo/overture/internal/sqlite"
)

// flaky fails its first two sends, then records what it sends.
type flaky struct {
	mu    sync.Mutex
	fails int
	sent  []string
}

func (f *flaky) Send(ctx context.Context, m *core.OutboxEntry) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fails < 2 {
		f.fails++
		return errors.New("provider down")
	}
	f.sent = append(f.sent, m.Key)
	return nil
}

func (f *flaky) keys() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.sent...)
}

// TestDispatcher queues messages through a partition commit on a real
// store and checks that the dispatcher sends each once, in order, retrying
// a failing sender, and marks them sent.
func TestDispatcher(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	now := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	var msgs []*core.OutboxEntry
	for _, k := range []string{"i:1", "i:2", "i:3"} {
		msgs = append(msgs, &core.OutboxEntry{Key: k, InstanceID: "i", ProfileID: "p", JourneyID: "j", Version: 1, Step: "s", Channel: "email", Template: "t", CreatedAt: now})
	}
	if _, err := st.ApplyBatch(ctx, &core.ApplyBatch{}, func([]*core.Event) (*core.PartitionCommit, error) {
		return &core.PartitionCommit{Outbox: msgs}, nil
	}); err != nil {
		t.Fatal(err)
	}
	f := &flaky{}
	d := &outbox.Dispatcher{Store: st, Sender: f, Clock: core.NewManualClock(now), Log: slog.New(slog.DiscardHandler), Poll: 10 * time.Millisecond}
	d.Init()
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { d.Run(rctx); close(done) }()
	d.Notify()
	deadline := time.Now().Add(5 * time.Second)
	for d.Sent() < 3 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	<-done
	if got := f.keys(); len(got) != 3 || got[0] != "i:1" || got[1] != "i:2" || got[2] != "i:3" {
		t.Fatalf("sent %v, want i:1 i:2 i:3 once each", got)
	}
	pending, err := st.PendingOutbox(ctx, 0, 10)
	if err != nil || len(pending) != 0 {
		t.Errorf("pending after sending: %v %v", pending, err)
	}
	all, _ := st.ListOutbox(ctx, "", 0, 10)
	for _, m := range all {
		if m.SentAt == nil || !m.SentAt.Equal(now) {
			t.Errorf("%s: sentAt %v, want %s", m.Key, m.SentAt, now)
		}
	}
}
