package engine

import (
	"container/heap"
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/overture-cjo/overture/internal/core"
	"github.com/overture-cjo/overture/internal/machine"
	"github.com/overture-cjo/overture/internal/policy"
)

// SetCatalog makes the engine run the catalog's journeys from the next
// partition batch on. Instances keep the version they started on, so the
// catalog must hold every version that has active instances.
func (e *Engine) SetCatalog(cat *machine.Catalog) {
	e.machineMu.Lock()
	defer e.machineMu.Unlock()
	e.catalog = cat
	e.setMachine()
}

// setMachine builds the machine the partitions run (machineMu held).
func (e *Engine) setMachine() {
	d := e.deciders
	d.Model, d.Population = e.model, e.Population
	e.machine.Store(machine.New(e.catalog, e.opts.Zone).With(d))
}

// SetPolicy makes send steps pass the contact policy p (nil: none) from
// the next partition batch on.
func (e *Engine) SetPolicy(p *policy.Policy) {
	e.machineMu.Lock()
	defer e.machineMu.Unlock()
	e.deciders.Policy = p
	if e.catalog != nil {
		e.setMachine()
	}
}

// Reply hands a webhook's reply to the partition of the instance's
// profile, in order with the profile's other inputs.
func (e *Engine) Reply(profileID string, rep machine.Reply) {
	e.partOf(profileID).pass(input{reply: &replyInput{profileID: profileID, rep: rep}})
}

type replyInput struct {
	profileID string
	rep       machine.Reply
}

// call runs webhook calls in the background, at most opts.WebhookCalls at
// once, and feeds each reply back to its partition.
func (e *Engine) call(ctx context.Context, hooks []machine.Webhook) {
	if e.opts.Webhooks == nil {
		return
	}
	for _, h := range hooks {
		e.calling.Add(1)
		go func() {
			defer e.calling.Add(-1)
			select {
			case e.callSlots <- struct{}{}:
			case <-ctx.Done():
				return
			}
			rep := e.opts.Webhooks.Call(ctx, h)
			<-e.callSlots
			rep.InstanceID, rep.Seq = h.InstanceID, h.Seq
			e.Reply(h.ProfileID, rep)
		}()
	}
}

// WebhookCaller makes the HTTP calls of webhook steps.
type WebhookCaller interface {
	// Call makes the call and returns its outcome; it must return by
	// h.Timeout.
	Call(ctx context.Context, h machine.Webhook) machine.Reply
}

// timers is a partition's near window of timers: those due before the
// engine's horizon. Later ones stay in the store until the loader reads
// them.
type timers struct {
	mu       sync.Mutex
	incoming []core.TimerRef // from the loader
	h        timerHeap       // partition goroutine only
}

func (t *timers) add(refs []core.TimerRef) {
	t.mu.Lock()
	t.incoming = append(t.incoming, refs...)
	t.mu.Unlock()
}

// due moves the loader's timers into the heap and appends the inputs of
// those due at or before now.
func (t *timers) due(now time.Time, batch []input, max int) []input {
	t.mu.Lock()
	for _, r := range t.incoming {
		heap.Push(&t.h, r)
	}
	t.incoming = t.incoming[:0]
	t.mu.Unlock()
	for len(t.h) > 0 && !t.h[0].Due.After(now) && len(batch) < max {
		r := heap.Pop(&t.h).(core.TimerRef)
		batch = append(batch, input{timer: &r})
	}
	return batch
}

// pending reports whether a timer is due at or before now.
func (t *timers) pending(now time.Time) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, r := range t.incoming {
		if !r.Due.After(now) {
			return true
		}
	}
	return len(t.h) > 0 && !t.h[0].Due.After(now)
}

type timerHeap []core.TimerRef

func (h timerHeap) Len() int { return len(h) }
func (h timerHeap) Less(i, j int) bool {
	if !h[i].Due.Equal(h[j].Due) {
		return h[i].Due.Before(h[j].Due)
	}
	return h[i].InstanceID < h[j].InstanceID
}
func (h timerHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *timerHeap) Push(x any)   { *h = append(*h, x.(core.TimerRef)) }
func (h *timerHeap) Pop() any {
	old := *h
	t := old[len(old)-1]
	*h = old[:len(old)-1]
	return t
}

