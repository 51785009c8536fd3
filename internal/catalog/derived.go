package catalog

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"

	"github.com/overture-cjo/overture/internal/audience"
	"github.com/overture-cjo/overture/internal/computed"
	"github.com/overture-cjo/overture/internal/core"
	"github.com/overture-cjo/overture/internal/journey"
)

// Derived keeps the applied computed traits and audiences: each is stored
// as versions of its own definition; the newest versions of those not
// deleted make the sets the engine runs.
type Derived struct {
	store       core.Store
	clock       core.Clock
	log         *slog.Logger
	onTraits    func(*computed.Set)
	onAudiences func(*audience.Set)

	mu        sync.Mutex
	traits    map[string]*derived[*computed.Trait]
	audiences map[string]*derived[*audience.Audience]
}

// derived is one stored definition, its newest version parsed.
type derived[T any] struct {
	version *core.DefinitionVersion
	def     T    // zero if the stored source no longer parses
	ok      bool // def parsed (collections; traits and audiences test def != nil)
}

// OpenDerived loads the stored traits and audiences and calls onTraits and
// onAudiences with their sets (and again after each change).
func OpenDerived(ctx context.Context, store core.Store, clock core.Clock, log *slog.Logger,
	onTraits func(*computed.Set), onAudiences func(*audience.Set)) (*Derived, error) {
	d := &Derived{store: store, clock: clock, log: log, onTraits: onTraits, onAudiences: onAudiences,
		traits: map[string]*derived[*computed.Trait]{}, audiences: map[string]*derived[*audience.Audience]{}}
	vs, err := store.Definitions(ctx, core.KindTrait)
	if err != nil {
		return nil, err
	}
	for _, v := range vs {
		t, err := computed.ParseTrait(fmt.Sprintf("trait %s@%d", v.ID, v.Version), []byte(v.Source))
		if err != nil {
			log.Error("stored computed trait does not parse", "trait", v.ID, "version", v.Version, "err", err)
		}
		d.traits[v.ID] = &derived[*computed.Trait]{version: v, def: t}
	}
	if vs, err = store.Definitions(ctx, core.KindAudience); err != nil {
		return nil, err
	}
	for _, v := range vs {
		a, err := audience.Parse(fmt.Sprintf("audience %s@%d", v.ID, v.Version), []byte(v.Source))
		if err != nil {
			log.Error("stored audience does not parse", "audience", v.ID, "version", v.Version, "err", err)
		} else {
			a.Version = v.Version
		}
		d.audiences[v.ID] = &derived[*audience.Audience]{version: v, def: a}
	}
	if err := d.publishTraits(); err != nil {
		return nil, err
	}
	if err := d.publishAudiences(); err != nil {
		return nil, err
	}
	return d, nil
}

func (d *Derived) publishTraits() error {
	var list []*computed.Trait
	for _, t := range sorted(d.traits) {
		if !t.version.Deleted && t.def != nil {
			list = append(list, t.def)
		}
	}
	set, err := computed.NewSet(list)
	if err != nil {
		return err
	}
	d.onTraits(set)
	return nil
}

func (d *Derived) publishAudiences() error {
	var list []*audience.Audience
	for _, a := range sorted(d.audiences) {
		if !a.version.Deleted && a.def != nil {
			list = append(list, a.def)
		}
	}
	set, err := audience.NewSet(list)
	if err != nil {
		return err
	}
	d.onAudiences(set)
	return nil
}

func sorted[T any](m map[string]*derived[T]) []*derived[T] {
	out := make([]*derived[T], 0, len(m))
	for _, v := range m {
		out = append(out, v)
	}
	sort.Slice(out, func(a, b int) bool { return out[a].version.ID < out[b].version.ID })
	return out
}

// invalid turns a loader's ErrorList into an EINVALID error naming the
// first field.
func invalid(err error) error {
	var l journey.ErrorList
	if errors.As(err, &l) && len(l) > 0 {
		return core.Errorf(core.EINVALID, l[0].Path, "%s", l.Error())
	}
	return core.Errorf(core.EINVALID, "", "%v", err)
}

