package machine

import (
	"encoding/json"
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
			s.evMap = eventMap(s.ev)
		}
		return s.evMap, true
	case "profile":
		if s.prMap == nil {
			s.prMap = profileMap(s.pr)
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

// eventMap is an event as `event`: the Segment message's fields, with
// properties, traits and context decoded.
func eventMap(e *core.Event) map[string]any {
	if e == nil {
		return map[string]any{}
	}
	m := map[string]any{
		"type":        e.Type,
		"event":       e.Event,
		"name":        e.Name,
		"messageId":   e.MessageID,
		"userId":      e.UserID,
		"anonymousId": e.AnonymousID,
		"timestamp":   e.Timestamp,
		"properties":  decodeObject(e.Properties),
		"traits":      decodeObject(e.Traits),
		"context":     decodeObject(e.Context),
	}
	return m
}

// profileMap is a profile as `profile`.
func profileMap(p *core.Profile) map[string]any {
	if p == nil {
		return map[string]any{}
	}
	traits := make(map[string]any, len(p.Traits))
	for k, t := range p.Traits {
		var v any
		if json.Unmarshal(t.Value, &v) == nil {
			traits[k] = v
		}
	}
	counts := make(map[string]any, len(p.Counts))
	for k, n := range p.Counts {
		counts[k] = n
	}
	consent := make(map[string]any, len(p.Consent))
	for ch, c := range p.Consent {
		consent[ch] = map[string]any{"granted": c.Granted, "at": c.At}
	}
	return map[string]any{
		"id":        p.ID,
		"traits":    traits,
		"counts":    counts,
		"consent":   consent,
		"timezone":  p.TimezoneName(),
		"firstSeen": p.FirstSeen,
		"lastSeen":  p.LastSeen,
		"events":    p.Events,
	}
}

func decodeObject(raw json.RawMessage) map[string]any {
	m := map[string]any{}
	if len(raw) > 0 {
		_ = json.Unmarshal(raw, &m)
	}
	return m
}
