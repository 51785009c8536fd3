// Package catalog keeps the applied journeys: it stores each new version
// of a definition, parses every stored version at start, and hands the
// engine a machine catalog whenever something changes. The API and
// `overture apply` go through it.
package catalog

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"

	"github.com/overture-cjo/overture/internal/core"
	"github.com/overture-cjo/overture/internal/journey"
	"github.com/overture-cjo/overture/internal/machine"
)

// Service is the set of applied journeys.
type Service struct {
	store    core.Store
	clock    core.Clock
	log      *slog.Logger
	onChange func(*machine.Catalog)

	mu      sync.Mutex
	records map[string]*core.JourneyRecord
	defs    map[string]map[int]*journey.Definition
	cat     *machine.Catalog
}

// Catalog returns the machine catalog of every applied journey version.
func (s *Service) Catalog() *machine.Catalog {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cat
}

// Open loads every stored journey version and calls onChange with the
// catalog (and again after each change). A stored version that no longer
// parses is logged and left out (its instances then wait).
func Open(ctx context.Context, store core.Store, clock core.Clock, log *slog.Logger, onChange func(*machine.Catalog)) (*Service, error) {
	recs, err := store.Journeys(ctx)
	if err != nil {
		return nil, err
	}
	s := &Service{store: store, clock: clock, log: log, onChange: onChange,
		records: map[string]*core.JourneyRecord{}, defs: map[string]map[int]*journey.Definition{}, cat: machine.NewCatalog()}
	for _, r := range recs {
		s.records[r.ID] = r
		for _, v := range r.Versions {
			d, err := journey.Parse(fmt.Sprintf("%s@%d", r.ID, v.Version), []byte(v.Source))
			if err != nil {
				log.Error("stored journey version does not parse", "journey", r.ID, "version", v.Version, "err", err)
				continue
			}
			s.addDef(d, v.Version, r.State)
		}
	}
	if len(recs) > 0 {
		onChange(s.cat)
	}
	return s, nil
}

func (s *Service) addDef(d *journey.Definition, v int, state string) {
	if s.defs[d.ID] == nil {
		s.defs[d.ID] = map[int]*journey.Definition{}
	}
	s.defs[d.ID][v] = d
	s.cat.Add(d, v, state)
}

// Applied is the outcome of Apply.
type Applied struct {
	ID      string `json:"id"`
	Version int    `json:"version"`
	Created bool   `json:"created"` // false: the source equals the newest version
}

