// Package engine runs the stages after ingestion: a router that resolves
// identities for events in log order and routes each event to the partition
// worker that owns its profile (hash of the profile id), and the partition
// workers, which apply a customer's inputs one at a time, in order, and
// commit each batch of inputs in one transaction.
//
// The engine is fed by the ingest committer (Offer) and falls back to
// reading the durable event log whenever it has fallen behind or restarted,
// so an acknowledged event is always applied, exactly once (the store's
// dedupe on messageId makes a replayed event a no-op).
package engine

import (
	"context"
	"hash/fnv"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/overture-cjo/overture/internal/audience"
	"github.com/overture-cjo/overture/internal/computed"
	"github.com/overture-cjo/overture/internal/core"
	"github.com/overture-cjo/overture/internal/decide"
	"github.com/overture-cjo/overture/internal/identity"
	"github.com/overture-cjo/overture/internal/machine"
)

// Options configure an Engine.
type Options struct {
	Partitions      int           // partition workers (default 4)
	BatchSize       int           // inputs per partition transaction (default 1000)
	Linger          time.Duration // how long the router waits to fill a batch (default 20ms); partitions wait a tenth of it
	DedupeWindow    time.Duration // messageId dedupe window (default 7 days)
	CheckpointEvery time.Duration // how often the replay point is saved (default 1s)
	IdentityCache   int           // profiles whose identifiers stay in memory (default 1,000,000)
	ProfileCache    int           // profiles each partition keeps in memory (default 100,000)
	Clock           core.Clock
	Logger          *slog.Logger

	// Journeys.
	Zone         func(string) *time.Location // timezone names to locations (nil: UTC for all)
	Webhooks     WebhookCaller               // makes webhook steps' calls (nil: they time out to on_error)
	WebhookCalls int                         // webhook calls at once (default 64)
	TimerWindow  time.Duration               // timers held in memory ahead of due (default 5s)
	TimerTick    time.Duration               // how often due timers are looked for (default 100ms)
	OnOutbox     func()                      // called after a commit that queued messages

	// Emit appends events the engine emits (audience events) to the log
	// durably and offers them to the engine, as the ingest committer does
	// (nil: the engine appends to the store itself).
	Emit func(ctx context.Context, events []*core.Event) error
}

