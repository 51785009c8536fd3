package computed

import (
	"encoding/json"
	"fmt"
	"hash/fnv"
	"math"
	"reflect"
	"time"

	"cel.dev/cel-go/cel"
	celast "cel.dev/cel-go/common/ast"
	"cel.dev/cel-go/common/types"

	gojson "github.com/goccy/go-json"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/overture-cjo/overture/internal/core"
)

// fieldSet is a set of the decoded JSON fields of an event a trait reads.
type fieldSet uint8

const (
	needProperties fieldSet = 1 << iota
	needTraits
	needContext
	needAll = needProperties | needTraits | needContext
)

func fieldOf(name string) fieldSet {
	switch name {
	case "properties":
		return needProperties
	case "traits":
		return needTraits
	case "context":
		return needContext
	}
	return 0
}

// readsFields returns the JSON fields of `event` a filter reads: those of
// each event.FIELD, or all of them if it uses `event` any other way.
func readsFields(a *cel.Ast) fieldSet {
	var idents, selects int
	var need fieldSet
	celast.PreOrderVisit(a.NativeRep().Expr(), celast.NewExprVisitor(func(e celast.Expr) {
		switch e.Kind() {
		case celast.IdentKind:
			if e.AsIdent() == "event" {
				idents++
			}
		case celast.SelectKind:
			s := e.AsSelect()
			if op := s.Operand(); op.Kind() == celast.IdentKind && op.AsIdent() == "event" {
				selects++
				need |= fieldOf(s.FieldName())
			}
		}
	}))
	if idents != selects {
		return needAll
	}
	return need
}

// Apply adds event e, for the profile whose state is st, to every trait
// it matches, as seen at time now; it also drops expired buckets (see
// Compact). An event matches a trait when its label (track name, or
// type) equals the trait's event, if given, and the filter, if given, is
// true (a filter that fails to evaluate does not match), and the property,
// if given, is present and not null (and a number, for sum, min and max).
func (s *Set) Apply(st *State, e *core.Event, now time.Time) {
	s.apply(st, e, now, nil, true)
	s.Compact(st, now)
}

// Update is Apply for a state kept by the engine: it adds e only to the
// traits whose window st already holds (Init, Backfill), so that a trait
// still waiting for its backfill is not marked as built by one live event.
func (s *Set) Update(st *State, e *core.Event, now time.Time) {
	s.apply(st, e, now, func(t *Trait) bool {
		w := st.Traits[t.Name]
		return w != nil && w.Def == t.def
	}, false)
	s.Compact(st, now)
}

// Init gives st an empty window for every trait it lacks: the state of a
// new profile, which has no past events to backfill.
func (s *Set) Init(st *State) {
	for _, t := range s.windowed() {
		if w := st.Traits[t.Name]; w == nil || w.Def != t.def {
			if st.Traits == nil {
				st.Traits = map[string]*core.Window{}
			}
			st.Traits[t.Name] = &core.Window{Def: t.def}
		}
	}
}

// Missing returns the traits st holds no window for (or a window built for
// another definition): those a profile with past events must backfill.
// A state found complete is marked (State.Complete), so asking again is
// cheap until a window is removed (which must clear the mark).
func (s *Set) Missing(st *State) []*Trait {
	if st != nil && st.Complete == s.id() {
		return nil
	}
	out := s.missing(st)
	if out == nil && st != nil {
		st.Complete = s.id()
	}
	return out
}

// id identifies the set's windowed traits (their names and definitions),
// never 0.
func (s *Set) id() uint64 {
	s.idOnce.Do(func() {
		h := fnv.New64a()
		for _, t := range s.windowed() {
			fmt.Fprintf(h, "%s\x00%d\x00", t.Name, t.def)
		}
		s.ident = h.Sum64() | 1
	})
	return s.ident
}