// loadTimers keeps every partition's near window filled: it reads the
// timers due up to now + TimerWindow from the store and hands each to its
// partition. The horizon moves before the read, and a partition that
// commits a timer at or before the horizon keeps it itself: so a timer
// committed while a read runs is held by the partition, the read, or both
// (a timer that fires twice is ignored by the machine the second time).
func (e *Engine) loadTimers(ctx context.Context) {
	var through time.Time
	for ctx.Err() == nil {
		target := e.opts.Clock.Now().Add(e.opts.TimerWindow)
		for through.Before(target) && ctx.Err() == nil {
			next := target
			if !through.IsZero() && next.Sub(through) > time.Hour {
				next = through.Add(time.Hour) // catching up after downtime: an hour at a time
			}
			if e.horizon.Load() < next.UnixNano() {
				e.horizon.Store(next.UnixNano())
			}
			refs, err := e.store.DueTimers(ctx, through, next, 1<<30)
			if err != nil {
				if ctx.Err() == nil {
					e.log.Error("load timers", "err", err)
				}
				break
			}
			byPart := make([][]core.TimerRef, len(e.parts))
			for _, r := range refs {
				i := PartitionOf(r.ProfileID, len(e.parts))
				byPart[i] = append(byPart[i], r)
			}
			for i, refs := range byPart {
				if len(refs) > 0 {
					e.parts[i].timers.add(refs)
				}
			}
			through = next
			e.timersThrough.Store(through.UnixNano())
		}
		sleep(ctx, e.opts.TimerTick)
	}
}

// cloneInstances copies instances so a failed transaction leaves the
// committed ones untouched for the retry. Histories are clipped so an
// append copies instead of writing into the shared array.
func cloneInstances(ins []*core.Instance) []*core.Instance {
	if len(ins) == 0 {
		return nil
	}
	out := make([]*core.Instance, len(ins))
	for i, in := range ins {
		c := *in
		c.Vars = cloneMap(in.Vars)
		c.History = in.History[:len(in.History):len(in.History)]
		out[i] = &c
	}
	return out
}

// latenessBounds are the upper bounds of the timer lateness histogram.
var latenessBounds = []time.Duration{
	10 * time.Millisecond, 50 * time.Millisecond, 100 * time.Millisecond, 250 * time.Millisecond,
	500 * time.Millisecond, time.Second, 2 * time.Second, 5 * time.Second, 10 * time.Second,
}

// lateness counts how late timers fired: how long after their due time
// the partition handled them.
type lateness struct {
	buckets [10]atomic.Int64 // by latenessBounds; the last is "more"
	max     atomic.Int64     // ns
}

func (l *lateness) observe(d time.Duration) {
	i := 0
	for i < len(latenessBounds) && d > latenessBounds[i] {
		i++
	}
	l.buckets[i].Add(1)
	for {
		m := l.max.Load()
		if int64(d) <= m || l.max.CompareAndSwap(m, int64(d)) {
			return
		}
	}
}

// TimerLateness summarises how late timers fired since start.
type TimerLateness struct {
	Buckets map[string]int64 `json:"buckets"` // count of timers at most this late ("+Inf": later)
	P50     time.Duration    `json:"p50Ns"`   // upper bound of the bucket holding the median
	P99     time.Duration    `json:"p99Ns"`   // upper bound of the bucket holding the 99th percentile
	Max     time.Duration    `json:"maxNs"`
}

func (l *lateness) snapshot() TimerLateness {
	out := TimerLateness{Buckets: map[string]int64{}, Max: time.Duration(l.max.Load())}
	var counts [10]int64
	total := int64(0)
	for i := range l.buckets {
		counts[i] = l.buckets[i].Load()
		total += counts[i]
		name := "+Inf"
		if i < len(latenessBounds) {
			name = latenessBounds[i].String()
		}
		out.Buckets[name] = counts[i]
	}
	pct := func(p float64) time.Duration {
		if total == 0 {
			return 0
		}
		seen := int64(0)
		for i, c := range counts {
			seen += c
			if float64(seen) >= p*float64(total) {
				if i < len(latenessBounds) {
					return latenessBounds[i]
				}
				return out.Max
			}
		}
		return out.Max
	}
	out.P50, out.P99 = pct(0.5), pct(0.99)
	return out
}