// ApplyTrait validates one computed trait (ParseTrait's form) and stores
// it as a new version unless it equals the newest. name, if not empty, must
// be the trait's name. A new or changed trait is backfilled by the engine.
func (d *Derived) ApplyTrait(ctx context.Context, name, file string, source []byte) (Applied, error) {
	t, err := computed.ParseTrait(file, source)
	if err != nil {
		return Applied{}, invalid(err)
	}
	if name != "" && t.Name != name {
		return Applied{}, core.Errorf(core.EINVALID, "name", "the trait's name is %q, not %q", t.Name, name)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	v, created, err := d.store.SaveDefinition(ctx, core.KindTrait, t.Name, string(source), d.clock.Now())
	if err != nil {
		return Applied{}, err
	}
	if created {
		d.traits[t.Name] = &derived[*computed.Trait]{version: v, def: t}
		if err := d.publishTraits(); err != nil {
			return Applied{}, err
		}
	}
	return Applied{ID: t.Name, Version: v.Version, Created: created}, nil
}

// DeleteTrait stops maintaining a trait; its windows are dropped from
// profiles as they are next touched.
func (d *Derived) DeleteTrait(ctx context.Context, name string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	t := d.traits[name]
	if t == nil || t.version.Deleted {
		return core.Errorf(core.ENOTFOUND, "name", "no computed trait %q", name)
	}
	if err := d.store.DeleteDefinition(ctx, core.KindTrait, name, d.clock.Now()); err != nil {
		return err
	}
	v := *t.version
	v.Deleted = true
	t.version = &v
	return d.publishTraits()
}

// ApplyAudience validates an audience definition and stores it as a new
// version unless it equals the newest; id, if not empty, must be its id.
func (d *Derived) ApplyAudience(ctx context.Context, id, file string, source []byte) (Applied, error) {
	a, err := audience.Parse(file, source)
	if err != nil {
		return Applied{}, invalid(err)
	}
	if id != "" && a.ID != id {
		return Applied{}, core.Errorf(core.EINVALID, "id", "the audience's id is %q, not %q", a.ID, id)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	v, created, err := d.store.SaveDefinition(ctx, core.KindAudience, a.ID, string(source), d.clock.Now())
	if err != nil {
		return Applied{}, err
	}
	if created {
		a.Version = v.Version
		d.audiences[a.ID] = &derived[*audience.Audience]{version: v, def: a}
		if err := d.publishAudiences(); err != nil {
			return Applied{}, err
		}
	}
	return Applied{ID: a.ID, Version: v.Version, Created: created}, nil
}

// DeleteAudience deletes an audience; its members leave it (without
// events) as they are next touched or at the next refresh of another.
func (d *Derived) DeleteAudience(ctx context.Context, id string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	a := d.audiences[id]
	if a == nil || a.version.Deleted {
		return core.Errorf(core.ENOTFOUND, "id", "no audience %q", id)
	}
	if err := d.store.DeleteDefinition(ctx, core.KindAudience, id, d.clock.Now()); err != nil {
		return err
	}
	v := *a.version
	v.Deleted = true
	a.version = &v
	return d.publishAudiences()
}

// TraitSummary describes a computed trait for the API.
type TraitSummary struct {
	Name        string `json:"name"`
	Aggregate   string `json:"aggregate"`
	Event       string `json:"event,omitempty"`
	Filter      string `json:"filter,omitempty"`
	Property    string `json:"property,omitempty"`
	Window      string `json:"window"`
	BucketWidth string `json:"bucketWidth"`
	Version     int    `json:"version"`
	UpdatedAt   string `json:"updatedAt"`
	Source      string `json:"source"`
}

// Traits lists the computed traits (not deleted), by name.
func (d *Derived) Traits() []*TraitSummary {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []*TraitSummary
	for _, t := range sorted(d.traits) {
		if t.version.Deleted || t.def == nil {
			continue
		}
		out = append(out, &TraitSummary{Name: t.def.Name, Aggregate: string(t.def.Aggregate), Event: t.def.Event, Filter: t.def.Filter,
			Property: t.def.Property, Window: journey.FormatDuration(t.def.Window), BucketWidth: journey.FormatDuration(t.def.BucketWidth()),
			Version: t.version.Version, UpdatedAt: stamp(t.version), Source: t.version.Source})
	}
	return out
}

// AudienceDef is an audience's newest version and its parsed definition.
type AudienceDef struct {
	Audience  *audience.Audience
	Version   int
	UpdatedAt string
	Source    string
}

// Audiences lists the audiences (not deleted), by id.
func (d *Derived) Audiences() []*AudienceDef {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []*AudienceDef
	for _, a := range sorted(d.audiences) {
		if a.version.Deleted || a.def == nil {
			continue
		}
		out = append(out, &AudienceDef{Audience: a.def, Version: a.version.Version, UpdatedAt: stamp(a.version), Source: a.version.Source})
	}
	return out
}

// Audience returns one audience; ENOTFOUND if there is none.
func (d *Derived) Audience(id string) (*AudienceDef, error) {
	for _, a := range d.Audiences() {
		if a.Audience.ID == id {
			return a, nil
		}
	}
	return nil, core.Errorf(core.ENOTFOUND, "id", "no audience %q", id)
}

func stamp(v *core.DefinitionVersion) string {
	return v.CreatedAt.UTC().Format("2006-01-02T15:04:05.999999999Z07:00")
}
