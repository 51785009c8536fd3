package machine

import (
	"fmt"
	"reflect"
	"time"

	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/interpreter"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/overture-cjo/overture/internal/core"
	"github.com/overture-cjo/overture/internal/journey"
)

// scope is what a CEL expression sees: event, profile, journey, now and,
// for a webhook's capture, response. event and profile are built from their
// sources the first time an expression asks for them.
type scope struct {
	ev       *core.Event
	evMap    map[string]any
	pr       *core.Profile
	prMap    map[string]any
	computed func() map[string]any // profile.computed's values; nil: none
	vars     map[string]any
	now      time.Time
	response map[string]any
	depth    int // enter_journey nesting: 0 for an instance started by a trigger
}

var _ interpreter.Activation = (*scope)(nil)

// ResolveName implements interpreter.Activation.
func (s *scope) ResolveName(name string) (any, bool) {
	switch name {
	case "event":
		if s.evMap == nil {
			s.evMap = core.EventMap(s.ev)
		}
		return s.evMap, true
	case "profile":
		if s.prMap == nil {
			s.prMap = s.profileMap()
		}
		return s.prMap, true
	case "journey":
		if s.vars == nil {
			return map[string]any{}, true
		}
		return s.vars, true
	case "now":
		return s.now, true
	case "response":
		if s.response == nil {
			return map[string]any{}, true
		}
		return s.response, true
	}
	return nil, false
}

// Parent implements interpreter.Activation.
func (s *scope) Parent() interpreter.Activation { return nil }

// profileMap is the profile as `profile`, with its computed traits.
func (s *scope) profileMap() map[string]any {
	m := core.ProfileMap(s.pr)
	if s.computed != nil {
		m["computed"] = s.computed()
	} else {
		m["computed"] = map[string]any{}
	}
	return m
}

// profileChanged drops the cached profile map after an update.
func (s *scope) profileChanged() { s.prMap = nil }

// test evaluates a condition; an error counts as false and is returned.
func (s *scope) test(e *journey.Expr) (bool, error) {
	if e == nil {
		return true, nil
	}
	v, err := s.eval(e)
	if err != nil {
		return false, err
	}
	b, ok := v.(types.Bool)
	if !ok {
		return false, fmt.Errorf("%s: condition gave %s, not a bool", e.Path, v.Type().TypeName())
	}
	return bool(b), nil
}

func (s *scope) eval(e *journey.Expr) (ref.Val, error) {
	prg := e.Program()
	if prg == nil {
		return nil, fmt.Errorf("%s: expression did not compile", e.Path)
	}
	v, _, err := prg.Eval(s)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", e.Path, err)
	}
	return v, nil
}

var jsonValue = reflect.TypeOf(&structpb.Value{})

// value evaluates an expression to a JSON value (float64, string, bool, nil,
// []any, map[string]any; timestamps become RFC 3339 strings).
func (s *scope) value(e *journey.Expr) (any, error) {
	v, err := s.eval(e)
	if err != nil {
		return nil, err
	}
	return toJSON(v)
}

func toJSON(v ref.Val) (any, error) {
	if t, ok := v.(types.Timestamp); ok {
		return t.Time.UTC().Format(time.RFC3339Nano), nil
	}
	n, err := v.ConvertToNative(jsonValue)
	if err != nil {
		return nil, err
	}
	return n.(*structpb.Value).AsInterface(), nil
}