func (o *Options) defaults() {
	if o.Partitions <= 0 {
		o.Partitions = 4
	}
	if o.BatchSize <= 0 {
		o.BatchSize = 1000
	}
	if o.Linger <= 0 {
		o.Linger = 20 * time.Millisecond
	}
	if o.DedupeWindow <= 0 {
		o.DedupeWindow = 7 * 24 * time.Hour
	}
	if o.CheckpointEvery <= 0 {
		o.CheckpointEvery = time.Second
	}
	if o.IdentityCache <= 0 {
		o.IdentityCache = 1_000_000
	}
	if o.ProfileCache <= 0 {
		o.ProfileCache = 100_000
	}
	if o.Clock == nil {
		o.Clock = core.RealClock{}
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.WebhookCalls <= 0 {
		o.WebhookCalls = 64
	}
	if o.TimerWindow <= 0 {
		o.TimerWindow = 5 * time.Second
	}
	if o.TimerTick <= 0 {
		o.TimerTick = 100 * time.Millisecond
	}
}

// Engine is the router and its partition workers.
type Engine struct {
	store    core.Store
	opts     Options
	log      *slog.Logger
	resolver *identity.Resolver
	parts    []*partition
	live     chan []*core.Event
	cmds     chan eraseInput

	lastRouted atomic.Int64 // seq of the last event routed
	offered    atomic.Int64 // seq of the last event offered (the log's end)
	caughtUp   atomic.Bool
	applied    atomic.Int64
	duplicates atomic.Int64
	dropped    atomic.Int64 // live batches not taken (read back from the log)
	lastApply  atomic.Int64 // receivedAt (unix ns) of the last applied event
	merging    atomic.Int64 // merges sent to partitions and not yet committed

	recent, older map[core.MessageKey]time.Time // message keys routed lately (router goroutine only)

	machine       atomic.Pointer[machine.Machine]              // the journeys run; nil until SetCatalog
	machineMu     sync.Mutex                                   // serialises SetCatalog and SetPolicy
	catalog       *machine.Catalog                             // the last SetCatalog's
	deciders      machine.Deciders                             // what send steps consult
	model         *decide.Model                                // offers' learned posteriors
	population    atomic.Pointer[map[string]decide.Engagement] // everyone's engagement per channel (copy on write)
	popMu         sync.Mutex                                   // serialises population writers
	views         views                                        // customers' committed state for the touchpoint API
	horizon       atomic.Int64                                 // unix ns: timers due up to it are held in memory
	timersThrough atomic.Int64                                 // unix ns: the loader has read timers due up to it
	calling       atomic.Int64                                 // webhook calls in flight
	callSlots     chan struct{}
	journeyStats  journeyStats

	traits         atomic.Pointer[computed.Set] // computed traits the partitions maintain; nil: none
	audiences      atomic.Pointer[audience.Set] // audiences whose memberships they keep; nil: none
	backfilled     atomic.Int64                 // profiles whose traits were backfilled from their timeline
	emitGen        atomic.Int64                 // commits that stored emits
	audienceEvents atomic.Int64                 // emitted events appended to the log
	emitDone       atomic.Int64                 // emitGen up to which every emit is in the log
	emitWake       chan struct{}
	appendMu       sync.Mutex // serialises the engine's own appends (no opts.Emit)

	jobsMu       sync.Mutex
	runCtx       context.Context // while Run runs: the context of its workers and jobs
	jobs         sync.WaitGroup
	refreshing   map[string]*sync.Mutex // one refresh per audience at a time
	backfill     *BackfillStatus
	stopBackfill context.CancelFunc
}

// journeyStats counts what the journeys did since start.
type journeyStats struct {
	entered, transitions, messages, timers, ended atomic.Int64
	lateness                                      lateness
	sent, delayed, suppressed                     atomic.Int64 // arbitration decisions by outcome
}

// New returns an engine over store.
func New(store core.Store, opts Options) *Engine {
	opts.defaults()
	e := &Engine{
		store:    store,
		opts:     opts,
		log:      opts.Logger,
		resolver: identity.NewResolver(store, opts.IdentityCache),
		live:     make(chan []*core.Event, 256),
		cmds:     make(chan eraseInput),
		emitWake: make(chan struct{}, 1),
		model:    decide.NewModel(),
	}
	e.views.limit = 2 * opts.ProfileCache
	e.callSlots = make(chan struct{}, opts.WebhookCalls)
	for i := 0; i < opts.Partitions; i++ {
		e.parts = append(e.parts, &partition{id: i, eng: e, in: make(chan input, 4*opts.BatchSize), wake: make(chan struct{}, 1)})
	}
	return e
}

// Offer hands the engine a durable group of events, in log order. It never
// blocks: when the engine is behind, it drops the group and reads it back
// from the log later.
func (e *Engine) Offer(events []*core.Event) {
	if len(events) == 0 {
		return
	}
	e.offered.Store(events[len(events)-1].Seq)
	select {
	case e.live <- events:
	default:
		e.dropped.Add(1)
	}
}

// PartitionOf returns the partition that owns a profile.
func PartitionOf(profileID string, n int) int {
	h := fnv.New32a()
	h.Write([]byte(profileID))
	return int(h.Sum32() % uint32(n))
}

func (e *Engine) partOf(profileID string) *partition {
	return e.parts[PartitionOf(profileID, len(e.parts))]
}

// Run replays what the log holds beyond the last checkpoint, then routes
// live events until ctx is done. It returns after every partition worker has
// finished its current batch.
func (e *Engine) Run(ctx context.Context) error {
	for {
		err := e.loadModels(ctx)
		if err == nil {
			break
		}
		e.log.Error("loading the learned models failed; retrying", "err", err)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Second):
		}
	}
	var wg sync.WaitGroup
	pctx, stopParts := context.WithCancel(context.WithoutCancel(ctx))
	for _, p := range e.parts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.run(pctx)
		}()
	}
	wg.Add(4)
	go func() {
		defer wg.Done()
		e.pruneDedupe(pctx)
	}()
	go func() {
		defer wg.Done()
		e.emit(pctx)
	}()
	go func() {
		defer wg.Done()
		e.schedule(pctx)
	}()
	go func() {
		defer wg.Done()
		e.loadTimers(pctx)
	}()
	e.jobsMu.Lock()
	e.runCtx = pctx
	e.jobsMu.Unlock()
	defer func() {
		e.jobsMu.Lock()
		e.runCtx = nil
		e.jobsMu.Unlock()
		stopParts()
		wg.Wait()
		e.jobs.Wait()
	}()
	e.Backfill(pctx)

	// A store error at start (a busy database) is retried, not fatal.
	var merges []core.Merge
	if !e.retry(ctx, "read pending merges", func() (err error) { merges, err = e.store.PendingMerges(ctx); return err }) {
		return nil
	}
	for _, m := range merges {
		e.merging.Add(1)
		e.partOf(m.From).send(input{barrier: &m})
	}
	var cp int64
	if !e.retry(ctx, "read checkpoint", func() (err error) { cp, err = e.store.Checkpoint(ctx); return err }) {
		return nil
	}
	e.lastRouted.Store(cp)
	saved := cp
	e.log.Info("engine starting", "partitions", len(e.parts), "checkpoint", cp, "pendingMerges", len(merges))

	tick := time.NewTicker(e.opts.CheckpointEvery)
	defer tick.Stop()
	linger := time.NewTimer(time.Hour)
	linger.Stop()
	catchUp := true
	for {
		if ctx.Err() != nil {
			return nil
		}
		if catchUp {
			evs, err := e.store.ReadLog(ctx, e.lastRouted.Load(), e.opts.BatchSize)
			if err != nil {
				e.log.Error("read event log", "err", err)
				sleep(ctx, 100*time.Millisecond)
				continue
			}
			if len(evs) == 0 {
				if !e.caughtUp.Load() {
					e.log.Info("engine caught up with the event log", "seq", e.lastRouted.Load())
				}
				catchUp = false
				e.caughtUp.Store(true)
				continue
			}
			e.route(ctx, evs)
			select {
			case c := <-e.cmds:
				e.erase(ctx, c)
			case <-tick.C:
				saved = e.checkpoint(ctx, saved)
			default:
			}
			continue
		}
		select {
		case <-ctx.Done():
			return nil
		case evs := <-e.live:
			// Gather what arrives within the linger too: one
			// resolution, one identity commit and one batch per
			// partition for all of it.
			linger.Reset(e.opts.Linger)
		more:
			for len(evs) < e.opts.BatchSize {
				select {
				case next := <-e.live:
					evs = append(evs, next...)
				case <-linger.C:
					break more
				}
			}
			if !linger.Stop() {
				select {
				case <-linger.C:
				default:
				}
			}
			last := e.lastRouted.Load()
			for len(evs) > 0 && evs[0].Seq <= last {
				evs = evs[1:]
			}
			if len(evs) == 0 {
				continue
			}
			if evs[0].Seq != last+1 {
				catchUp = true // a group was dropped: read it from the log
				continue
			}
			for i := 1; i < len(evs); i++ {
				if evs[i].Seq != evs[i-1].Seq+1 {
					// A group between two gathered ones was dropped:
					// route up to it, read the rest from the log.
					evs = evs[:i]
					catchUp = true
					break
				}
			}
			e.route(ctx, evs)
		case c := <-e.cmds:
			e.erase(ctx, c)
		case <-tick.C:
			saved = e.checkpoint(ctx, saved)
		}
	}
}

