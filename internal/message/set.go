package message

import (
	"fmt"
	"slices"
	"strings"
)

// Set is an immutable set of compiled templates by id, safe for
// concurrent use.
type Set struct {
	byID map[string]*Template
	list []*Template // by id
}

// NewSet returns the set of templates, which must come from Parse or
// Load and have distinct ids.
func NewSet(templates []*Template) (*Set, error) {
	s := &Set{byID: make(map[string]*Template, len(templates))}
	for _, t := range templates {
		if t == nil || !t.compiled {
			return nil, fmt.Errorf("message: NewSet needs templates made by Parse")
		}
		if _, dup := s.byID[t.ID]; dup {
			return nil, fmt.Errorf("message: duplicate template id %q", t.ID)
		}
		s.byID[t.ID] = t
		s.list = append(s.list, t)
	}
	slices.SortFunc(s.list, func(a, b *Template) int { return strings.Compare(a.ID, b.ID) })
	return s, nil
}

// Get returns the template with the id, or nil.
func (s *Set) Get(id string) *Template { return s.byID[id] }

// Channels returns the channels template id has content for, or nil if
// there is no such template.
func (s *Set) Channels(id string) []string {
	if t := s.byID[id]; t != nil {
		return t.Channels()
	}
	return nil
}

// List returns the templates sorted by id. The caller must not change
// the slice.
func (s *Set) List() []*Template { return s.list }
