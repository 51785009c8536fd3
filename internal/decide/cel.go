package decide

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/checker"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/interpreter"
	"gopkg.in/yaml.v3"
)

// CostLimit is the most an eligibility condition or a context expression
// may cost in one evaluation, in cel-go's cost units. It is lower than a
// journey's (journey.CostLimit) because every offer's condition runs on
// every request for a decision. An expression over the limit fails with
// an error: the offer is not eligible, or its bucket is "".
//
// Most conditions are bounded by construction: without comprehensions
// (all, exists, map, filter...) cel-go's static estimate of their cost
// (cel.Env.EstimateCost) is a small constant. Those whose estimated
// maximum is within CostLimit run without the runtime cost tracking,
// which would double the time of every evaluation; the others are
// tracked and stopped at the limit.
const CostLimit = 10_000

// celEnv declares what an offer's expressions see: profile, context and
// now.
var celEnv = sync.OnceValues(func() (*cel.Env, error) {
	mapType := cel.MapType(cel.StringType, cel.DynType)
	return cel.NewEnv(
		cel.Variable("profile", mapType),
		cel.Variable("context", mapType),
		cel.Variable("now", cel.TimestampType),
	)
})

// compile compiles and type-checks the expression in node n: a condition
// (boolean) of type bool or dyn, or else a bucket key of a scalar type or
// dyn. It returns nil after reporting any problem.
func (p *parser) compile(n *yaml.Node, path string, boolean bool) cel.Program {
	env, err := celEnv()
	if err != nil {
		panic("decide: CEL environment: " + err.Error())
	}
	ast, iss := env.Compile(n.Value)
	if iss != nil && iss.Err() != nil {
		for _, ce := range iss.Errors() {
			p.Errs = append(p.Errs, &Error{Pos: p.exprPos(n, ce.Location.Line(), ce.Location.Column()), Path: path, Message: ce.Message})
		}
		return nil
	}
	switch k := ast.OutputType().Kind(); {
	case boolean && k != types.BoolKind && k != types.DynKind:
		p.Errorf(n, path, "condition must be bool, not %s", ast.OutputType())
		return nil
	case !boolean && k != types.StringKind && k != types.IntKind && k != types.UintKind &&
		k != types.DoubleKind && k != types.BoolKind && k != types.DynKind:
		p.Errorf(n, path, "context must be a string (or an int, uint, double or bool), not %s", ast.OutputType())
		return nil
	}
	opts := []cel.ProgramOption{cel.EvalOptions(cel.OptOptimize)}
	if est, err := env.EstimateCost(ast, noHints{}); err != nil || est.Max > CostLimit {
		opts = append(opts, cel.CostLimit(CostLimit))
	}
	prg, err := env.Program(ast, opts...)
	if err != nil {
		p.Errorf(n, path, "%v", err)
		return nil
	}
	return prg
}

// noHints is a cost estimator that knows nothing of the sizes of values,
// so the estimate of an expression that iterates over one is unbounded.
type noHints struct{}

func (noHints) EstimateSize(checker.AstNode) *checker.SizeEstimate { return nil }

func (noHints) EstimateCallCost(_, _ string, _ *checker.AstNode, _ []checker.AstNode) *checker.CallEstimate {
	return nil
}

// exprPos maps a line (1-based) and column (0-based) inside an expression
// to the file as journey.Reporter.ExprPos does, but exactly for literal
// block scalars (|), whose lines start at their own indentation; folded
// ones (>) stay approximate.
func (p *parser) exprPos(n *yaml.Node, line, col int) Pos {
	pos := p.ExprPos(n, line, col)
	if n.Style == yaml.LiteralStyle {
		pos.Column = p.indent(pos.Line) + max(col, 0) + 1
	}
	return pos
}

// indent returns the number of spaces starting line (1-based) of the file.
func (p *parser) indent(line int) int {
	if line < 1 || line > len(p.lines) {
		return 0
	}
	l := p.lines[line-1]
	return len(l) - len(strings.TrimLeft(l, " "))
}

// vars is the activation of one decision: the same profile, context and
// now for every offer, converted to CEL values once.
type vars struct {
	profile, context ref.Val
	now              ref.Val
}

var emptyMap = map[string]any{}

