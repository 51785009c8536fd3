package outbox

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/overture-cjo/overture/internal/core"
	"github.com/overture-cjo/overture/internal/deliver"
)

// Preparer turns claimed messages into what their connector sends:
// rendered content, the customer's address, tracking. It returns one
// Prepared per entry, in order; an error means none could be prepared now
// (the store is unreachable, say), and they are handed back.
type Preparer interface {
	Prepare(ctx context.Context, entries []*core.OutboxEntry) ([]Prepared, error)
}

// Prepared is one message ready to go, or why it can never go (Err: it
// becomes a dead letter with that reason).
type Prepared struct {
	Msg *deliver.Message
	Err error
}

// Route is a connector and how to drive it (Config's dispatch settings:
// concurrency, rate, max_attempts, breaker).
type Route struct {
	Connector deliver.Connector
	Config    deliver.ConnectorConfig
}

// Options tune a Dispatcher; zero values take the defaults.
type Options struct {
	Owner      string        // the name claims are held under (default "local")
	Lease      time.Duration // how long a claim holds (default 2m)
	Poll       time.Duration // how often a lane looks when not woken (default 1s)
	Batch      int           // messages claimed at a time (default 256)
	Backoff    time.Duration // the first retry's delay before jitter (default 1s)
	MaxBackoff time.Duration // the longest retry delay (default 1h)
	Timeout    time.Duration // the longest one attempt may take (default 60s)
	// Jitter returns a number in [0, 1) for the retry delays' random half
	// (default math/rand/v2).
	Jitter func() float64
}

// Dispatcher moves queued messages to their connectors. Make it with New;
// Notify wakes it; Run runs it.
type Dispatcher struct {
	store core.Store
	clock core.Clock
	log   *slog.Logger
	prep  Preparer
	opt   Options

	lanes   []*lane
	results chan core.OutboxResult
}

// New makes a Dispatcher with one lane per route. Each channel is carried
// by one route at most; messages on channels no route carries become dead
// letters saying so (re-drive them once a connector carries the channel).
func New(store core.Store, clock core.Clock, log *slog.Logger, prep Preparer, routes []Route, opt Options) (*Dispatcher, error) {
	if opt.Owner == "" {
		opt.Owner = "local"
	}
	if opt.Lease <= 0 {
		opt.Lease = 2 * time.Minute
	}
	if opt.Poll <= 0 {
		opt.Poll = time.Second
	}
	if opt.Batch <= 0 {
		opt.Batch = 256
	}
	if opt.Backoff <= 0 {
		opt.Backoff = time.Second
	}
	if opt.MaxBackoff <= 0 {
		opt.MaxBackoff = time.Hour
	}
	if opt.Timeout <= 0 {
		opt.Timeout = 60 * time.Second
	}
	if opt.Jitter == nil {
		opt.Jitter = rand.Float64
	}
	d := &Dispatcher{store: store, clock: clock, log: log, prep: prep, opt: opt, results: make(chan core.OutboxResult, 4096)}
	carrier := map[string]string{}
	for _, r := range routes {
		cfg := r.Config.WithDefaults()
		channels := cfg.Channels
		if len(channels) == 0 {
			channels = r.Connector.Channels()
		}
		for _, ch := range channels {
			if other, ok := carrier[ch]; ok {
				return nil, fmt.Errorf("delivery config: channel %q is carried by connectors %q and %q: list channels on one of them without it", ch, other, r.Connector.Name())
			}
			carrier[ch] = r.Connector.Name()
		}
		d.lanes = append(d.lanes, newLane(d, r.Connector, cfg, channels))
	}
	var unrouted []string
	for _, ch := range deliver.Channels {
		if _, ok := carrier[ch]; !ok {
			unrouted = append(unrouted, ch)
		}
	}
	if len(unrouted) > 0 {
		d.lanes = append(d.lanes, newLane(d, nil, deliver.ConnectorConfig{Name: "", Concurrency: 1}.WithDefaults(), unrouted))
	}
	return d, nil
}

// Notify tells the dispatcher that messages were queued.
func (d *Dispatcher) Notify() {
	for _, l := range d.lanes {
		l.wakeUp()
	}
}

