package ingest

import (
	"context"
	"log/slog"
	"sync/atomic"

	"github.com/overture-cjo/overture/internal/core"
)

// Appender is the part of core.Store the committer uses.
type Appender interface {
	Append(ctx context.Context, events []*core.Event) error
}

// Committer is the group commit: concurrent requests queue their events;
// one goroutine appends everything queued with a single durable write and
// then releases every waiting request at once. While one write is in
// flight, the next group forms.
type Committer struct {
	log      Appender
	publish  func([]*core.Event)
	reqs     chan *pending
	maxBatch int

	groups atomic.Int64
	events atomic.Int64
}

type pending struct {
	events []*core.Event
	done   chan error
}

// NewCommitter returns a committer appending to log. publish is called with
// each durable group, in log order (the router's live feed); it must not
// block for long.
func NewCommitter(log Appender, publish func([]*core.Event)) *Committer {
	return &Committer{log: log, publish: publish, reqs: make(chan *pending, 8192), maxBatch: 20000}
}

// Submit appends events durably and returns once they are on disk (nil) or
// definitely not acknowledged (an error).
func (c *Committer) Submit(ctx context.Context, events []*core.Event) error {
	if len(events) == 0 {
		return nil
	}
	p := &pending{events: events, done: make(chan error, 1)}
	select {
	case c.reqs <- p:
	case <-ctx.Done():
		return core.Errorf(core.EUNAVAILABLE, "", "request cancelled before it was written")
	}
	select {
	case err := <-p.done:
		return err
	case <-ctx.Done():
		// The write may still land; the client will retry and dedupe
		// on messageId makes that safe.
		return core.Errorf(core.EUNAVAILABLE, "", "request cancelled while being written")
	}
}

// Run commits groups until ctx is done; then it fails what is still queued.
func (c *Committer) Run(ctx context.Context) {
	var all []*core.Event
	group := make([]*pending, 0, 256)
	for {
		var first *pending
		select {
		case first = <-c.reqs:
		case <-ctx.Done():
			c.drain()
			return
		}
		group = append(group[:0], first)
		n := len(first.events)
	fill:
		for n < c.maxBatch {
			select {
			case p := <-c.reqs:
				group = append(group, p)
				n += len(p.events)
			default:
				break fill
			}
		}
		all = all[:0]
		for _, p := range group {
			all = append(all, p.events...)
		}
		err := c.log.Append(context.WithoutCancel(ctx), all)
		if err != nil {
			slog.Error("event log write failed", "events", len(all), "err", err)
			err = core.Errorf(core.EUNAVAILABLE, "", "event log write failed; nothing was acknowledged")
		}
		// Hand the group on before answering (publish never blocks), so a
		// client that has its 200 finds the engine aware of its events:
		// Idle is false until they are applied.
		if err == nil {
			c.groups.Add(1)
			c.events.Add(int64(len(all)))
			if c.publish != nil {
				c.publish(append([]*core.Event(nil), all...))
			}
		}
		for _, p := range group {
			p.done <- err
		}
	}
}

func (c *Committer) drain() {
	for {
		select {
		case p := <-c.reqs:
			p.done <- core.Errorf(core.EUNAVAILABLE, "", "server is shutting down")
		default:
			return
		}
	}
}

// Stats reports how many groups and events were committed.
func (c *Committer) Stats() (groups, events int64) { return c.groups.Load(), c.events.Load() }