func (s *Set) missing(st *State) []*Trait {
	var out []*Trait
	for _, t := range s.windowed() {
		if st == nil {
			out = append(out, t)
			continue
		}
		if w := st.Traits[t.Name]; w == nil || w.Def != t.def {
			out = append(out, t)
		}
	}
	return out
}

// Backfill builds the windows of the traits st is missing from a
// profile's past events (its timeline, any order) as seen at now. It
// returns the traits built.
func (s *Set) Backfill(st *State, events []*core.Event, now time.Time) []*Trait {
	missing := s.Missing(st)
	if len(missing) == 0 {
		return nil
	}
	want := make(map[*Trait]bool, len(missing))
	for _, t := range missing {
		want[t] = true
		if st.Traits == nil {
			st.Traits = map[string]*core.Window{}
		}
		st.Traits[t.Name] = &core.Window{Def: t.def}
	}
	for _, e := range events {
		s.apply(st, e, now, func(t *Trait) bool { return want[t] }, false)
	}
	s.Compact(st, now)
	return missing
}

// Since is the earliest event time any trait of the set can still count
// at now: a backfill needs no older events.
func (s *Set) Since(now time.Time) time.Time {
	since := now
	for _, t := range s.windowed() {
		lo, _ := t.bounds(now)
		if at := time.Unix(lo*t.width, 0); at.Before(since) {
			since = at
		}
	}
	return since
}

// apply adds e to the traits only accepts (nil: all), creating a missing
// window when create is set.
func (s *Set) apply(st *State, e *core.Event, now time.Time, only func(*Trait) bool, create bool) {
	var ev map[string]any
	var decoded fieldSet
	label := e.Label()
	for _, t := range s.windowed() {
		if t.Event != "" && t.Event != label || only != nil && !only(t) {
			continue
		}
		k := t.bucketOf(e.Timestamp)
		lo, hi := t.bounds(now)
		if k < lo || k > hi+t.span {
			continue
		}
		if missing := t.needs &^ decoded; (t.program != nil || t.path != nil) && (missing != 0 || ev == nil) {
			ev = eventMap(ev, e, missing)
			decoded |= missing
		}
		if t.program != nil {
			out, _, err := t.program.Eval(map[string]any{"event": ev})
			if err != nil || out != types.True {
				continue
			}
		}
		var val any
		if t.path != nil {
			var ok bool
			if val, ok = lookup(ev, t.path); !ok || val == nil {
				continue
			}
		}
		var num float64
		if t.Aggregate.numeric() {
			var ok bool
			if num, ok = val.(float64); !ok {
				continue
			}
		}
		var raw []byte
		if t.Aggregate == Last || t.Aggregate == DistinctCount {
			var err error
			if raw, err = json.Marshal(val); err != nil {
				continue
			}
		}
		if st.Traits == nil {
			st.Traits = map[string]*core.Window{}
		}
		w := st.Traits[t.Name]
		if w == nil || w.Def != t.def {
			if !create {
				continue
			}
			w = &core.Window{Def: t.def}
			st.Traits[t.Name] = w
		}
		b := w.Bucket(k)
		at := e.Timestamp.UnixNano()
		first := b.N == 0
		b.N++
		switch t.Aggregate {
		case Sum:
			b.Sum += num
		case Min:
			if first || num < b.Min {
				b.Min = num
			}
		case Max:
			if first || num > b.Max {
				b.Max = num
			}
		case FirstTime:
			if first || at < b.F {
				b.F = at
			}
		case LastTime:
			if first || at > b.L {
				b.L = at
			}
		case Last:
			if n := (core.Bucket{L: at, Q: e.Seq, V: raw}); first || n.LaterThan(b) {
				b.L, b.Q, b.V = at, e.Seq, raw
			}
		case DistinctCount:
			h := fnv.New64a()
			h.Write(raw)
			b.AddHash(h.Sum64())
		}
	}
}

