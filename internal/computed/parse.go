package computed

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"io/fs"
	"os"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/types"
	"gopkg.in/yaml.v3"

	"github.com/overture-cjo/overture/internal/journey"
)

// Aggregate is what a trait computes over the events in its window.
type Aggregate string

// The aggregates a trait may declare.
const (
	Count         Aggregate = "count"          // number of matching events
	Sum           Aggregate = "sum"            // sum of a numeric property
	Min           Aggregate = "min"            // least value of a numeric property
	Max           Aggregate = "max"            // greatest value of a numeric property
	Last          Aggregate = "last"           // the property of the latest event
	FirstTime     Aggregate = "first_time"     // timestamp of the earliest event
	LastTime      Aggregate = "last_time"      // timestamp of the latest event
	DistinctCount Aggregate = "distinct_count" // number of distinct property values
	Expression    Aggregate = "expression"     // a CEL expression over the other traits' values (`computed`)
)

var aggregates = []Aggregate{Count, Sum, Min, Max, Last, FirstTime, LastTime, DistinctCount, Expression}

// needsProperty reports whether the aggregate reads a property.
func (a Aggregate) needsProperty() bool {
	switch a {
	case Sum, Min, Max, Last, DistinctCount:
		return true
	}
	return false
}

// numeric reports whether the aggregate's property must be a number.
func (a Aggregate) numeric() bool { return a == Sum || a == Min || a == Max }

// CostLimit is the most a trait's filter may cost in one evaluation, in
// cel-go's cost units (as journey.CostLimit). A filter over the limit does
// not match.
const CostLimit = 10_000

// Buckets is the number of buckets a window is divided into; see the
// package documentation for the rule.
const Buckets = 64

// eventFields are the top-level fields of `event`, as filters and property
// paths see it.
var eventFields = []string{"type", "event", "name", "messageId", "userId", "anonymousId", "timestamp", "properties", "traits", "context"}

// Pos, Error and ErrorList are the journey loader's: definition files of
// every kind report problems the same way, "FILE:LINE:COL: PATH: MESSAGE".
type (
	Pos       = journey.Pos
	Error     = journey.Error
	ErrorList = journey.ErrorList
)

// Trait is one compiled computed-trait definition.
type Trait struct {
	Name      string
	Aggregate Aggregate
	Event     string        // the event's label (track name, or type), or "" for any
	Filter    string        // CEL source over `event`, or ""
	Property  string        // dotted path into `event`, or ""
	Window    time.Duration // the sliding window
	Expr      string        // the CEL expression of an expression trait, over `computed`
	Pos       Pos           // where the definition starts

	width   int64    // bucket width in seconds
	span    int64    // ceil(Window / width): buckets in a window, plus one at most
	path    []string // Property split at dots
	program cel.Program
	needs   fieldSet // the event's JSON fields the filter and property read
	def     uint32   // fingerprint of the definition, kept in its state
}

// BucketWidth is the trait's bucket width (see the package documentation).
func (t *Trait) BucketWidth() time.Duration { return time.Duration(t.width) * time.Second }

// Set is a compiled set of computed traits, safe for concurrent use.
type Set struct {
	Traits []*Trait // in file order
	byName map[string]*Trait
	once   sync.Once
	plain  []*Trait // the traits with windows (see windowed)
	idOnce sync.Once
	ident  uint64 // see id
}

// Trait returns the named trait, or nil.
func (s *Set) Trait(name string) *Trait { return s.byName[name] }

var namePattern = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

var celEnv = sync.OnceValues(func() (*cel.Env, error) {
	return cel.NewEnv(cel.Variable("event", cel.MapType(cel.StringType, cel.DynType)))
})

// Parse compiles the trait definitions in data, a YAML file called name
// (used in error messages). It returns an ErrorList naming every problem.
func Parse(name string, data []byte) (*Set, error) {
	p := &parser{Reporter: journey.Reporter{File: name}}
	set := p.parse(data)
	if len(p.Errs) > 0 {
		sort.SliceStable(p.Errs, func(i, j int) bool {
			a, b := p.Errs[i], p.Errs[j]
			if a.Line != b.Line {
				return a.Line < b.Line
			}
			return a.Column < b.Column
		})
		return nil, p.Errs
	}
	return set, nil
}