// route resolves identities for events (in log order), then hands each
// merge and event to its partition.
func (e *Engine) route(ctx context.Context, evs []*core.Event) {
	last := evs[len(evs)-1].Seq
	var fresh []*core.Event
	var res []identity.Resolved
	if !e.retry(ctx, "dedupe lookup", func() (err error) { fresh, err = e.dedupe(ctx, evs); return err }) {
		return
	}
	// Events the engine emitted name their profile: they skip resolution.
	external := fresh[:0:0]
	for _, ev := range fresh {
		if !internal(ev) {
			external = append(external, ev)
		}
	}
	if len(external) > 0 && !e.retry(ctx, "identity resolution", func() (err error) { res, err = e.resolver.Resolve(ctx, external); return err }) {
		return
	}
	if len(external) < len(fresh) {
		all := make([]identity.Resolved, 0, len(fresh))
		k := 0
		for _, ev := range fresh {
			if internal(ev) {
				// Already resolved; its profile facts (a consent change,
				// say) still apply.
				all = append(all, identity.Resolved{Event: ev, Facts: core.DeriveFacts(ev)})
			} else {
				all = append(all, res[k])
				k++
			}
		}
		res = all
	}
	for i := range res {
		r := &res[i]
		for j := range r.Merges {
			m := r.Merges[j]
			e.merging.Add(1)
			e.partOf(m.From).send(input{barrier: &m})
		}
		p := e.partOf(r.Event.ProfileID)
		p.lastSent.Store(r.Event.Seq)
		p.send(input{ev: r.Event, facts: r.Facts})
	}
	e.lastRouted.Store(last)
}