// Compact drops, at time now, the buckets that have left their window and
// the windows of traits the set no longer declares (or declares
// differently). An empty window is kept: it records that the trait is
// built for this profile (see Init and Backfill). State does not grow beyond the bounds in the
// package documentation as long as Apply or Compact runs.
func (s *Set) Compact(st *State, now time.Time) {
	for name, w := range st.Traits {
		t := s.byName[name]
		if t == nil || t.def != w.Def {
			delete(st.Traits, name)
			continue
		}
		lo, _ := t.bounds(now)
		w.Expire(lo)
	}
}

// Values returns every trait's value at time now, by name: float64 for
// count, sum, min, max and distinct_count; the property's JSON value
// (string, float64, bool, []any, map[string]any) for last; an RFC 3339
// string for first_time and last_time. Over an empty window count, sum
// and distinct_count are 0 and the others nil. Values does not change st.
func (s *Set) Values(st *State, now time.Time) map[string]any {
	out := make(map[string]any, len(s.Traits))
	for _, t := range s.Traits {
		if t.Aggregate == Expression {
			out[t.Name] = t.eval(out)
			continue
		}
		out[t.Name] = s.Value(st, t.Name, now)
	}
	return out
}

// eval evaluates an expression trait over the values before it; nil if
// it fails (a division by zero, a missing value).
func (t *Trait) eval(values map[string]any) any {
	v, _, err := t.program.Eval(map[string]any{"computed": values})
	if err != nil {
		return nil
	}
	if f, ok := v.Value().(float64); ok && (math.IsInf(f, 0) || math.IsNaN(f)) {
		return nil
	}
	out, err := v.ConvertToNative(jsonValue)
	if err != nil {
		return nil
	}
	return out.(*structpb.Value).AsInterface()
}

var jsonValue = reflect.TypeOf(&structpb.Value{})

// windowed returns the traits that keep a window (not expressions).
func (s *Set) windowed() []*Trait {
	s.once.Do(func() {
		for _, t := range s.Traits {
			if t.Aggregate != Expression {
				s.plain = append(s.plain, t)
			}
		}
	})
	return s.plain
}

// Value returns one trait's value at time now, as Values does; nil for a
// name the set does not declare.
func (s *Set) Value(st *State, name string, now time.Time) any {
	t := s.byName[name]
	if t == nil {
		return nil
	}
	if t.Aggregate == Expression {
		return s.Values(st, now)[name]
	}
	w := st.Traits[name]
	if w == nil || w.Def != t.def {
		w = &core.Window{}
	}
	lo, hi := t.bounds(now)
	return t.value(w, lo, hi)
}

// eventMap is the event as filters see `event` (as the journey engine
// shows it): the message's fields, with the JSON fields in need decoded
// (the others are empty objects until needed). ev, if not nil, is a map
// built before, to which the missing fields are added.
func eventMap(ev map[string]any, e *core.Event, need fieldSet) map[string]any {
	if ev == nil {
		ev = core.EventMapWith(e, map[string]any{}, map[string]any{}, map[string]any{})
	}
	if need&needProperties != 0 {
		ev["properties"] = decodeObject(e.Properties)
	}
	if need&needTraits != 0 {
		ev["traits"] = decodeObject(e.Traits)
	}
	if need&needContext != 0 {
		ev["context"] = decodeObject(e.Context)
	}
	return ev
}

// decodeObject decodes a JSON object as core.DecodeObject does, with
// goccy/go-json: every event a trait reads is decoded here, and it is
// about twice as fast as encoding/json.
func decodeObject(raw json.RawMessage) map[string]any {
	m := map[string]any{}
	if len(raw) > 0 {
		_ = gojson.Unmarshal(raw, &m)
	}
	return m
}

// lookup follows a dotted path through nested objects.
func lookup(v any, path []string) (any, bool) {
	for _, p := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return nil, false
		}
		if v, ok = m[p]; !ok {
			return nil, false
		}
	}
	return v, true
}
