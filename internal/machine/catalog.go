package machine

import (
	"fmt"
	"sort"

	"github.com/overture-cjo/overture/internal/core"
	"github.com/overture-cjo/overture/internal/journey"
)

// Journey is one version of a journey definition and the journey's state.
type Journey struct {
	Def     *journey.Definition
	Version int
}

// Catalog holds the journeys a machine runs: every version (instances
// finish on the version they started on) and which is newest. It is
// immutable once built; a change builds a new one.
type Catalog struct {
	versions map[string]map[int]*Journey
	newest   map[string]*Journey
	state    map[string]string
	triggers map[string][]*Journey // event name -> newest versions of active journeys it triggers, by priority
}

// NewCatalog returns an empty catalog.
func NewCatalog() *Catalog {
	return &Catalog{versions: map[string]map[int]*Journey{}, newest: map[string]*Journey{}, state: map[string]string{}, triggers: map[string][]*Journey{}}
}

// Add adds a version of a journey in the given state (core.JourneyActive,
// ...). The newest version added is the one customers enter; a state given
// later for the same id replaces the earlier one.
func (c *Catalog) Add(d *journey.Definition, version int, state string) {
	j := &Journey{Def: d, Version: version}
	if c.versions[d.ID] == nil {
		c.versions[d.ID] = map[int]*Journey{}
	}
	c.versions[d.ID][version] = j
	if n := c.newest[d.ID]; n == nil || version > n.Version {
		c.newest[d.ID] = j
	}
	c.state[d.ID] = state
	c.index()
}

// SetState sets a journey's state.
func (c *Catalog) SetState(id, state string) {
	c.state[id] = state
	c.index()
}

// index rebuilds the trigger index: higher priority first, then id.
func (c *Catalog) index() {
	c.triggers = map[string][]*Journey{}
	for id, j := range c.newest {
		if c.state[id] == core.JourneyActive {
			ev := j.Def.Entry.Trigger.Event
			c.triggers[ev] = append(c.triggers[ev], j)
		}
	}
	for _, js := range c.triggers {
		sort.Slice(js, func(a, b int) bool {
			if js[a].Def.Priority != js[b].Def.Priority {
				return js[a].Def.Priority > js[b].Def.Priority
			}
			return js[a].Def.ID < js[b].Def.ID
		})
	}
}

// AudienceRefreshed reports whether an active journey starts on the
// audience_refreshed events of an audience (so its refreshes emit one per
// member).
func (c *Catalog) AudienceRefreshed(audience string) bool {
	for _, j := range c.triggers[core.EventAudienceRefreshed] {
		if j.Def.Entry.Trigger.Audience == audience {
			return true
		}
	}
	return false
}

// Version returns a version of a journey, or nil.
func (c *Catalog) Version(id string, v int) *Journey { return c.versions[id][v] }

// Newest returns the newest version of a journey, or nil.
func (c *Catalog) Newest(id string) *Journey { return c.newest[id] }

// State returns a journey's state ("" if unknown).
func (c *Catalog) State(id string) string { return c.state[id] }

// IDs returns the journey ids, sorted.
func (c *Catalog) IDs() []string {
	ids := make([]string, 0, len(c.newest))
	for id := range c.newest {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// Clone returns a copy that can be changed without affecting c.
func (c *Catalog) Clone() *Catalog {
	n := NewCatalog()
	for id, vs := range c.versions {
		n.versions[id] = map[int]*Journey{}
		for v, j := range vs {
			n.versions[id][v] = j
		}
	}
	for id, j := range c.newest {
		n.newest[id] = j
	}
	for id, s := range c.state {
		n.state[id] = s
	}
	n.index()
	return n
}

// FromDefinitions builds a catalog of definitions, each as version 1 and
// active (the simulator's catalog).
func FromDefinitions(defs []*journey.Definition) (*Catalog, error) {
	c := NewCatalog()
	for _, d := range defs {
		if c.newest[d.ID] != nil {
			return nil, fmt.Errorf("journey %q defined twice", d.ID)
		}
		c.Add(d, 1, core.JourneyActive)
	}
	return c, nil
}
