package message

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/osteele/liquid/expressions"
	"github.com/osteele/liquid/values"
)

// strictMap is a map whose missing keys are an error, so that Check
// finds `profile.traits.nme` as surely as Parse finds `profil`. It is a
// Liquid value: the engine calls PropertyValue for `m.key` and IndexValue
// for `m["key"]`. Maps and lists inside it are made strict as they are
// reached. Interface returns the map itself, so filters and output see
// plain data (a value that goes through a filter or an assign is no
// longer strict).
type strictMap struct {
	m    map[string]any
	path string // how the template names it: profile.traits
}

var _ values.Value = (*strictMap)(nil)

// strict makes maps (and the maps in lists) in v strict; path names v.
func strict(v any, path string) any {
	switch v := v.(type) {
	case map[string]any:
		return &strictMap{m: v, path: path}
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = strict(e, fmt.Sprintf("%s[%d]", path, i))
		}
		return out
	}
	return v
}

var plainKey = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_-]*\??$`)

// keyPath is the path of key in m, as a template would write it.
func (s *strictMap) keyPath(key string) string {
	if plainKey.MatchString(key) {
		return s.path + "." + key
	}
	return fmt.Sprintf("%s[%q]", s.path, key)
}

func (s *strictMap) get(k values.Value) values.Value {
	key, ok := k.Interface().(string)
	if !ok {
		return values.ValueOf(s.m).IndexValue(k)
	}
	if v, ok := s.m[key]; ok {
		return values.ValueOf(strict(v, s.keyPath(key)))
	}
	if key == "size" {
		return values.ValueOf(len(s.m))
	}
	panic(expressions.InterpreterError(s.undefined(key)))
}

// undefined is the message for key, which m does not have.
func (s *strictMap) undefined(key string) string {
	keys := make([]string, 0, len(s.m))
	for k := range s.m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	msg := "undefined variable " + s.keyPath(key)
	if best := closest(key, keys); best != "" {
		return msg + fmt.Sprintf(" (did you mean %s?)", s.keyPath(best))
	}
	switch {
	case len(keys) == 0:
		return msg + fmt.Sprintf(" (%s is empty)", s.path)
	case len(keys) > 12:
		keys = append(keys[:12], "...")
	}
	return msg + fmt.Sprintf(" (%s has %s)", s.path, strings.Join(keys, ", "))
}

// Interface implements values.Value: the map itself.
func (s *strictMap) Interface() any { return s.m }

// Int implements values.Value.
func (s *strictMap) Int() int { return values.ValueOf(s.m).Int() }

// Equal implements values.Value.
func (s *strictMap) Equal(o values.Value) bool { return values.ValueOf(s.m).Equal(o) }

// Less implements values.Value.
func (s *strictMap) Less(o values.Value) bool { return values.ValueOf(s.m).Less(o) }

// Contains implements values.Value: whether the map has the key.
func (s *strictMap) Contains(o values.Value) bool { return values.ValueOf(s.m).Contains(o) }

// IndexValue implements values.Value: m["key"].
func (s *strictMap) IndexValue(k values.Value) values.Value { return s.get(k) }

// PropertyValue implements values.Value: m.key.
func (s *strictMap) PropertyValue(k values.Value) values.Value { return s.get(k) }

// Test implements values.Value: a map is true.
func (s *strictMap) Test() bool { return true }

// MarshalJSON encodes the map, for the json filter on a list of maps.
func (s *strictMap) MarshalJSON() ([]byte, error) { return json.Marshal(s.m) }

// String formats the map, as output of a list of maps does.
func (s *strictMap) String() string { return fmt.Sprint(s.m) }