// Load reads every *.yaml, *.yml and *.json file directly in dir (each a
// traits file) into one set; a name declared in two files is an error. A
// missing dir gives an empty set. Problems come back as one ErrorList.
func Load(dir string) (*Set, error) {
	files, err := journey.DefinitionFiles(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return &Set{byName: map[string]*Trait{}}, nil
	}
	if err != nil {
		return nil, err
	}
	all := &Set{byName: map[string]*Trait{}}
	var errs ErrorList
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			return nil, err
		}
		set, err := Parse(file, data)
		var l ErrorList
		if errors.As(err, &l) {
			errs = append(errs, l...)
			continue
		} else if err != nil {
			return nil, err
		}
		for i, t := range set.Traits {
			if prev := all.byName[t.Name]; prev != nil {
				errs = append(errs, &Error{Pos: t.Pos, Path: fmt.Sprintf("traits[%d].name", i), Message: fmt.Sprintf("%q is already declared at %s", t.Name, prev.Pos)})
				continue
			}
			all.Traits = append(all.Traits, t)
			all.byName[t.Name] = t
		}
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return all, nil
}

// ParseTrait compiles one trait definition: a YAML or JSON mapping with
// the fields of an item of a traits file (name, aggregate, event, filter,
// property, window). The API stores traits one at a time in this form.
func ParseTrait(name string, data []byte) (*Trait, error) {
	p := &parser{Reporter: journey.Reporter{File: name}}
	var doc yaml.Node
	err := yaml.NewDecoder(bytes.NewReader(data)).Decode(&doc)
	switch {
	case errors.Is(err, io.EOF):
		p.Errorf(nil, "", "empty definition: expected a trait")
	case err != nil:
		p.Errorf(nil, "", "%v", err)
	}
	var t *Trait
	if len(p.Errs) == 0 {
		t = p.trait(doc.Content[0], "")
	}
	if len(p.Errs) > 0 {
		for _, e := range p.Errs {
			e.Path = strings.TrimPrefix(e.Path, ".")
		}
		return nil, p.Errs
	}
	return t, nil
}

// NewSet makes a set of traits (from ParseTrait); names must be unique.
func NewSet(traits []*Trait) (*Set, error) {
	s := &Set{byName: map[string]*Trait{}}
	for _, t := range traits {
		if s.byName[t.Name] != nil {
			return nil, fmt.Errorf("computed trait %q declared twice", t.Name)
		}
		s.Traits = append(s.Traits, t)
		s.byName[t.Name] = t
	}
	return s, nil
}

// Source returns the trait's definition as a YAML mapping, the form
// ParseTrait reads (without comments).
func (t *Trait) Source() string {
	var b strings.Builder
	fmt.Fprintf(&b, "name: %s\naggregate: %s\n", t.Name, t.Aggregate)
	if t.Aggregate == Expression {
		q, _ := json.Marshal(t.Expr)
		fmt.Fprintf(&b, "expression: %s\n", q)
		return b.String()
	}
	for _, kv := range [][2]string{{"event", t.Event}, {"filter", t.Filter}, {"property", t.Property}} {
		if kv[1] != "" {
			q, _ := json.Marshal(kv[1])
			fmt.Fprintf(&b, "%s: %s\n", kv[0], q)
		}
	}
	fmt.Fprintf(&b, "window: %s\n", journey.FormatDuration(t.Window))
	return b.String()
}

type parser struct {
	journey.Reporter
}