func newVars(in *Input) *vars {
	profile, context := in.Profile, in.Context
	if profile == nil {
		profile = emptyMap
	}
	if context == nil {
		context = emptyMap
	}
	return &vars{
		profile: shallow(profile),
		context: types.DefaultTypeAdapter.NativeToValue(context),
		now:     types.Timestamp{Time: in.Now},
	}
}

// shallow converts m to a CEL map whose values are converted already, so
// that the conditions of one decision reading profile.traits share one
// conversion of traits rather than each making its own. Deeper levels
// are converted as they are read.
func shallow(m map[string]any) ref.Val {
	top := make(map[string]any, len(m))
	for k, v := range m {
		top[k] = types.DefaultTypeAdapter.NativeToValue(v)
	}
	return types.DefaultTypeAdapter.NativeToValue(top)
}

// ResolveName implements interpreter.Activation.
func (v *vars) ResolveName(name string) (any, bool) {
	switch name {
	case "profile":
		return v.profile, true
	case "context":
		return v.context, true
	case "now":
		return v.now, true
	}
	return nil, false
}

// Parent implements interpreter.Activation.
func (v *vars) Parent() interpreter.Activation { return nil }

var errNotBool = errors.New("eligibility must be bool")

// eligible evaluates the offer's eligibility condition; true without one.
// An evaluation error counts as not eligible and is returned.
func (o *Offer) eligible(v *vars) (bool, error) {
	if o.eligibility == nil {
		return true, nil
	}
	out, _, err := o.eligibility.Eval(v)
	if err != nil {
		return false, err
	}
	b, ok := out.Value().(bool)
	if !ok {
		return false, fmt.Errorf("%w, not %s", errNotBool, out.Type())
	}
	return b, nil
}

// bucket evaluates the offer's context expression: a string as it is,
// another scalar formatted, anything else (an error, null, a list) "".
func (o *Offer) bucket(v *vars) string {
	if o.context == nil {
		return ""
	}
	out, _, err := o.context.Eval(v)
	if err != nil {
		return ""
	}
	switch x := out.Value().(type) {
	case string:
		return x
	case int64:
		return strconv.FormatInt(x, 10)
	case uint64:
		return strconv.FormatUint(x, 10)
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	case bool:
		return strconv.FormatBool(x)
	case time.Time:
		return x.UTC().Format(time.RFC3339Nano)
	}
	return ""
}

// evaluator evaluates the offers' expressions for one decision, each
// distinct one once (Set gives them slots).
type evaluator struct {
	vars   *vars
	elig   []eligResult   // by slot
	bucket []bucketResult // by slot
}

type eligResult struct {
	done, ok bool
	err      error
}

type bucketResult struct {
	done   bool
	bucket string
}

// eligible is o.eligible, remembered in slot (-1: no condition).
func (ev *evaluator) eligible(o *Offer, slot int) (bool, error) {
	if slot < 0 {
		return o.eligible(ev.vars)
	}
	r := &ev.elig[slot]
	if !r.done {
		r.ok, r.err = o.eligible(ev.vars)
		r.done = true
	}
	return r.ok, r.err
}

// bucketOf is o.bucket, remembered in slot (-1: no context expression).
func (ev *evaluator) bucketOf(o *Offer, slot int) string {
	if slot < 0 {
		return ""
	}
	r := &ev.bucket[slot]
	if !r.done {
		r.bucket, r.done = o.bucket(ev.vars), true
	}
	return r.bucket
}

// Eligible evaluates the offer's eligibility condition against in's
// profile, context and now (not its channel, cool-off or impressions:
// Set.Rank checks those). An offer without a condition is eligible; an
// evaluation error (a missing field, a wrong type, the cost limit) counts
// as not eligible and is returned.
func (o *Offer) Eligible(in Input) (bool, error) {
	if !o.compiled {
		return false, fmt.Errorf("offer %s: not compiled (use Parse)", o.ID)
	}
	ok, err := o.eligible(newVars(&in))
	if err != nil {
		return false, fmt.Errorf("offer %s: %w", o.ID, err)
	}
	return ok, nil
}

// Bucket returns the context bucket of in for the offer: the value of its
// context expression (a string; other scalars formatted, timestamps in
// RFC 3339), or "" if it has none or the expression fails or gives null
// or anything else. The model keeps one posterior per offer and bucket.
func (o *Offer) Bucket(in Input) string {
	return o.bucket(newVars(&in))
}
