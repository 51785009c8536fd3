package outbox

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"github.com/overture-cjo/overture/internal/core"
	"github.com/overture-cjo/overture/internal/deliver"
)

// lane is one connector's share of the dispatcher: its channels, its
// claimer and workers, its token bucket and circuit breaker.
type lane struct {
	d        *Dispatcher
	conn     deliver.Connector // nil: the lane of channels no connector carries
	cfg      deliver.ConnectorConfig
	channels []string
	limiter  *rate.Limiter // nil: no rate limit
	breaker  *breaker

	capacity int64 // messages claimed and not yet finished, at most
	work     chan job
	wake     chan struct{} // messages were queued
	freed    chan struct{} // a worker finished one
	inflight atomic.Int64
	pause    atomic.Int64 // unix nanos until which the provider asked us to wait (Retry-After)
	nextDue  atomic.Int64 // unix nanos of the earliest retry this lane scheduled

	sent, retried, dead, handedBack atomic.Int64
	deadLogged                      atomic.Int64 // unix nanos of the last dead letter logged
	deadUnlogged                    atomic.Int64 // dead letters since, not logged
}

type job struct {
	e *core.OutboxEntry
	p Prepared
}

func newLane(d *Dispatcher, conn deliver.Connector, cfg deliver.ConnectorConfig, channels []string) *lane {
	l := &lane{d: d, conn: conn, cfg: cfg, channels: channels,
		breaker:  &breaker{failures: cfg.Breaker.Failures, cooldown: cfg.Breaker.Cooldown},
		capacity: int64(cfg.Concurrency + 2*d.opt.Batch),
		wake:     make(chan struct{}, 1), freed: make(chan struct{}, 1)}
	l.work = make(chan job, l.capacity)
	if cfg.Rate > 0 {
		l.limiter = rate.NewLimiter(rate.Limit(cfg.Rate), cfg.Burst)
	}
	return l
}

func (l *lane) wakeUp() {
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

// run claims due messages and feeds the workers until ctx ends, then lets
// the workers finish.
func (l *lane) run(ctx context.Context) {
	var wg sync.WaitGroup
	for range l.cfg.Concurrency {
		wg.Add(1)
		go func() { defer wg.Done(); l.worker(ctx) }()
	}
	defer func() { close(l.work); wg.Wait() }()
	opt := l.d.opt
	for ctx.Err() == nil {
		now := l.d.clock.Now()
		if wait := max(l.breaker.blocked(now), time.Duration(l.pause.Load()-now.UnixNano())); wait > 0 {
			sleep(ctx, min(wait, opt.Poll))
			continue
		}
		free := l.capacity - l.inflight.Load()
		if free < min(int64(opt.Batch), l.capacity)/2 {
			select { // most of the lane is busy: wait for room
			case <-ctx.Done():
			case <-l.freed:
			}
			continue
		}
		entries, err := l.d.store.ClaimOutbox(ctx, core.OutboxClaim{Channels: l.channels, Owner: opt.Owner,
			Now: now, Until: now.Add(opt.Lease), Limit: int(min(free, int64(opt.Batch)))})
		if err != nil {
			if ctx.Err() == nil {
				l.d.log.Error("outbox: claiming", "connector", l.cfg.Name, "err", err)
			}
			sleep(ctx, opt.Poll)
			continue
		}
		if len(entries) > 0 {
			l.dispatch(ctx, entries, now)
		}
		if len(entries) == int(min(free, int64(opt.Batch))) {
			continue // there may be more
		}
		l.idle(ctx, now)
	}
}

// idle waits until messages are queued, room is freed after a full
// claim, a scheduled retry is due, or the poll interval passes.
func (l *lane) idle(ctx context.Context, now time.Time) {
	wait := l.d.opt.Poll
	if next := l.nextDue.Load(); next != 0 {
		if d := time.Duration(next - now.UnixNano()); d < wait {
			wait = max(d, time.Millisecond)
		}
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-l.wake:
	case <-t.C:
		l.nextDue.Store(0) // looked; retries due later are found by polling or rescheduled
	}
}

// dispatch prepares claimed messages and hands them to the workers.
func (l *lane) dispatch(ctx context.Context, entries []*core.OutboxEntry, now time.Time) {
	var prepared []Prepared
	if l.conn == nil {
		prepared = make([]Prepared, len(entries))
		for i, e := range entries {
			prepared[i].Err = fmt.Errorf("no connector carries channel %q (configure one, then re-drive the message)", e.Channel)
		}
	} else {
		var err error
		prepared, err = l.d.prep.Prepare(ctx, entries)
		if err == nil && len(prepared) != len(entries) {
			err = fmt.Errorf("preparer returned %d messages for %d", len(prepared), len(entries))
		}
		if err != nil {
			l.d.log.Error("outbox: preparing messages", "connector", l.cfg.Name, "err", err)
			for _, e := range entries {
				l.handBack(e, now.Add(l.d.opt.Poll))
			}
			return
		}
	}
	for i, e := range entries {
		l.inflight.Add(1)
		l.work <- job{e: e, p: prepared[i]} // never blocks: capacity bounds what is claimed
	}
}

// worker makes attempts until the lane closes its work.
func (l *lane) worker(ctx context.Context) {
	for j := range l.work {
		l.attempt(ctx, j)
		l.inflight.Add(-1)
		select {
		case l.freed <- struct{}{}:
		default:
		}
	}
}

// attempt makes one attempt at a claimed message, or hands it back, and
// queues the result.
func (l *lane) attempt(ctx context.Context, j job) {
	d, e := l.d, j.e
	n := e.Attempts + 1
	if j.p.Err != nil {
		now := d.clock.Now()
		l.finish(e, core.OutboxDead, n, time.Time{}, j.p.Err.Error(), "", &core.OutboxAttempt{N: n, At: now, Connector: l.cfg.Name,
			Outcome: core.OutboxDead, Error: j.p.Err.Error(), Code: "unsendable"})
		return
	}
	// Wait for the provider's Retry-After and the token bucket; give the
	// message back if the lane is stopping or the breaker is open.
	for {
		if ctx.Err() != nil {
			l.handBack(e, d.clock.Now())
			return
		}
		now := d.clock.Now()
		if wait := time.Duration(l.pause.Load() - now.UnixNano()); wait > 0 {
			sleep(ctx, wait)
			continue
		}
		if ok, wait := l.breaker.allow(now); !ok {
			l.handBack(e, now.Add(wait))
			return
		}
		if l.limiter != nil {
			r := l.limiter.ReserveN(now, 1)
			if wait := r.DelayFrom(now); wait > 0 {
				sleep(ctx, wait)
			}
		}
		break
	}
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), d.opt.Timeout)
	start := d.clock.Now()
	res, err := l.conn.Send(actx, j.p.Msg)
	cancel()
	now := d.clock.Now()
	a := &core.OutboxAttempt{N: n, At: start, Connector: l.cfg.Name, Duration: now.Sub(start), ProviderID: res.ProviderID}
	if err == nil {
		l.breaker.success()
		a.Outcome = core.OutboxSent
		l.finish(e, core.OutboxSent, n, time.Time{}, "", res.ProviderID, a)
		return
	}
	var de *deliver.Error
	if !errors.As(err, &de) { // not classified: treat as retryable, as deliver.Classify does
		de = deliver.Transient(l.cfg.Name, err)
	}
	a.Error, a.Code = de.Error(), codeOf(de)
	throttled := de.Status == 429 || de.RetryAfter > 0
	switch {
	case !de.Retryable:
		l.breaker.success() // the provider answered: it is up
		a.Outcome = core.OutboxDead
		l.finish(e, core.OutboxDead, n, time.Time{}, a.Error, "", a)
	case n >= l.cfg.MaxAttempts:
		if !throttled {
			l.breaker.failure(now)
		}
		a.Outcome = core.OutboxDead
		l.finish(e, core.OutboxDead, n, time.Time{}, fmt.Sprintf("gave up after %d attempts: %s", n, a.Error), "", a)
	default:
		if throttled {
			if de.RetryAfter > 0 { // the provider as a whole asked for a pause
				l.pause.Store(max(l.pause.Load(), now.Add(de.RetryAfter).UnixNano()))
			}
		} else {
			l.breaker.failure(now)
		}
		next := now.Add(max(d.backoff(n), de.RetryAfter))
		a.Outcome = core.OutboxRetrying
		l.finish(e, core.OutboxRetrying, n, next, a.Error, "", a)
		l.schedule(next)
	}
}