// Run delivers until ctx ends. It first hands back the claims it held
// under its Owner name when it last stopped (a crash leaves them). On the
// way out, attempts in flight finish (each within Timeout) and every
// result is written before Run returns.
func (d *Dispatcher) Run(ctx context.Context) {
	for {
		n, err := d.store.ReleaseOutbox(ctx, d.opt.Owner, d.clock.Now())
		if err == nil {
			if n > 0 {
				d.log.Info("outbox: handed back claims held when last stopped", "messages", n, "owner", d.opt.Owner)
			}
			break
		}
		if ctx.Err() != nil {
			return
		}
		d.log.Error("outbox: releasing claims", "err", err)
		sleep(ctx, d.opt.Poll)
	}
	finished := make(chan struct{})
	go func() { d.finish(); close(finished) }()
	var wg sync.WaitGroup
	for _, l := range d.lanes {
		wg.Add(1)
		go func() { defer wg.Done(); l.run(ctx) }()
	}
	wg.Wait()
	close(d.results)
	<-finished
}

// finish writes results in batches: up to 512 at a time, or what came in
// the last few milliseconds. A failed write is tried again until it
// succeeds; the claims it would have settled are safe until then.
func (d *Dispatcher) finish() {
	const most = 512
	batch := make([]core.OutboxResult, 0, most)
	flush := func() {
		for delay := 50 * time.Millisecond; len(batch) > 0; delay = min(2*delay, 5*time.Second) {
			err := d.store.FinishOutbox(context.Background(), batch)
			if err == nil {
				batch = batch[:0]
				return
			}
			d.log.Error("outbox: recording results", "messages", len(batch), "err", err)
			time.Sleep(delay)
		}
	}
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case r, ok := <-d.results:
			if !ok {
				flush()
				return
			}
			batch = append(batch, r)
			if len(batch) >= most {
				flush()
			}
		case <-tick.C:
			flush()
		}
	}
}

// backoff is the delay before attempt n+1 after attempt n failed: the
// exponential delay's first half fixed, its second half random.
func (d *Dispatcher) backoff(n int) time.Duration {
	delay := d.opt.MaxBackoff
	if n <= 30 {
		delay = min(d.opt.Backoff<<(n-1), d.opt.MaxBackoff)
	}
	return delay/2 + time.Duration(d.opt.Jitter()*float64(delay/2))
}

// LaneStats is what one connector's lane has done since start.
type LaneStats struct {
	Connector  string   `json:"connector"` // "" for the lane of channels no connector carries
	Channels   []string `json:"channels"`
	Sent       int64    `json:"sent"`
	Retried    int64    `json:"retried"`    // failed attempts that will be tried again
	Dead       int64    `json:"dead"`       // messages given up on
	HandedBack int64    `json:"handedBack"` // claimed but not attempted (breaker open, shutting down)
	InFlight   int64    `json:"inFlight"`
	Breaker    string   `json:"breaker"` // closed, open or half-open
}

// Stats returns each lane's counters, in route order.
func (d *Dispatcher) Stats() []LaneStats {
	now := d.clock.Now()
	out := make([]LaneStats, len(d.lanes))
	for i, l := range d.lanes {
		out[i] = LaneStats{Connector: l.cfg.Name, Channels: slices.Clone(l.channels), Sent: l.sent.Load(), Retried: l.retried.Load(),
			Dead: l.dead.Load(), HandedBack: l.handedBack.Load(), InFlight: l.inflight.Load(), Breaker: l.breaker.state(now)}
	}
	return out
}

// Sent returns how many messages were sent since start.
func (d *Dispatcher) Sent() int64 {
	var n int64
	for _, l := range d.lanes {
		n += l.sent.Load()
	}
	return n
}

// Routes describes which connector carries which channels, for logs.
func (d *Dispatcher) Routes() string {
	var parts []string
	for _, l := range d.lanes {
		name := l.cfg.Name
		if l.conn == nil {
			name = "(none: dead letters)"
		}
		parts = append(parts, strings.Join(l.channels, ",")+"→"+name)
	}
	return strings.Join(parts, " ")
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
