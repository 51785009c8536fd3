package catalog

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/overture-cjo/overture/internal/core"
)

// collection is one kind of definition kept as versions in the store
// (offers, interaction policies): the newest version of each not deleted
// is parsed and published as a whole.
type collection[T any] struct {
	kind    string                                           // core.Kind*
	noun    string                                           // for messages: "offer"
	parse   func(file string, src []byte) (T, string, error) // the definition and its id
	publish func(defs []T) error                             // nil: nothing to tell
	items   map[string]*derived[T]
}

// load parses the stored definitions of the kind (those that no longer
// parse are logged and left out).
func (c *collection[T]) load(ctx context.Context, store core.Store, log *slog.Logger) error {
	c.items = map[string]*derived[T]{}
	vs, err := store.Definitions(ctx, c.kind)
	if err != nil {
		return err
	}
	for _, v := range vs {
		def, _, err := c.parse(fmt.Sprintf("%s %s@%d", c.noun, v.ID, v.Version), []byte(v.Source))
		if err != nil {
			log.Error("stored definition does not parse", "kind", c.kind, "id", v.ID, "version", v.Version, "err", err)
		}
		c.items[v.ID] = &derived[T]{version: v, def: def, ok: err == nil}
	}
	return nil
}

// live returns the parsed definitions in force, by id.
func (c *collection[T]) live() []T {
	var out []T
	for _, it := range sorted(c.items) {
		if !it.version.Deleted && it.ok {
			out = append(out, it.def)
		}
	}
	return out
}

func (c *collection[T]) publishAll() error {
	if c.publish == nil {
		return nil
	}
	return c.publish(c.live())
}

// apply validates a definition and stores it as a new version unless it
// equals the newest; id, if not empty, must be the definition's. A set
// that does not accept it (a cross-file conflict) leaves nothing stored.
func (c *collection[T]) apply(ctx context.Context, store core.Store, clock core.Clock, id, file string, src []byte) (Applied, error) {
	def, got, err := c.parse(file, src)
	if err != nil {
		return Applied{}, invalid(err)
	}
	if id != "" && got != id {
		return Applied{}, core.Errorf(core.EINVALID, "id", "the %s's id is %q, not %q", c.noun, got, id)
	}
	if c.publish != nil {
		// Try the set with the new definition first, so a conflict with
		// another definition is refused before anything is stored.
		old := c.items[got]
		c.items[got] = &derived[T]{version: &core.DefinitionVersion{ID: got}, def: def, ok: true}
		err := c.publish(c.live())
		if old != nil {
			c.items[got] = old
		} else {
			delete(c.items, got)
		}
		if err != nil {
			_ = c.publishAll()
			return Applied{}, invalid(err)
		}
	}
	v, created, err := store.SaveDefinition(ctx, c.kind, got, string(src), clock.Now())
	if err != nil {
		_ = c.publishAll()
		return Applied{}, err
	}
	if created || c.items[got] == nil || !c.items[got].ok {
		c.items[got] = &derived[T]{version: v, def: def, ok: true}
	}
	if err := c.publishAll(); err != nil {
		return Applied{}, err
	}
	return Applied{ID: got, Version: v.Version, Created: created}, nil
}

// remove deletes a definition.
func (c *collection[T]) remove(ctx context.Context, store core.Store, clock core.Clock, id string) error {
	it := c.items[id]
	if it == nil || it.version.Deleted {
		return core.Errorf(core.ENOTFOUND, "id", "no %s %q", c.noun, id)
	}
	if err := store.DeleteDefinition(ctx, c.kind, id, clock.Now()); err != nil {
		return err
	}
	v := *it.version
	v.Deleted = true
	it.version = &v
	return c.publishAll()
}

// Stored is a definition's newest version, for the API.
type Stored[T any] struct {
	Def       T      `json:"-"`
	ID        string `json:"id"`
	Version   int    `json:"version"`
	UpdatedAt string `json:"updatedAt"`
	Source    string `json:"source"`
}

// list returns the definitions in force with their versions, by id.
func (c *collection[T]) list() []*Stored[T] {
	out := []*Stored[T]{}
	for _, it := range sorted(c.items) {
		if !it.version.Deleted && it.ok {
			out = append(out, &Stored[T]{Def: it.def, ID: it.version.ID, Version: it.version.Version, UpdatedAt: stamp(it.version), Source: it.version.Source})
		}
	}
	return out
}