// Apply validates a definition and stores it as a new version of its
// journey, unless it equals the newest one. id, if not empty, must be the
// definition's id. Errors are EINVALID naming the file position and field.
func (s *Service) Apply(ctx context.Context, id, name string, source []byte) (Applied, error) {
	d, err := journey.Parse(name, source)
	if err != nil {
		var l journey.ErrorList
		if errors.As(err, &l) && len(l) > 0 {
			return Applied{}, core.Errorf(core.EINVALID, l[0].Path, "%s", l.Error())
		}
		return Applied{}, core.Errorf(core.EINVALID, "", "%v", err)
	}
	if id != "" && d.ID != id {
		return Applied{}, core.Errorf(core.EINVALID, "id", "the definition's id is %q, not %q", d.ID, id)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	v, created, err := s.store.SaveJourney(ctx, d.ID, string(source), s.clock.Now())
	if err != nil {
		return Applied{}, err
	}
	if created {
		r := s.records[d.ID]
		if r == nil {
			r = &core.JourneyRecord{ID: d.ID, State: core.JourneyActive, UpdatedAt: v.CreatedAt}
			s.records[d.ID] = r
		}
		r.Versions = append(r.Versions, v)
		s.cat = s.cat.Clone()
		s.addDef(d, v.Version, r.State)
		s.onChange(s.cat)
	}
	return Applied{ID: d.ID, Version: v.Version, Created: created}, nil
}

// SetState pauses, resumes or archives a journey. An archived journey
// cannot be resumed.
func (s *Service) SetState(ctx context.Context, id, state string) error {
	switch state {
	case core.JourneyActive, core.JourneyPaused, core.JourneyArchived:
	default:
		return core.Errorf(core.EINVALID, "state", "unknown state %q", state)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.records[id]
	if r == nil {
		return core.Errorf(core.ENOTFOUND, "id", "no journey %q", id)
	}
	if r.State == core.JourneyArchived && state != core.JourneyArchived {
		return core.Errorf(core.ECONFLICT, "state", "journey %q is archived; it cannot be resumed", id)
	}
	if r.State == state {
		return nil
	}
	now := s.clock.Now()
	if err := s.store.SetJourneyState(ctx, id, state, now); err != nil {
		return err
	}
	r.State, r.UpdatedAt = state, now
	s.cat = s.cat.Clone()
	s.cat.SetState(id, state)
	s.onChange(s.cat)
	return nil
}

// Summary describes a journey for the API.
type Summary struct {
	ID          string           `json:"id"`
	Name        string           `json:"name"`
	Description string           `json:"description,omitempty"`
	Category    string           `json:"category"`
	Priority    int              `json:"priority"`
	State       string           `json:"state"`
	Version     int              `json:"version"` // the newest
	UpdatedAt   string           `json:"updatedAt"`
	Trigger     string           `json:"trigger"`
	Steps       []string         `json:"steps"` // the newest version's steps, in file order
	Versions    []VersionSummary `json:"versions"`
	Waiting     int64            `json:"waiting"`          // active instances now, all versions
	Source      string           `json:"source,omitempty"` // the newest version's file (Get only)
}

// VersionSummary is one version and its active instances per step.
type VersionSummary struct {
	Version   int              `json:"version"`
	CreatedAt string           `json:"createdAt"`
	Hash      string           `json:"hash"`
	Active    int64            `json:"active"`
	AtStep    map[string]int64 `json:"atStep"` // active instances at each step now
}

// List summarises every journey (archived ones only if withArchived),
// with counts of active instances per version and step, sorted by id.
func (s *Service) List(ctx context.Context, withArchived bool) ([]*Summary, error) {
	counts, err := s.store.WaitingCounts(ctx)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*Summary
	for id, r := range s.records {
		if r.State == core.JourneyArchived && !withArchived {
			continue
		}
		out = append(out, s.summary(id, r, counts, false))
	}
	sort.Slice(out, func(a, b int) bool { return out[a].ID < out[b].ID })
	return out, nil
}

// Get summarises one journey, with its newest source.
func (s *Service) Get(ctx context.Context, id string) (*Summary, error) {
	counts, err := s.store.WaitingCounts(ctx)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.records[id]
	if r == nil {
		return nil, core.Errorf(core.ENOTFOUND, "id", "no journey %q", id)
	}
	return s.summary(id, r, counts, true), nil
}

func (s *Service) summary(id string, r *core.JourneyRecord, counts []core.StepCount, source bool) *Summary {
	sum := &Summary{ID: id, State: r.State, UpdatedAt: r.UpdatedAt.UTC().Format("2006-01-02T15:04:05.999999999Z07:00"), Steps: []string{}}
	byVersion := map[int]*VersionSummary{}
	for _, v := range r.Versions {
		vs := VersionSummary{Version: v.Version, CreatedAt: v.CreatedAt.UTC().Format("2006-01-02T15:04:05.999999999Z07:00"), Hash: v.Hash, AtStep: map[string]int64{}}
		sum.Versions = append(sum.Versions, vs)
	}
	for i := range sum.Versions {
		byVersion[sum.Versions[i].Version] = &sum.Versions[i]
	}
	for _, c := range counts {
		if c.JourneyID != id {
			continue
		}
		if vs := byVersion[c.Version]; vs != nil {
			vs.AtStep[c.Step] += c.Count
			vs.Active += c.Count
			sum.Waiting += c.Count
		}
	}
	if n := len(r.Versions); n > 0 {
		newest := r.Versions[n-1]
		sum.Version = newest.Version
		if source {
			sum.Source = newest.Source
		}
		if d := s.defs[id][newest.Version]; d != nil {
			sum.Name, sum.Description, sum.Category, sum.Priority = d.Name, d.Description, d.Category, d.Priority
			sum.Trigger = d.Entry.Trigger.Event
			sum.Steps = append(sum.Steps, d.StepOrder...)
		}
	}
	return sum
}