func (p *parser) parse(data []byte) *Set {
	set := &Set{byName: map[string]*Trait{}}
	var doc yaml.Node
	if err := yaml.NewDecoder(bytes.NewReader(data)).Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			p.Errorf(nil, "", "empty file: expected traits:")
			return set
		}
		pos, msg := p.Pos(nil), err.Error()
		if line, rest, ok := journey.YAMLErrorLine(err); ok {
			pos.Line, msg = line, rest
		}
		p.Errs = append(p.Errs, &Error{Pos: pos, Message: msg})
		return set
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		p.Errorf(root, "", "expected a mapping with traits:")
		return set
	}
	var list *yaml.Node
	p.fields(root, "", []string{"traits"}, func(key string, k, v *yaml.Node) { list = v })
	if list == nil {
		p.Errorf(root, "traits", "required")
		return set
	}
	if list.Kind != yaml.SequenceNode {
		p.Errorf(list, "traits", "expected a list of traits")
		return set
	}
	if len(list.Content) == 0 {
		p.Errorf(list, "traits", "no traits declared")
	}
	seen := map[string]Pos{}
	for i, item := range list.Content {
		path := fmt.Sprintf("traits[%d]", i)
		t := p.trait(item, path)
		if t == nil {
			continue
		}
		if prev, ok := seen[t.Name]; ok {
			p.Errorf(item, path+".name", "%q is already declared at line %d", t.Name, prev.Line)
			continue
		}
		seen[t.Name] = t.Pos
		set.Traits = append(set.Traits, t)
		set.byName[t.Name] = t
	}
	return set
}

