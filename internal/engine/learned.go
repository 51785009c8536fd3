package engine

import (
	"context"
	"maps"

	"github.com/overture-cjo/overture/internal/core"
	"github.com/overture-cjo/overture/internal/decide"
)

// SetOffers makes `offer: best` rank offers (and the partitions learn
// their impressions and conversions) from the next batch on.
func (e *Engine) SetOffers(set *decide.Set) {
	e.machineMu.Lock()
	defer e.machineMu.Unlock()
	e.deciders.Offers = set
	if e.catalog != nil {
		e.setMachine()
	}
}

// SetTemplateChannels tells `channel: best` which channels each message
// template has content for (f returns nil for an unknown template).
func (e *Engine) SetTemplateChannels(f func(template string) []string) {
	e.machineMu.Lock()
	defer e.machineMu.Unlock()
	e.deciders.TemplateChannels = f
	if e.catalog != nil {
		e.setMachine()
	}
}

// OfferModel returns the offers' learned posteriors: the store's counters
// as of the start plus every delta committed since.
func (e *Engine) OfferModel() *decide.Model { return e.model }

// Population returns everyone's engagement per channel (read-only).
func (e *Engine) Population() map[string]decide.Engagement {
	if m := e.population.Load(); m != nil {
		return *m
	}
	return nil
}

// loadModels reads the learned counters from the store, before any
// partition applies an event.
func (e *Engine) loadModels(ctx context.Context) error {
	stats, err := e.store.ModelStats(ctx)
	if err != nil {
		return err
	}
	var offers []decide.Stat
	pop := map[string]decide.Engagement{}
	for _, s := range stats {
		switch s.Model {
		case core.ModelOffer:
			offers = append(offers, decide.Stat{Offer: s.Key, Bucket: s.Bucket, Impressions: s.Trials, Successes: s.Successes})
		case core.ModelChannel:
			pop[s.Key] = decide.Engagement{Delivered: s.Trials, Engaged: s.Successes}
		}
	}
	if err := e.model.Load(offers); err != nil {
		return err
	}
	e.population.Store(&pop)
	return nil
}

// learned adds a committed batch's model deltas to the in-memory models.
func (e *Engine) learned(stats []core.ModelStat) {
	var pop map[string]decide.Engagement
	for _, s := range stats {
		switch s.Model {
		case core.ModelOffer:
			e.model.Add(s.Key, s.Bucket, s.Trials, s.Successes)
		case core.ModelChannel:
			if pop == nil {
				e.popMu.Lock()
				defer e.popMu.Unlock()
				pop = maps.Clone(e.Population())
				if pop == nil {
					pop = map[string]decide.Engagement{}
				}
			}
			x := pop[s.Key]
			x.Delivered += s.Trials
			x.Engaged += s.Successes
			pop[s.Key] = x
		}
	}
	if pop != nil {
		e.population.Store(&pop)
	}
}
