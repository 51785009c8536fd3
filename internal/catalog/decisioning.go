package catalog

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/overture-cjo/overture/internal/core"
	"github.com/overture-cjo/overture/internal/decide"
	"github.com/overture-cjo/overture/internal/message"
	"github.com/overture-cjo/overture/internal/policy"
	"github.com/overture-cjo/overture/internal/touchpoint"
)

// Decisioning keeps what decides for a customer besides the journeys: the
// contact policy, the offers and the interaction policies. Each is stored
// as versions of a definition; the newest versions not deleted are in
// force (handed to the engine, and read by the touchpoint API).
type Decisioning struct {
	store core.Store
	clock core.Clock
	log   *slog.Logger
	hooks DecisionHooks

	mu           sync.Mutex
	policy       *derived[*policy.Policy] // nil if none was ever applied
	offers       collection[*decide.Offer]
	interactions collection[*touchpoint.Policy]
	templates    collection[*message.Template]

	policyNow      atomic.Pointer[policy.Policy]  // the contact policy in force; nil: none
	offerSet       atomic.Pointer[decide.Set]     // the offers in force
	interactionSet atomic.Pointer[touchpoint.Set] // the interaction policies in force
	templateSet    atomic.Pointer[message.Set]    // the message templates in force
}

// DecisionHooks receive the definitions in force, at open and after each
// change; any may be nil.
type DecisionHooks struct {
	Policy func(*policy.Policy) // nil: no contact policy
	Offers func(*decide.Set)    // never nil
	// Templates receives the message templates in force.
	Templates func(*message.Set)
}

// OpenDecisioning loads the stored definitions and calls the hooks.
func OpenDecisioning(ctx context.Context, store core.Store, clock core.Clock, log *slog.Logger, hooks DecisionHooks) (*Decisioning, error) {
	d := &Decisioning{store: store, clock: clock, log: log, hooks: hooks}
	d.offers = collection[*decide.Offer]{kind: core.KindOffer, noun: "offer",
		parse: func(file string, src []byte) (*decide.Offer, string, error) {
			o, err := decide.Parse(file, src)
			if err != nil {
				return nil, "", err
			}
			return o, o.ID, nil
		},
		publish: func(list []*decide.Offer) error {
			set, err := decide.NewSet(list)
			if err != nil {
				return err
			}
			d.offerSet.Store(set)
			if d.hooks.Offers != nil {
				d.hooks.Offers(set)
			}
			return nil
		}}
	d.interactions = collection[*touchpoint.Policy]{kind: core.KindInteraction, noun: "interaction policy",
		parse: func(file string, src []byte) (*touchpoint.Policy, string, error) {
			p, err := touchpoint.Parse(file, src)
			if err != nil {
				return nil, "", err
			}
			return p, p.ID, nil
		},
		publish: func(list []*touchpoint.Policy) error {
			set, err := touchpoint.NewSet(list)
			if err != nil {
				return err
			}
			d.interactionSet.Store(set)
			return nil
		}}
	d.templates = collection[*message.Template]{kind: core.KindTemplate, noun: "template",
		parse: func(file string, src []byte) (*message.Template, string, error) {
			t, err := message.Parse(file, src)
			if err != nil {
				return nil, "", err
			}
			// Rendered with sample data, strictly: a typo fails here.
			if err := t.Check(message.SampleVars()); err != nil {
				return nil, "", err
			}
			return t, t.ID, nil
		},
		publish: func(list []*message.Template) error {
			set, err := message.NewSet(list)
			if err != nil {
				return err
			}
			d.templateSet.Store(set)
			if d.hooks.Templates != nil {
				d.hooks.Templates(set)
			}
			return nil
		}}
	for _, c := range []interface {
		load(context.Context, core.Store, *slog.Logger) error
		publishAll() error
	}{&d.offers, &d.interactions, &d.templates} {
		if err := c.load(ctx, store, log); err != nil {
			return nil, err
		}
		if err := c.publishAll(); err != nil {
			// Stored definitions that conflict (they were accepted one by
			// one): run without them rather than not at all.
			log.Error("stored definitions do not make a set", "err", err)
		}
	}
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
	var p *policy.Policy
	if d.policy != nil && !d.policy.version.Deleted {
		p = d.policy.def
	}
	d.policyNow.Store(p)
	if d.hooks.Policy != nil {
		d.hooks.Policy(p)
	}
}

// CurrentPolicy returns the contact policy in force, or nil (lock-free,
// for the request path).
func (d *Decisioning) CurrentPolicy() *policy.Policy { return d.policyNow.Load() }

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

// ApplyOffer validates an offer and stores it as a new version unless it
// equals the newest; id, if not empty, must be its id.
func (d *Decisioning) ApplyOffer(ctx context.Context, id, file string, source []byte) (Applied, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.offers.apply(ctx, d.store, d.clock, id, file, source)
}

// DeleteOffer deletes an offer: it is no longer ranked.
func (d *Decisioning) DeleteOffer(ctx context.Context, id string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.offers.remove(ctx, d.store, d.clock, id)
}

// Offers lists the offers in force with their versions, by id.
func (d *Decisioning) Offers() []*Stored[*decide.Offer] {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.offers.list()
}

// OfferSet returns the offers in force (never nil once opened).
func (d *Decisioning) OfferSet() *decide.Set { return d.offerSet.Load() }

// ApplyInteraction validates an interaction policy and stores it as a new
// version unless it equals the newest; id, if not empty, must be its id.
// One that conflicts with the others (a rule id used twice, a second
// value_tiers) is refused.
func (d *Decisioning) ApplyInteraction(ctx context.Context, id, file string, source []byte) (Applied, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.interactions.apply(ctx, d.store, d.clock, id, file, source)
}

// DeleteInteraction deletes an interaction policy.
func (d *Decisioning) DeleteInteraction(ctx context.Context, id string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.interactions.remove(ctx, d.store, d.clock, id)
}

// Interactions lists the interaction policies in force, by id.
func (d *Decisioning) Interactions() []*Stored[*touchpoint.Policy] {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.interactions.list()
}

// InteractionSet returns the interaction policies in force (never nil
// once opened).
func (d *Decisioning) InteractionSet() *touchpoint.Set { return d.interactionSet.Load() }

// ApplyTemplate validates a message template, renders every channel with
// sample data in strict mode, and stores it as a new version unless it
// equals the newest; id, if not empty, must be its id.
func (d *Decisioning) ApplyTemplate(ctx context.Context, id, file string, source []byte) (Applied, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.templates.apply(ctx, d.store, d.clock, id, file, source)
}

// DeleteTemplate deletes a message template.
func (d *Decisioning) DeleteTemplate(ctx context.Context, id string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.templates.remove(ctx, d.store, d.clock, id)
}

// Templates lists the message templates in force, by id.
func (d *Decisioning) Templates() []*Stored[*message.Template] {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.templates.list()
}

// TemplateSet returns the message templates in force (never nil once
// opened).
func (d *Decisioning) TemplateSet() *message.Set { return d.templateSet.Load() }
