package engine

import (
	"container/heap"
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/overture-cjo/overture/internal/core"
	"github.com/overture-cjo/overture/internal/machine"
)

// input is one thing for a partition worker to handle.
type input struct {
	ev      *core.Event
	facts   core.Facts
	barrier *core.Merge // this partition owns From: finish it, then pass it on
	absorb  *core.Merge // this partition owns Into: fold From into it
	erase   *eraseInput
	timer   *core.TimerRef // an instance's timer is due
	reply   *replyInput    // a webhook replied
	touch   *touchInput    // re-evaluate profiles: backfill traits, refresh an audience
}

// profileID returns the profile an event, timer or reply is for.
func (in *input) profileID() string {
	switch {
	case in.ev != nil:
		return in.ev.ProfileID
	case in.timer != nil:
		return in.timer.ProfileID
	case in.reply != nil:
		return in.reply.profileID
	}
	return ""
}

// partition is one worker: it owns the profiles that hash to it.
type partition struct {
	id  int
	eng *Engine
	in  chan input

	mu    sync.Mutex // guards extra
	extra []input    // absorbs passed from other partitions (unbounded, so workers never wait on each other)
	wake  chan struct{}

	lastSent atomic.Int64 // seq of the last event the router sent here
	done     atomic.Int64 // seq of the last event committed here

	// cache holds the committed state of profiles this partition owns;
	// only this partition's goroutine touches it.
	cache map[string]*core.Profile

	// moved records profiles this partition has handed to another
	// (barrier done, absorb maybe not yet committed): an absorb into one of
	// them must follow it, or it would fold into a profile that is being
	// folded away. Cleared when no merge is in flight anywhere.
	moved map[string]string

	// erased records profiles erased here while merges may be in flight:
	// a profile on its way into one of them is erased too, not folded into
	// a new empty profile under the erased id. Cleared like moved.
	erased map[string]bool

	// insts holds the committed active journey instances of profiles
	// this partition owns (an empty entry: known to have none); only this
	// partition's goroutine touches it.
	insts  map[string][]*core.Instance
	timers timers
	busy   atomic.Bool // a batch is being processed
}

// remember caches committed profiles that this partition owns.
func (p *partition) remember(profiles []*core.Profile) {
	if p.cache == nil {
		p.cache = make(map[string]*core.Profile)
	}
	limit := p.eng.opts.ProfileCache
	for _, pr := range profiles {
		if PartitionOf(pr.ID, len(p.eng.parts)) != p.id {
			continue
		}
		if len(p.cache) >= limit {
			n := max(1, limit/10)
			for id := range p.cache {
				if n--; n < 0 {
					break
				}
				delete(p.cache, id)
			}
		}
		p.cache[pr.ID] = pr
	}
}

func (p *partition) send(in input) { p.in <- in }

// handedOff reports whether a merge has handed the profile to another
// partition and may not have finished there.
func (p *partition) handedOff(id string) bool {
	_, ok := p.moved[id]
	return ok
}

