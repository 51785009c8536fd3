package touchpoint

import (
	"reflect"

	"cel.dev/cel-go/common/functions"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/common/types/traits"
	"cel.dev/cel-go/interpreter"
)

// vars is what the conditions of one request see: its variables and the
// implementations of in_journey and in_step, closed over the request. It
// serves every condition evaluated for the request, building the values
// that need building once, when first read.
type vars struct {
	in           *Input
	profile      map[string]any
	context      map[string]any
	interactions counts
	journeys     []any // built when first read
	tier         string
	hasTier      bool // tier is set (rules, not value tiers)

	inJourney, inStep functions.LateBoundOp
}

var _ interpreter.FunctionActivation = (*vars)(nil)

var empty = map[string]any{}

func newVars(in *Input) *vars {
	v := &vars{in: in, profile: in.Profile, context: in.Context, interactions: counts{m: in.Interactions}}
	if v.profile == nil {
		v.profile = empty
	}
	if v.context == nil {
		v.context = empty
	}
	v.inJourney, v.inStep = v.callInJourney, v.callInStep
	return v
}

// ResolveName implements interpreter.Activation.
func (v *vars) ResolveName(name string) (any, bool) {
	switch name {
	case "profile":
		return v.profile, true
	case "touchpoint":
		return v.in.Touchpoint, true
	case "context":
		return v.context, true
	case "interactions":
		return &v.interactions, true
	case "journeys":
		if v.journeys == nil {
			v.journeys = make([]any, len(v.in.Journeys))
			for i, j := range v.in.Journeys {
				v.journeys[i] = map[string]any{"id": j.ID, "step": j.Step, "category": j.Category, "entered_at": j.EnteredAt}
			}
		}
		return v.journeys, true
	case "now":
		return v.in.Now, true
	case "tier":
		return v.tier, v.hasTier
	}
	return nil, false
}

// Parent implements interpreter.Activation: there is none.
func (v *vars) Parent() interpreter.Activation { return nil }

// ResolveFunction implements interpreter.FunctionActivation.
func (v *vars) ResolveFunction(name string) (functions.LateBoundOp, bool) {
	switch name {
	case inJourney:
		return v.inJourney, true
	case inStep:
		return v.inStep, true
	}
	return nil, false
}

func (v *vars) callInJourney(_ string, args ...ref.Val) ref.Val {
	id, ok := args[0].(types.String)
	if !ok {
		return types.NewErr("in_journey: want a string, got %s", args[0].Type())
	}
	for _, j := range v.in.Journeys {
		if j.ID == string(id) {
			return types.True
		}
	}
	return types.False
}

func (v *vars) callInStep(_ string, args ...ref.Val) ref.Val {
	id, ok1 := args[0].(types.String)
	step, ok2 := args[1].(types.String)
	if !ok1 || !ok2 {
		return types.NewErr("in_step: want two strings, got %s and %s", args[0].Type(), args[1].Type())
	}
	for _, j := range v.in.Journeys {
		if j.ID == string(id) && j.Step == string(step) {
			return types.True
		}
	}
	return types.False
}

// counts is `interactions`, a map from channel to count in which every
// channel is present: the counts given, 0 for any other. Iterating,
// size(), equality and conversion see the channels of InteractionChannels
// and those given.
type counts struct {
	m   map[string]int
	all traits.Mapper // built when first needed
}

var _ traits.Mapper = (*counts)(nil)

// full returns the map of InteractionChannels and the channels given.
func (c *counts) full() traits.Mapper {
	if c.all == nil {
		m := make(map[string]any, len(InteractionChannels)+len(c.m))
		for _, ch := range InteractionChannels {
			m[ch] = int64(0)
		}
		for ch, n := range c.m {
			m[ch] = int64(n)
		}
		c.all = types.NewStringInterfaceMap(types.DefaultTypeAdapter, m)
	}
	return c.all
}

// Find implements traits.Mapper: every string key is present.
func (c *counts) Find(key ref.Val) (ref.Val, bool) {
	k, ok := key.(types.String)
	if !ok {
		return types.ValOrErr(key, "no such key: %v", key), false
	}
	return types.Int(c.m[string(k)]), true
}

// Get implements traits.Indexer.
func (c *counts) Get(key ref.Val) ref.Val {
	v, _ := c.Find(key)
	return v
}

// Contains implements traits.Container: every channel name is in it.
func (c *counts) Contains(key ref.Val) ref.Val {
	if _, ok := key.(types.String); !ok {
		return types.ValOrErr(key, "no such overload")
	}
	return types.True
}

// Iterator implements traits.Iterable.
func (c *counts) Iterator() traits.Iterator { return c.full().Iterator() }

// Size implements traits.Sizer.
func (c *counts) Size() ref.Val { return c.full().Size() }

// ConvertToNative implements ref.Val.
func (c *counts) ConvertToNative(t reflect.Type) (any, error) { return c.full().ConvertToNative(t) }

// ConvertToType implements ref.Val.
func (c *counts) ConvertToType(t ref.Type) ref.Val { return c.full().ConvertToType(t) }

// Equal implements ref.Val.
func (c *counts) Equal(o ref.Val) ref.Val { return c.full().Equal(o) }

// Type implements ref.Val.
func (c *counts) Type() ref.Type { return types.MapType }

// Value implements ref.Val.
func (c *counts) Value() any { return c.full().Value() }