// schedule remembers that a retry is due at t, so the lane looks then.
func (l *lane) schedule(t time.Time) {
	for {
		cur := l.nextDue.Load()
		if cur != 0 && cur <= t.UnixNano() || l.nextDue.CompareAndSwap(cur, t.UnixNano()) {
			return
		}
	}
}

// handBack returns a claimed message unattempted, due again at next.
func (l *lane) handBack(e *core.OutboxEntry, next time.Time) {
	status := core.OutboxQueued
	if e.Attempts > 0 {
		status = core.OutboxRetrying
	}
	l.handedBack.Add(1)
	l.d.results <- core.OutboxResult{ID: e.ID, Status: status, Attempts: e.Attempts, NextAt: next, Error: e.LastError, Connector: e.Connector, ProviderID: e.ProviderID}
	l.schedule(next)
}

// finish queues a result and counts it.
func (l *lane) finish(e *core.OutboxEntry, status string, n int, next time.Time, msg, providerID string, a *core.OutboxAttempt) {
	switch status {
	case core.OutboxSent:
		l.sent.Add(1)
	case core.OutboxRetrying:
		l.retried.Add(1)
	case core.OutboxDead:
		l.dead.Add(1)
		l.logDead(e, msg)
	}
	r := core.OutboxResult{ID: e.ID, Status: status, Attempts: n, NextAt: next, Error: msg, Connector: l.cfg.Name, ProviderID: providerID, Attempt: a}
	if status == core.OutboxSent {
		r.SentAt = a.At.Add(a.Duration)
	}
	l.d.results <- r
}

// logDead logs a dead letter, at most one per lane every ten seconds
// (with how many were not logged since): a misconfigured channel can make
// thousands a second, and /metrics and GET /v1/messages?status=dead have
// them all.
func (l *lane) logDead(e *core.OutboxEntry, reason string) {
	now := l.d.clock.Now().UnixNano()
	last := l.deadLogged.Load()
	if now-last < int64(10*time.Second) || !l.deadLogged.CompareAndSwap(last, now) {
		l.deadUnlogged.Add(1)
		return
	}
	l.d.log.Warn("outbox: dead letter", "id", e.ID, "key", e.Key, "channel", e.Channel, "connector", l.cfg.Name,
		"reason", reason, "more_since_last_logged", l.deadUnlogged.Swap(0))
}

// codeOf is the provider's error code, else its HTTP status, else "".
func codeOf(e *deliver.Error) string {
	switch {
	case e.Code != "":
		return e.Code
	case e.Status != 0:
		return fmt.Sprint(e.Status)
	case errors.Is(e, context.DeadlineExceeded):
		return "timeout"
	}
	return ""
}
