package engine

import (
	"context"
	"sync"
	"time"

	"github.com/overture-cjo/overture/internal/audience"
	"github.com/overture-cjo/overture/internal/core"
)

// This file holds the engine's background jobs beside the data path: the
// emitter, which appends committed audience events to the event log;
// audience refreshes (on a schedule or on demand); and the backfill of
// computed traits over every stored profile.

// emitted notes that a partition committed n events to emit.
func (e *Engine) emitted(n int) {
	e.emitGen.Add(1)
	select {
	case e.emitWake <- struct{}{}:
	default:
	}
}

// emit appends committed emits to the log and forgets them, until none
// are left; it runs at start (emits committed before a crash) and
// whenever a partition commits new ones. An emit appended twice (a crash
// between the append and the delete) is dropped as a duplicate: its
// message id is fixed.
func (e *Engine) emit(ctx context.Context) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		gen := e.emitGen.Load()
		for ctx.Err() == nil {
			batch, err := e.store.PendingEmits(ctx, 0, 5000)
			if err == nil && len(batch) > 0 {
				evs := make([]*core.Event, len(batch))
				ids := make([]int64, len(batch))
				for i, em := range batch {
					evs[i], ids[i] = em.Event, em.ID
				}
				if err = e.append(ctx, evs); err == nil {
					e.audienceEvents.Add(int64(len(evs)))
					err = e.store.DeleteEmits(ctx, ids)
				}
			}
			if err != nil {
				if ctx.Err() == nil {
					e.log.Error("emit audience events; retrying", "err", err)
					sleep(ctx, 200*time.Millisecond)
				}
				continue
			}
			if len(batch) == 0 {
				e.emitDone.Store(gen)
				break
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-e.emitWake:
		case <-tick.C:
		}
	}
}

// append writes events to the log durably and offers them to the router:
// through opts.Emit (the ingest committer) when set.
func (e *Engine) append(ctx context.Context, evs []*core.Event) error {
	if e.opts.Emit != nil {
		return e.opts.Emit(ctx, evs)
	}
	e.appendMu.Lock()
	defer e.appendMu.Unlock()
	if err := e.store.Append(ctx, evs); err != nil {
		return err
	}
	e.Offer(evs)
	return nil
}

// scanPage is how many profiles a refresh or backfill reads at a time.
const scanPage = 2000

// scanInFlight bounds the pages handed to partitions and not yet done.
const scanInFlight = 8