// internal reports whether the engine emitted ev itself.
func internal(ev *core.Event) bool { return ev.SourceID == core.InternalSource && ev.ProfileID != "" }

// retry runs fn until it succeeds (true) or ctx ends (false), logging each
// failure: the router never skips an event.
func (e *Engine) retry(ctx context.Context, what string, fn func() error) bool {
	for {
		err := fn()
		if err == nil {
			return true
		}
		if ctx.Err() != nil {
			return false
		}
		e.log.Error(what+" failed; retrying", "err", err)
		sleep(ctx, 200*time.Millisecond)
	}
}

// dedupe drops events whose messageId was already routed (recently, in
// memory) or applied (within the window, in the store), so that a
// duplicate does not reach the identity index either. The partitions'
// dedupe in ApplyBatch stays the authority; this is the early filter.
func (e *Engine) dedupe(ctx context.Context, evs []*core.Event) ([]*core.Event, error) {
	now := e.opts.Clock.Now()
	since := now.Add(-e.opts.DedupeWindow)
	var ask []core.MessageKey
	for _, ev := range evs {
		k := core.MessageKey{SourceID: ev.SourceID, MessageID: ev.MessageID}
		if _, ok := e.recentKey(k, since); !ok {
			ask = append(ask, k)
		}
	}
	seen, err := e.store.Seen(ctx, ask, since)
	if err != nil {
		return nil, err
	}
	fresh := evs[:0:0]
	for _, ev := range evs {
		k := core.MessageKey{SourceID: ev.SourceID, MessageID: ev.MessageID}
		if _, ok := e.recentKey(k, since); ok || seen[k] {
			e.duplicates.Add(1)
			continue
		}
		e.remember(k, ev.ReceivedAt)
		fresh = append(fresh, ev)
	}
	return fresh, nil
}

// recentKey looks a key up among those routed lately.
func (e *Engine) recentKey(k core.MessageKey, since time.Time) (time.Time, bool) {
	for _, gen := range []map[core.MessageKey]time.Time{e.recent, e.older} {
		if at, ok := gen[k]; ok && !at.Before(since) {
			return at, true
		}
	}
	return time.Time{}, false
}

// remember notes a routed key; two generations bound the memory.
func (e *Engine) remember(k core.MessageKey, at time.Time) {
	if e.recent == nil || len(e.recent) >= recentKeys {
		e.older, e.recent = e.recent, make(map[core.MessageKey]time.Time, 1024)
	}
	e.recent[k] = at
}

// recentKeys is the size of one generation of routed message keys.
const recentKeys = 500_000

// checkpoint saves the highest seq below which every event is applied.
func (e *Engine) checkpoint(ctx context.Context, saved int64) int64 {
	cp := e.lastRouted.Load()
	for _, p := range e.parts {
		if done := p.done.Load(); p.lastSent.Load() > done && done < cp {
			cp = done
		}
	}
	if cp <= saved {
		return saved
	}
	if err := e.store.SaveCheckpoint(ctx, cp); err != nil {
		e.log.Error("save checkpoint", "err", err)
		return saved
	}
	return cp
}

type eraseInput struct {
	profileID string
	reply     chan eraseResult
}

type eraseResult struct {
	erasure core.Erasure
	err     error
}

// Erase deletes a profile, the profiles merged into it, their identifiers
// and events. It runs in order with the profile's other inputs: events
// routed before it are applied and then erased; identifiers seen after it
// start a new profile.
func (e *Engine) Erase(ctx context.Context, profileID string) (core.Erasure, error) {
	in := eraseInput{profileID: profileID, reply: make(chan eraseResult, 1)}
	select {
	case e.cmds <- in:
	case <-ctx.Done():
		return core.Erasure{}, ctx.Err()
	}
	select {
	case r := <-in.reply:
		return r.erasure, r.err
	case <-ctx.Done():
		return core.Erasure{}, ctx.Err()
	}
}