// pass queues an input from another partition without blocking.
func (p *partition) pass(in input) {
	p.mu.Lock()
	p.extra = append(p.extra, in)
	p.mu.Unlock()
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

func (p *partition) takeExtra(batch []input) []input {
	p.mu.Lock()
	batch = append(batch, p.extra...)
	p.extra = p.extra[:0]
	p.mu.Unlock()
	return batch
}

func (p *partition) run(ctx context.Context) {
	max := p.eng.opts.BatchSize
	batch := make([]input, 0, max)
	linger := time.NewTimer(0)
	<-linger.C
	tick := time.NewTicker(p.eng.opts.TimerTick)
	defer tick.Stop()
	for {
		p.busy.Store(true)
		batch = p.takeExtra(batch[:0])
		batch = p.timers.due(p.eng.opts.Clock.Now(), batch, max)
		if len(batch) == 0 {
			p.busy.Store(false)
			select {
			case <-ctx.Done():
				return
			case in := <-p.in:
				batch = append(batch, in)
			case <-p.wake:
				continue
			case <-tick.C:
				continue
			}
			p.busy.Store(true)
		}
		// Linger briefly so a trickle of inputs shares one transaction.
		linger.Reset(p.eng.opts.Linger / 10)
	fill:
		for len(batch) < max {
			select {
			case in := <-p.in:
				batch = append(batch, in)
			case <-linger.C:
				break fill
			case <-ctx.Done():
				break fill
			}
		}
		if !linger.Stop() {
			select {
			case <-linger.C:
			default:
			}
		}
		batch = p.takeExtra(batch)
		p.process(ctx, batch)
		if ctx.Err() != nil {
			return
		}
		if p.eng.merging.Load() == 0 {
			clear(p.moved)
			clear(p.erased)
		}
	}
}

// process handles a batch: runs of events and absorbs are committed
// together; a barrier or an erasure cuts the run, since it must see what
// came before it committed.
func (p *partition) process(ctx context.Context, batch []input) {
	for i := 0; i < len(batch); {
		j := i
		for j < len(batch) && batch[j].barrier == nil && batch[j].erase == nil {
			j++
		}
		if j > i {
			p.retry(ctx, func() error { return p.commit(ctx, batch[i:j]) })
		}
		if j < len(batch) {
			in := batch[j]
			switch {
			case in.barrier != nil:
				// Everything From had here is committed: hand it over.
				m := *in.barrier
				delete(p.cache, m.From)
				delete(p.insts, m.From)
				p.eng.views.drop(m.From)
				if p.moved == nil {
					p.moved = map[string]string{}
				}
				p.moved[m.From] = m.Into
				p.eng.partOf(m.Into).pass(input{absorb: &m})
			case in.erase != nil:
				er, err := p.eng.store.EraseProfile(ctx, in.erase.profileID)
				if v := p.eng.views.get(in.erase.profileID); v != nil {
					for _, id := range v.Profile.Merged {
						p.eng.views.drop(id)
					}
				}
				p.eng.views.drop(in.erase.profileID)
				clear(p.cache)
				clear(p.insts)
				if err == nil && p.eng.merging.Load() > 0 {
					if p.erased == nil {
						p.erased = map[string]bool{}
					}
					p.erased[in.erase.profileID] = true
				}
				in.erase.reply <- eraseResult{er, err}
			}
			j++
		}
		i = j
	}
}

// retry runs fn until it succeeds or ctx ends: a partition never skips
// an input.
func (p *partition) retry(ctx context.Context, fn func() error) {
	for delay := 50 * time.Millisecond; ; delay = min(2*delay, 5*time.Second) {
		err := fn()
		if err == nil || ctx.Err() != nil {
			return
		}
		p.eng.log.Error("partition commit failed; retrying", "partition", p.id, "err", err)
		sleep(ctx, delay)
	}
}

// commit applies a run of events, absorbs, timers and webhook replies in
// one transaction: profiles, journey instances, their timers and the
// messages they queue commit together.
func (p *partition) commit(ctx context.Context, run []input) error {
	eng := p.eng
	m := eng.machine.Load()
	traits, auds := eng.traits.Load(), eng.audiences.Load()
	if traits != nil && len(traits.Traits) == 0 {
		traits = nil
	}
	ids := make([]string, 0, len(run))
	seen := make(map[string]bool, len(run))
	add := func(id string) {
		if !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	events := make([]*core.Event, 0, len(run))
	var forward []core.Merge
	var dropped []string
	kept := run[:0:0]
	for _, in := range run {
		switch {
		case in.ev != nil:
			add(in.ev.ProfileID)
			events = append(events, in.ev)
		case in.timer != nil || in.reply != nil:
			if m == nil {
				continue
			}
			add(in.profileID())
		case in.touch != nil:
			for _, id := range in.touch.ids {
				if !p.handedOff(id) {
					// (a profile handed to another partition by a
					// merge is that one's to write: a touch here
					// would write it back from before the merge)
					add(id)
				}
			}
		case in.absorb != nil:
			if to, ok := p.moved[in.absorb.Into]; ok {
				// The target has been handed on: follow it.
				forward = append(forward, core.Merge{From: in.absorb.From, Into: to})
				continue
			}
			if p.erased[in.absorb.Into] {
				// The target was erased: what was merging into it
				// belongs to the same person and goes too.
				dropped = append(dropped, in.absorb.From)
				continue
			}
			add(in.absorb.From)
			add(in.absorb.Into)
		}
		kept = append(kept, in)
	}
	run = kept
	profiles, err := p.loadProfiles(ctx, ids)
	if err != nil {
		return err
	}
	now := eng.opts.Clock.Now()
	past, err := p.backfillEvents(ctx, traits, profiles, now)
	if err != nil {
		return err
	}
	var instances map[string][]*core.Instance
	if m != nil || usesJourneys(auds) {
		if instances, err = p.loadInstances(ctx, ids); err != nil {
			return err
		}
	}
	var written []*core.Profile
	var customers map[string]*machine.Customer
	var applied []*core.Event    // events applied to profiles, in order
	created := map[string]bool{} // profiles the batch made
	var out machine.Output
	// An absorb whose target has itself been merged away moves on to the
	// target's survivor.
	forwardBefore := len(forward)
	var touched []touchResult
	var emits int
	var last int64
	var lastRecv time.Time
	nFresh, completed, timersFired := 0, 0, 0
	var late []time.Duration
	dups, err := eng.store.ApplyBatch(ctx, &core.ApplyBatch{Events: events, DedupeSince: now.Add(-eng.opts.DedupeWindow)},
		func(fresh []*core.Event) (*core.PartitionCommit, error) {
			forward = forward[:forwardBefore]
			nFresh, completed, timersFired = len(fresh), 0, 0
			timersDone := false
			late = late[:0]
			out.Reset()
			touched = make([]touchResult, 0, len(run))
			working := map[string]*core.Profile{}
			dirty := map[string]bool{}
			applied = applied[:0]
			clear(created)
			customers = map[string]*machine.Customer{}
			get := func(id string) *core.Profile {
				if pr := working[id]; pr != nil {
					return pr
				}
				pr := profiles[id]
				if pr == nil {
					created[id] = true
					pr = core.NewProfile(id, now)
					if traits != nil {
						pr.Computed = &core.Computed{}
						traits.Init(pr.Computed)
					}
				} else {
					pr = cloneProfile(pr)
					if traits != nil && pr.MergedInto == "" {
						if pr.Computed == nil {
							pr.Computed = &core.Computed{}
						}
						if traits.Backfill(pr.Computed, past[id], now) != nil {
							dirty[id] = true
						}
					}
				}
				working[id] = pr
				return pr
			}
			customer := func(id string) *machine.Customer {
				c := customers[id]
				if c == nil {
					pr := get(id)
					c = &machine.Customer{Profile: pr, Instances: cloneInstances(instances[id])}
					if traits != nil {
						c.Computed = func() map[string]any { return traits.Values(pr.Computed, now) }
					}
					customers[id] = c
				}
				return c
			}
			c := &core.PartitionCommit{}
			k := 0
			for _, in := range run {
				switch {
				case in.ev != nil:
					if k < len(fresh) && fresh[k] == in.ev {
						k++
						id := in.ev.ProfileID
						if in.ev.SourceID == core.InternalSource && working[id] == nil && (profiles[id] == nil || profiles[id].MergedInto != "" || p.handedOff(id)) {
							// Emitted for a profile since erased or merged
							// away (or being merged: its absorb, in another
							// partition, writes it; writing it here could
							// bring it back live after that).
							continue
						}
						pr := get(id)
						pr.Apply(in.ev, &in.facts)
						applied = append(applied, in.ev)
						if traits != nil && pr.Computed != nil && in.ev.SourceID != core.InternalSource {
							traits.Update(pr.Computed, in.ev, now) // not audience events: no feedback loops
						}
						dirty[id] = true
						if m != nil {
							m.Event(customer(id), in.ev, now, &out)
						}
					}
				case in.timer != nil:
					if timersDone {
						continue
					}
					// All of the run's timers, in due order, with the
					// timers they set that are also due by now: after a
					// clock jump or downtime a chain of waits runs in
					// the order of its due times, as it would have live.
					timersDone = true
					q := &timerHeap{}
					queued := map[core.TimerRef]bool{}
					for _, x := range run {
						if x.timer != nil && !queued[*x.timer] {
							queued[*x.timer] = true
							heap.Push(q, *x.timer)
						}
					}
					for q.Len() > 0 {
						t := heap.Pop(q).(core.TimerRef)
						timersFired++
						late = append(late, now.Sub(t.Due))
						cu := customer(t.ProfileID)
						before := out.ProfileChange
						out.ProfileChange = false
						m.Timer(cu, t.InstanceID, t.Due, &out)
						if out.ProfileChange {
							dirty[t.ProfileID] = true
						}
						out.ProfileChange = out.ProfileChange || before
						for _, x := range cu.Instances {
							next := core.TimerRef{InstanceID: x.ID, ProfileID: x.ProfileID, Due: x.Due}
							if !x.Due.IsZero() && !x.Due.After(now) && !queued[next] {
								queued[next] = true
								heap.Push(q, next)
							}
						}
					}
				case in.reply != nil:
					before := out.ProfileChange
					out.ProfileChange = false
					m.Reply(customer(in.reply.profileID), in.reply.rep, now, &out)
					if out.ProfileChange {
						dirty[in.reply.profileID] = true
					}
					out.ProfileChange = out.ProfileChange || before
				case in.absorb != nil:
					m := *in.absorb
					into := get(m.Into)
					dirty[m.Into] = true
					if into.MergedInto != "" {
						forward = append(forward, core.Merge{From: m.From, Into: into.MergedInto})
						continue
					}
					from := get(m.From)
					dirty[m.From] = true
					if from.MergedInto == "" {
						absorb(traits, into, from)
						from.MergedInto = m.Into
						if instances != nil {
							// From's journeys go on as Into's.
							cf, ci := customer(m.From), customer(m.Into)
							for _, x := range cf.Instances {
								x.ProfileID = m.Into
								ci.Instances = append(ci.Instances, x)
							}
							cf.Instances = nil
						}
					}
					c.Merges = append(c.Merges, m)
					completed++
				}
			}
			for _, in := range run {
				if t := in.touch; t != nil {
					for _, id := range t.ids {
						if !seen[id] {
							continue // moved by a merge
						}
						if pr := profiles[id]; pr != nil && pr.MergedInto == "" || working[id] != nil {
							get(id) // backfills its traits if need be
						}
					}
				}
			}
			touched = p.evaluate(auds, traits, run, working, dirty, customers, instances, now, c)
			emits = len(c.Emits)
			for id := range dirty {
				c.Profiles = append(c.Profiles, working[id])
			}
			written = c.Profiles
			c.Instances = out.Changed
			c.Outbox = out.Outbox
			c.Decisions = out.Decisions
			c.Stats = out.Stats
			c.JourneyStats = out.JourneyStats
			return c, nil
		})
	if err != nil {
		// The working profiles share their computed-trait state with
		// the cached ones (see cloneProfile), which may now hold
		// updates that did not commit: reload them.
		for _, id := range ids {
			delete(p.cache, id)
		}
		return err
	}
	p.remember(written)
	p.publish(written, applied, customers, created, now)
	if emits > 0 {
		eng.emitted(emits)
	}
	for _, t := range touched {
		t.in.done <- t
	}
	if m != nil && customers != nil {
		p.rememberInstances(customers)
		horizon := eng.horizon.Load()
		var mine []core.TimerRef
		for _, x := range out.Changed {
			if x.Status == core.InstanceActive && !x.Due.IsZero() && x.Due.UnixNano() <= horizon {
				mine = append(mine, core.TimerRef{InstanceID: x.ID, ProfileID: x.ProfileID, Due: x.Due})
			}
		}
		p.timers.add(mine)
		js := &eng.journeyStats
		for _, r := range out.Trace {
			switch r.Kind {
			case core.RecordEntered:
				js.entered.Add(1)
			case core.RecordExit:
				js.ended.Add(1)
			}
		}
		eng.learned(out.Stats)
		for _, d := range out.Decisions {
			switch d.Outcome {
			case core.OutcomeSend:
				js.sent.Add(1)
			case core.OutcomeDelay:
				js.delayed.Add(1)
			default:
				js.suppressed.Add(1)
			}
		}
		js.transitions.Add(int64(out.Transitions))
		js.messages.Add(int64(len(out.Outbox)))
		js.timers.Add(int64(timersFired))
		for _, d := range late {
			js.lateness.observe(d)
		}
		if len(out.Outbox) > 0 && eng.opts.OnOutbox != nil {
			eng.opts.OnOutbox()
		}
		eng.call(ctx, out.Webhooks)
	}
	for _, id := range dropped {
		if _, err := eng.store.EraseProfile(ctx, id); err != nil && core.ErrorCode(err) != core.ENOTFOUND {
			return err
		}
		eng.merging.Add(-1)
	}
	for _, m := range forward {
		eng.partOf(m.Into).pass(input{absorb: &m})
	}
	for _, e := range events {
		last = e.Seq
		lastRecv = e.ReceivedAt
	}
	if last > 0 {
		p.done.Store(last)
		eng.lastApply.Store(lastRecv.UnixNano())
	}
	eng.merging.Add(-int64(completed))
	eng.applied.Add(int64(nFresh))
	eng.duplicates.Add(int64(dups))
	return nil
}

// loadProfiles returns the committed profiles among ids, from the cache or
// the store.
func (p *partition) loadProfiles(ctx context.Context, ids []string) (map[string]*core.Profile, error) {
	profiles := make(map[string]*core.Profile, len(ids))
	missing := ids[:0:0]
	for _, id := range ids {
		if pr, ok := p.cache[id]; ok {
			profiles[id] = pr
		} else {
			missing = append(missing, id)
		}
	}
	if len(missing) > 0 {
		loaded, err := p.eng.store.LoadProfiles(ctx, missing)
		if err != nil {
			return nil, err
		}
		for id, pr := range loaded {
			profiles[id] = pr
		}
	}
	return profiles, nil
}

// loadInstances returns the committed active instances of ids, from the
// cache or the store.
func (p *partition) loadInstances(ctx context.Context, ids []string) (map[string][]*core.Instance, error) {
	out := make(map[string][]*core.Instance, len(ids))
	missing := ids[:0:0]
	for _, id := range ids {
		if ins, ok := p.insts[id]; ok {
			out[id] = ins
		} else {
			missing = append(missing, id)
		}
	}
	if len(missing) > 0 {
		loaded, err := p.eng.store.LoadInstances(ctx, missing)
		if err != nil {
			return nil, err
		}
		for id, ins := range loaded {
			out[id] = ins
		}
	}
	return out, nil
}

// rememberInstances caches the committed active instances of the
// customers a batch touched (those this partition owns).
func (p *partition) rememberInstances(customers map[string]*machine.Customer) {
	if p.insts == nil {
		p.insts = make(map[string][]*core.Instance)
	}
	limit := p.eng.opts.ProfileCache
	for id, c := range customers {
		if PartitionOf(id, len(p.eng.parts)) != p.id {
			continue
		}
		if len(p.insts) >= limit {
			n := max(1, limit/10)
			for k := range p.insts {
				if n--; n < 0 {
					break
				}
				delete(p.insts, k)
			}
		}
		p.insts[id] = c.Instances
	}
}

// cloneProfile copies a loaded profile so a failed transaction leaves the
// loaded one untouched for the retry. The computed-trait state is shared,
// not copied (it is the largest part, updated by every event): a failed
// commit drops the batch's profiles from the cache instead.
func cloneProfile(p *core.Profile) *core.Profile {
	c := *p
	c.Traits = cloneMap(p.Traits)
	c.Consent = cloneMap(p.Consent)
	c.Counts = cloneMap(p.Counts)
	c.Entered = cloneMap(p.Entered)
	c.Audiences = cloneMap(p.Audiences)
	c.Merged = append([]string(nil), p.Merged...)
	return &c
}

func cloneMap[K comparable, V any](m map[K]V) map[K]V {
	if m == nil {
		return nil
	}
	c := make(map[K]V, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}