// scan walks every live profile in pages, asks pick which of a page to
// hand to the partitions, and touches those (with audience and every, as
// touchInput says), at most scanInFlight pages ahead of their commits. It
// returns the profiles read and the sum of the touches' results.
func (e *Engine) scan(ctx context.Context, pick func(page []*core.Profile) ([]string, error), aud string, every bool, progress func(scanned int64)) (int64, touchResult, error) {
	var total touchResult
	var scanned int64
	pending := make(chan chan touchResult, scanInFlight)
	collected := make(chan struct{})
	go func() {
		defer close(collected)
		for done := range pending {
			for n := cap(done); n > 0; n-- {
				select {
				case r := <-done:
					total.entered += r.entered
					total.exited += r.exited
					total.refreshed += r.refreshed
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	var err error
	after := ""
	for err == nil {
		var page []*core.Profile
		if page, err = e.store.ScanProfiles(ctx, after, scanPage); err != nil || len(page) == 0 {
			break
		}
		after = page[len(page)-1].ID
		scanned += int64(len(page))
		var ids []string
		if ids, err = pick(page); err != nil {
			break
		}
		byPart := map[*partition][]string{}
		for _, id := range ids {
			p := e.partOf(id)
			byPart[p] = append(byPart[p], id)
		}
		done := make(chan touchResult, len(byPart))
		for p, ids := range byPart {
			p.pass(input{touch: &touchInput{ids: ids, audience: aud, every: every, done: done}})
		}
		select {
		case pending <- done:
		case <-ctx.Done():
			err = ctx.Err()
		}
		if progress != nil {
			progress(scanned)
		}
	}
	close(pending)
	<-collected
	if err == nil {
		err = ctx.Err()
	}
	return scanned, total, err
}

// Refresh re-evaluates an audience over every profile: members that no
// longer match leave it and profiles that now match enter it (each with
// its event), and with a journey that enters every member at each refresh,
// every member gets an audience_refreshed event. trigger says why
// ("schedule", "api"). Refreshes of one audience run one at a time.
func (e *Engine) Refresh(ctx context.Context, id, trigger string) (*core.Refresh, error) {
	auds := e.audiences.Load()
	var aud *audience.Audience
	if auds != nil {
		aud = auds.Get(id)
	}
	if aud == nil {
		return nil, core.Errorf(core.ENOTFOUND, "id", "no audience %q", id)
	}
	mu := e.refreshLock(id)
	mu.Lock()
	defer mu.Unlock()
	r := &core.Refresh{Audience: id, Version: aud.Version, Trigger: trigger, StartedAt: e.opts.Clock.Now()}
	every := false
	if m := e.machine.Load(); m != nil {
		every = m.Catalog().AudienceRefreshed(id)
	}
	traits := e.traits.Load()
	pick := func(page []*core.Profile) ([]string, error) {
		var ins map[string][]*core.Instance
		if aud.UsesJourneys {
			ids := make([]string, len(page))
			for i, pr := range page {
				ids[i] = pr.ID
			}
			var err error
			if ins, err = e.store.LoadInstances(ctx, ids); err != nil {
				return nil, err
			}
		}
		now := e.opts.Clock.Now()
		var out []string
		for _, pr := range page {
			view := core.ProfileMap(pr)
			view["computed"] = map[string]any{}
			if traits != nil && pr.Computed != nil {
				view["computed"] = traits.Values(pr.Computed, now)
			}
			match, _ := aud.Match(audience.Input{Profile: view, Now: now, InJourney: inJourney(nil, ins[pr.ID])})
			if match != pr.Audiences[id].Member || every && match {
				out = append(out, pr.ID)
			}
		}
		return out, nil
	}
	scanned, res, err := e.scan(ctx, pick, id, every, nil)
	if err != nil {
		return nil, err
	}
	sizes, err := e.store.AudienceSizes(ctx)
	if err != nil {
		return nil, err
	}
	r.Scanned, r.Entered, r.Exited, r.Size = scanned, res.entered, res.exited, sizes[id]
	r.FinishedAt = e.opts.Clock.Now()
	if err := e.store.SaveRefresh(ctx, r); err != nil {
		return nil, err
	}
	e.log.Info("audience refreshed", "audience", id, "trigger", trigger, "scanned", scanned, "size", r.Size,
		"entered", r.Entered, "exited", r.Exited, "refreshed", res.refreshed, "took", r.FinishedAt.Sub(r.StartedAt))
	return r, nil
}

func (e *Engine) refreshLock(id string) *sync.Mutex {
	e.jobsMu.Lock()
	defer e.jobsMu.Unlock()
	if e.refreshing == nil {
		e.refreshing = map[string]*sync.Mutex{}
	}
	mu := e.refreshing[id]
	if mu == nil {
		mu = &sync.Mutex{}
		e.refreshing[id] = mu
	}
	return mu
}

// schedule refreshes each audience with a schedule when it falls due on
// the engine's clock (checked every TimerTick). A schedule missed while
// the engine was down is not made up: the next one runs.
func (e *Engine) schedule(ctx context.Context) {
	next := map[string]time.Time{}
	var set *audience.Set
	tick := time.NewTicker(e.opts.TimerTick)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		now := e.opts.Clock.Now()
		if s := e.audiences.Load(); s != set {
			set = s
			clear(next)
		}
		if set == nil {
			continue
		}
		for _, a := range set.List() {
			if a.Schedule == "" {
				continue
			}
			due, ok := next[a.ID]
			if !ok {
				next[a.ID] = a.Next(now)
				continue
			}
			if due.IsZero() || now.Before(due) {
				continue
			}
			next[a.ID] = a.Next(now)
			if _, err := e.Refresh(ctx, a.ID, "schedule"); err != nil && ctx.Err() == nil {
				e.log.Error("scheduled audience refresh", "audience", a.ID, "err", err)
			}
		}
	}
}

// BackfillStatus is the progress of the current or last backfill of
// computed traits.
type BackfillStatus struct {
	Running    bool      `json:"running"`
	Traits     []string  `json:"traits"` // those the backfill builds
	Total      int64     `json:"total"`  // live profiles when it started
	Scanned    int64     `json:"scanned"`
	Touched    int64     `json:"touched"` // profiles handed to partitions to backfill
	StartedAt  time.Time `json:"startedAt"`
	FinishedAt time.Time `json:"finishedAt,omitzero"`
	Error      string    `json:"error,omitempty"`
}

// Backfill builds the computed traits on every stored profile that lacks
// them, in the background, while events go on being applied: each profile
// is backfilled by its own partition, in order with its events, from its
// timeline. A backfill started while one runs replaces it.
func (e *Engine) Backfill(ctx context.Context) {
	traits := e.traits.Load()
	if traits == nil || len(traits.Traits) == 0 {
		return
	}
	e.jobsMu.Lock()
	if e.stopBackfill != nil {
		e.stopBackfill()
	}
	ctx, cancel := context.WithCancel(ctx)
	e.stopBackfill = cancel
	names := make([]string, len(traits.Traits))
	for i, t := range traits.Traits {
		names[i] = t.Name
	}
	st := &BackfillStatus{Running: true, Traits: names, StartedAt: e.opts.Clock.Now()}
	e.backfill = st
	e.jobsMu.Unlock()
	e.jobs.Add(1)
	go func() {
		defer e.jobs.Done()
		defer cancel()
		total, err := e.store.CountProfiles(ctx)
		e.setBackfill(func(s *BackfillStatus) { s.Total = total })
		if err == nil {
			var touched int64
			_, _, err = e.scan(ctx, func(page []*core.Profile) ([]string, error) {
				var out []string
				for _, pr := range page {
					if len(traits.Missing(pr.Computed)) > 0 {
						out = append(out, pr.ID)
					}
				}
				touched += int64(len(out))
				return out, nil
			}, "", false, func(scanned int64) {
				e.setBackfill(func(s *BackfillStatus) { s.Scanned, s.Touched = scanned, touched })
			})
		}
		e.setBackfill(func(s *BackfillStatus) {
			if s != st {
				return
			}
			s.Running = false
			s.FinishedAt = e.opts.Clock.Now()
			if err != nil {
				s.Error = err.Error()
			}
		})
		if err == nil {
			e.log.Info("computed traits backfilled", "traits", names, "profiles", st.Scanned, "touched", st.Touched,
				"took", st.FinishedAt.Sub(st.StartedAt))
		} else if ctx.Err() == nil {
			e.log.Error("computed traits backfill", "err", err)
		}
	}()
}

func (e *Engine) setBackfill(f func(*BackfillStatus)) {
	e.jobsMu.Lock()
	defer e.jobsMu.Unlock()
	if e.backfill != nil {
		f(e.backfill)
	}
}

// BackfillProgress returns the current or last backfill's status, or nil.
func (e *Engine) BackfillProgress() *BackfillStatus {
	e.jobsMu.Lock()
	defer e.jobsMu.Unlock()
	if e.backfill == nil {
		return nil
	}
	c := *e.backfill
	return &c
}
