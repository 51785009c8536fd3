package catalog

import (
	"context"
	"fmt"
	"log/slog"
	"sync"

	"github.com/overture-cjo/overture/internal/core"
	"github.com/overture-cjo/overture/internal/policy"
)

// Decisioning keeps the applied contact policy (and, with it, what else
// decides for a customer): each is stored as versions of a definition,
// and the newest version not deleted is handed to the engine.
type Decisioning struct {
	store core.Store
	clock core.Clock
	log   *slog.Logger
	hooks DecisionHooks

	mu     sync.Mutex
	policy *derived[*policy.Policy] // nil if none was ever applied
}

// DecisionHooks receive the definitions in force, at open and after each
// change; any may be nil.
type DecisionHooks struct {
	Policy func(*policy.Policy) // nil: no contact policy
}

// OpenDecisioning loads the stored definitions and calls the hooks.
func OpenDecisioning(ctx context.Context, store core.Store, clock core.Clock, log *slog.Logger, hooks DecisionHooks) (*Decisioning, error) {
	d := &Decisioning{store: store, clock: clock, log: log, hooks: hooks}
	vs, err := store.Definitions(ctx, core.KindPolicy)
	if err != nil {
		return nil, err
	}
	for _, v := range vs {
		if v.ID != core.PolicyID {
			continue
		}
		p, err := policy.Parse(fmt.Sprintf("policy@%d", v.Version), []byte(v.Source))
		if err != nil {
			log.Error("stored contact policy does not parse", "version", v.Version, "err", err)
		}
		d.policy = &derived[*policy.Policy]{version: v, def: p}
	}
	d.publishPolicy()
	return d, nil
}

func (d *Decisioning) publishPolicy() {
	if d.hooks.Policy == nil {
		return
	}
	if d.policy == nil || d.policy.version.Deleted {
		d.hooks.Policy(nil)
		return
	}
	d.hooks.Policy(d.policy.def)
}

// ApplyPolicy validates the contact policy and stores it as a new version
// unless it equals the newest.
func (d *Decisioning) ApplyPolicy(ctx context.Context, file string, source []byte) (Applied, error) {
	p, err := policy.Parse(file, source)
	if err != nil {
		return Applied{}, invalid(err)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	v, created, err := d.store.SaveDefinition(ctx, core.KindPolicy, core.PolicyID, string(source), d.clock.Now())
	if err != nil {
		return Applied{}, err
	}
	if created {
		d.policy = &derived[*policy.Policy]{version: v, def: p}
		d.publishPolicy()
	}
	return Applied{ID: core.PolicyID, Version: v.Version, Created: created}, nil
}

// DeletePolicy removes the contact policy: sends are no longer arbitrated.
func (d *Decisioning) DeletePolicy(ctx context.Context) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.policy == nil || d.policy.version.Deleted {
		return core.Errorf(core.ENOTFOUND, "", "no contact policy")
	}
	if err := d.store.DeleteDefinition(ctx, core.KindPolicy, core.PolicyID, d.clock.Now()); err != nil {
		return err
	}
	v := *d.policy.version
	v.Deleted = true
	d.policy.version = &v
	d.publishPolicy()
	return nil
}

// PolicyDef is the contact policy in force.
type PolicyDef struct {
	Policy    *policy.Policy `json:"-"`
	Version   int            `json:"version"`
	UpdatedAt string         `json:"updatedAt"`
	Source    string         `json:"source"`
}

// Policy returns the contact policy in force; ENOTFOUND if there is none.
func (d *Decisioning) Policy() (*PolicyDef, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.policy == nil || d.policy.version.Deleted || d.policy.def == nil {
		return nil, core.Errorf(core.ENOTFOUND, "", "no contact policy")
	}
	return &PolicyDef{Policy: d.policy.def, Version: d.policy.version.Version, UpdatedAt: stamp(d.policy.version), Source: d.policy.version.Source}, nil
}
