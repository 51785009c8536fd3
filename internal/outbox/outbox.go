// Package outbox delivers the messages send steps queued. The step
// machine's partition commits each message with the step that queued it;
// the Dispatcher here reads the unsent ones in order, hands each to a
// Sender and records it as sent. Until channel connectors arrive, the
// Sender is LogSender, which writes each message to the log.
package outbox

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/overture-cjo/overture/internal/core"
)

// Sender delivers one message. Key is unique per instance and step visit:
// a connector passes it to the provider as the idempotency key, so a
// message that is handed over again after a crash is not delivered twice.
type Sender interface {
	Send(ctx context.Context, m *core.OutboxEntry) error
}

// LogSender "delivers" a message by logging it.
type LogSender struct{ Log *slog.Logger }

// Send logs the message.
func (s LogSender) Send(ctx context.Context, m *core.OutboxEntry) error {
	s.Log.Info("send", "key", m.Key, "channel", m.Channel, "template", m.Template, "offer", m.Offer,
		"profile", m.ProfileID, "journey", m.JourneyID, "version", m.Version, "step", m.Step)
	return nil
}

// Dispatcher moves queued messages to a Sender.
type Dispatcher struct {
	Store  core.Store
	Sender Sender
	Clock  core.Clock
	Log    *slog.Logger
	Poll   time.Duration // how often to look when not notified (default 1s)
	Batch  int           // messages read at a time (default 500)

	wake    chan struct{}
	sent    atomic.Int64
	pending atomic.Bool
}

// Notify tells the dispatcher that messages were queued.
func (d *Dispatcher) Notify() {
	d.pending.Store(true)
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// Sent returns how many messages were sent since start.
func (d *Dispatcher) Sent() int64 { return d.sent.Load() }

// Idle reports whether no notified message is waiting to be sent.
func (d *Dispatcher) Idle() bool { return !d.pending.Load() }

// Init prepares the dispatcher; call it before Notify and Run.
func (d *Dispatcher) Init() {
	d.wake = make(chan struct{}, 1)
	if d.Poll <= 0 {
		d.Poll = time.Second
	}
	if d.Batch <= 0 {
		d.Batch = 500
	}
}

// Run sends queued messages until ctx ends. A message whose send fails is
// retried, with a growing delay, before any later one: order is kept.
func (d *Dispatcher) Run(ctx context.Context) {
	delay := 100 * time.Millisecond
	for ctx.Err() == nil {
		d.pending.Store(false)
		n, err := d.drain(ctx)
		if err != nil {
			if ctx.Err() == nil {
				d.Log.Error("outbox", "err", err)
			}
			d.pending.Store(true)
			sleepCtx(ctx, delay)
			delay = min(2*delay, 30*time.Second)
			continue
		}
		delay = 100 * time.Millisecond
		if n > 0 {
			continue
		}
		t := time.NewTimer(d.Poll)
		select {
		case <-ctx.Done():
		case <-d.wake:
		case <-t.C:
		}
		t.Stop()
	}
}

// drain sends one page of pending messages. It reads from the start of
// the unsent ones each time (an index holds only those): partitions commit
// concurrently, so on PostgreSQL a lower id can become visible after a
// higher one, and a moving cursor could pass it by.
func (d *Dispatcher) drain(ctx context.Context) (int, error) {
	ms, err := d.Store.PendingOutbox(ctx, 0, d.Batch)
	if err != nil {
		return 0, err
	}
	var ids []int64
	var sendErr error
	for _, m := range ms {
		if sendErr = d.Sender.Send(ctx, m); sendErr != nil {
			break
		}
		ids = append(ids, m.ID)
	}
	if len(ids) > 0 {
		if err := d.Store.MarkSent(ctx, ids, d.Clock.Now()); err != nil {
			return 0, err
		}
		d.sent.Add(int64(len(ids)))
	}
	if sendErr != nil {
		return len(ids), sendErr
	}
	return len(ids), nil
}

func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