// fields calls f for each key of mapping n, in order, reporting unknown
// and repeated keys and non-scalar keys.
func (p *parser) fields(n *yaml.Node, path string, known []string, f func(key string, k, v *yaml.Node)) {
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		fp := journey.JoinPath(path, k.Value)
		switch {
		case k.Kind != yaml.ScalarNode:
			p.Errorf(k, path, "keys must be plain names")
		case !contains(known, k.Value):
			p.Errorf(k, fp, "unknown field (%s)", strings.Join(known, ", "))
		case seen[k.Value]:
			p.Errorf(k, fp, "repeated")
		default:
			seen[k.Value] = true
			f(k.Value, k, v)
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

var traitFields = []string{"name", "aggregate", "event", "filter", "property", "window", "expression"}

// trait compiles one list item; nil if it is too broken to use.
func (p *parser) trait(n *yaml.Node, path string) *Trait {
	if n.Kind != yaml.MappingNode {
		p.Errorf(n, path, "expected a mapping with name, aggregate, window")
		return nil
	}
	before := len(p.Errs)
	t := &Trait{Pos: p.Pos(n)}
	vals := map[string]*yaml.Node{}
	p.fields(n, path, traitFields, func(key string, k, v *yaml.Node) {
		if v.Kind != yaml.ScalarNode {
			p.Errorf(v, path+"."+key, "expected a string")
			return
		}
		vals[key] = v
	})
	if len(p.Errs) > before {
		return nil
	}
	if v := vals["name"]; v == nil {
		p.Errorf(n, path+".name", "required")
	} else if t.Name = v.Value; !namePattern.MatchString(t.Name) {
		p.Errorf(v, path+".name", "%q must match ^[a-z][a-z0-9_]*$", t.Name)
	}
	if v := vals["aggregate"]; v == nil {
		p.Errorf(n, path+".aggregate", "required")
	} else if t.Aggregate = Aggregate(v.Value); !contains(aggregateNames(), v.Value) {
		p.Errorf(v, path+".aggregate", "unknown aggregate %q (%s)", v.Value, strings.Join(aggregateNames(), ", "))
	}
	if t.Aggregate == Expression {
		p.expression(t, n, path, vals)
		if len(p.Errs) > before {
			return nil
		}
		h := fnv.New32a()
		fmt.Fprintf(h, "%s\x00%s", t.Aggregate, t.Expr)
		t.def = h.Sum32()
		return t
	}
	if v := vals["expression"]; v != nil {
		p.Errorf(v, path+".expression", "only for aggregate: expression")
	}
	if v := vals["event"]; v != nil {
		if t.Event = v.Value; t.Event == "" {
			p.Errorf(v, path+".event", "empty event name")
		}
	}
	if v := vals["filter"]; v != nil {
		t.Filter = v.Value
		t.program, t.needs = p.compile(v, path+".filter")
	}
	if vals["event"] == nil && vals["filter"] == nil {
		p.Errorf(n, path, "give event, filter or both")
	}
	if v := vals["property"]; v != nil {
		t.Property = v.Value
		t.path = strings.Split(v.Value, ".")
		t.needs |= fieldOf(t.path[0])
		switch {
		case !contains(eventFields, t.path[0]):
			p.Errorf(v, path+".property", "%q must start with one of %s", v.Value, strings.Join(eventFields, ", "))
		case contains(t.path[1:], ""):
			p.Errorf(v, path+".property", "%q has an empty part", v.Value)
		}
	} else if t.Aggregate.needsProperty() {
		p.Errorf(n, path+".property", "required for %s", t.Aggregate)
	}
	if v := vals["window"]; v == nil {
		p.Errorf(n, path+".window", "required")
	} else if d, err := journey.ParseDuration(v.Value); err != nil {
		p.Errorf(v, path+".window", "%v", err)
	} else {
		t.Window = d
		t.width = max(1, int64((d+time.Duration(Buckets)*time.Second-1)/(time.Duration(Buckets)*time.Second)))
		t.span = int64((d + time.Duration(t.width)*time.Second - 1) / (time.Duration(t.width) * time.Second))
	}
	if len(p.Errs) > before {
		return nil
	}
	h := fnv.New32a()
	fmt.Fprintf(h, "%s\x00%s\x00%s\x00%s\x00%d", t.Aggregate, t.Event, t.Filter, t.Property, t.Window)
	t.def = h.Sum32()
	return t
}

func aggregateNames() []string {
	s := make([]string, len(aggregates))
	for i, a := range aggregates {
		s[i] = string(a)
	}
	return s
}

// compile type-checks a filter: it must be bool, or dyn (checked when it
// runs).
// expression compiles an expression trait: `expression` over `computed`,
// the values of the traits declared before it; nothing else applies.
func (p *parser) expression(t *Trait, n *yaml.Node, path string, vals map[string]*yaml.Node) {
	for _, k := range []string{"event", "filter", "property", "window"} {
		if v := vals[k]; v != nil {
			p.Errorf(v, path+"."+k, "not used by aggregate: expression")
		}
	}
	v := vals["expression"]
	if v == nil {
		p.Errorf(n, path+".expression", "required for aggregate: expression")
		return
	}
	t.Expr = v.Value
	env, err := exprEnv()
	if err != nil {
		panic("computed: CEL environment: " + err.Error())
	}
	ast, iss := env.Compile(v.Value)
	if iss != nil && iss.Err() != nil {
		p.Errorf(v, path+".expression", "%s", strings.TrimSpace(iss.Err().Error()))
		return
	}
	if t.program, err = env.Program(ast, cel.CostLimit(CostLimit)); err != nil {
		p.Errorf(v, path+".expression", "%v", err)
	}
}

var exprEnv = sync.OnceValues(func() (*cel.Env, error) {
	return cel.NewEnv(cel.Variable("computed", cel.MapType(cel.StringType, cel.DynType)))
})

func (p *parser) compile(n *yaml.Node, path string) (cel.Program, fieldSet) {
	env, err := celEnv()
	if err != nil {
		panic("computed: CEL environment: " + err.Error())
	}
	ast, iss := env.Compile(n.Value)
	if iss != nil && iss.Err() != nil {
		for _, ce := range iss.Errors() {
			// A filter is placed as if it were an inline scalar, block
			// scalars too.
			pos := p.InlinePos(n, ce.Location.Line(), ce.Location.Column())
			p.Errs = append(p.Errs, &Error{Pos: pos, Path: path, Message: ce.Message})
		}
		return nil, 0
	}
	if k := ast.OutputType().Kind(); k != types.BoolKind && k != types.DynKind {
		p.Errorf(n, path, "filter must be bool, not %s", ast.OutputType())
		return nil, 0
	}
	prg, err := env.Program(ast, cel.CostLimit(CostLimit))
	if err != nil {
		p.Errorf(n, path, "%v", err)
		return nil, 0
	}
	return prg, readsFields(ast)
}