// erase runs on the router goroutine: no event is routed until the
// partition has carried it out, so none can slip onto the erased profile.
func (e *Engine) erase(ctx context.Context, in eraseInput) {
	e.resolver.Forget(in.profileID)
	reply := make(chan eraseResult, 1)
	e.partOf(in.profileID).send(input{erase: &eraseInput{profileID: in.profileID, reply: reply}})
	select {
	case r := <-reply:
		in.reply <- r
	case <-ctx.Done():
		in.reply <- eraseResult{err: ctx.Err()}
	}
}

// Stats is a snapshot of the engine's progress.
type Stats struct {
	LastRouted  int64 // seq of the last event routed to a partition
	LastOffered int64 // seq of the last event the committer handed over
	Applied     int64 // events applied to profiles since start
	Duplicates  int64 // events dropped as duplicates since start
	Dropped     int64 // live groups read back from the log instead
	CaughtUp    bool  // the start-up replay has finished
	Queued      int   // inputs waiting in partition queues
	Created     int64 // profiles created
	Merges      int64 // profile merges
	Conflicts   int64 // identifiers left on another known profile
	LastApplied time.Time

	Entered     int64 // journey instances started
	Transitions int64 // journey steps run
	Messages    int64 // messages queued in the outbox
	TimersFired int64 // due timers handled
	Ended       int64 // journey instances ended
	Lateness    TimerLateness

	Backfilled     int64 // profiles whose computed traits were rebuilt from their timeline
	AudienceEvents int64 // audience events appended to the log (entered, exited, refreshed)

	Decisions DecisionCounts // arbitration decisions since start, by outcome
}

// DecisionCounts counts arbitration decisions by outcome.
type DecisionCounts struct {
	Sent       int64 `json:"sent"`
	Delayed    int64 `json:"delayed"`
	Suppressed int64 `json:"suppressed"`
}

// Stats returns a snapshot.
func (e *Engine) Stats() Stats {
	s := Stats{
		LastRouted: e.lastRouted.Load(), LastOffered: e.offered.Load(),
		Applied: e.applied.Load(), Duplicates: e.duplicates.Load(), Dropped: e.dropped.Load(),
		CaughtUp: e.caughtUp.Load(),
	}
	if n := e.lastApply.Load(); n > 0 {
		s.LastApplied = time.Unix(0, n).UTC()
	}
	for _, p := range e.parts {
		s.Queued += len(p.in)
	}
	s.Created, s.Merges, s.Conflicts = e.resolver.Stats()
	js := &e.journeyStats
	s.Entered, s.Transitions, s.Messages, s.TimersFired, s.Ended = js.entered.Load(), js.transitions.Load(), js.messages.Load(), js.timers.Load(), js.ended.Load()
	s.Lateness = js.lateness.snapshot()
	s.Decisions = DecisionCounts{Sent: js.sent.Load(), Delayed: js.delayed.Load(), Suppressed: js.suppressed.Load()}
	s.Backfilled, s.AudienceEvents = e.backfilled.Load(), e.audienceEvents.Load()
	return s
}

// Idle reports whether every event offered so far has been applied,
// every merge carried out, every timer due by now fired and every webhook
// call answered.
func (e *Engine) Idle() bool {
	if e.lastRouted.Load() < e.offered.Load() || e.merging.Load() > 0 || e.calling.Load() > 0 || e.emitDone.Load() < e.emitGen.Load() {
		return false
	}
	now := e.opts.Clock.Now()
	if e.machine.Load() != nil && e.timersThrough.Load() < now.UnixNano() {
		return false
	}
	for _, p := range e.parts {
		if p.lastSent.Load() > p.done.Load() || len(p.in) > 0 || p.busy.Load() || p.timers.pending(now) {
			return false
		}
		p.mu.Lock()
		n := len(p.extra)
		p.mu.Unlock()
		if n > 0 {
			return false
		}
	}
	return true
}

// pruneDedupe forgets message ids older than the dedupe window, at start
// and then hourly.
func (e *Engine) pruneDedupe(ctx context.Context) {
	for {
		n, err := e.store.PruneDedupe(ctx, e.opts.Clock.Now().Add(-e.opts.DedupeWindow))
		if err != nil && ctx.Err() == nil {
			e.log.Error("prune dedupe", "err", err)
		} else if n > 0 {
			e.log.Info("pruned dedupe entries", "count", n)
		}
		sleep(ctx, time.Hour)
		if ctx.Err() != nil {
			return
		}
	}
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
