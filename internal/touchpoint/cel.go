package touchpoint

import (
	"fmt"
	"slices"
	"strings"
	"sync"

	"cel.dev/cel-go/cel"
	celast "cel.dev/cel-go/common/ast"
	"cel.dev/cel-go/common/operators"
	"cel.dev/cel-go/common/types"
	"gopkg.in/yaml.v3"
)

// CostLimit is the most a condition may cost in one evaluation, in cel-go's
// cost units (as journey.CostLimit). A condition over the limit fails with
// an error, so it does not match.
const CostLimit = 100_000

// The late-bound functions: their answers depend on the request.
const (
	inJourney = "in_journey"
	inStep    = "in_step"
)

// envKind picks the variables a condition sees.
type envKind int

const (
	tierEnv envKind = iota // value_tiers[*].when: everything but tier
	ruleEnv                // rules[*].when: also tier
)

// envs declares what conditions see (see the package documentation).
// in_journey and in_step are late-bound: Evaluate supplies their
// implementations, closed over the request, with each evaluation's
// variables, so one compiled program serves every request.
var envs = sync.OnceValues(func() ([2]*cel.Env, error) {
	dyn := cel.MapType(cel.StringType, cel.DynType)
	base, err := cel.NewEnv(
		cel.Variable("profile", dyn),
		cel.Variable("touchpoint", cel.StringType),
		cel.Variable("context", dyn),
		cel.Variable("interactions", cel.MapType(cel.StringType, cel.IntType)),
		cel.Variable("journeys", cel.ListType(dyn)),
		cel.Variable("now", cel.TimestampType),
		cel.Function(inJourney,
			cel.Overload("in_journey_string", []*cel.Type{cel.StringType}, cel.BoolType, cel.LateFunctionBinding())),
		cel.Function(inStep,
			cel.Overload("in_step_string_string", []*cel.Type{cel.StringType, cel.StringType}, cel.BoolType, cel.LateFunctionBinding())),
	)
	if err != nil {
		return [2]*cel.Env{}, err
	}
	withTier, err := base.Extend(cel.Variable("tier", cel.StringType))
	return [2]*cel.Env{base, withTier}, err
})

// compiled is a compiled condition and what it refers to.
type compiled struct {
	program  cel.Program // nil after an error
	refs     []journeyRef
	tierRefs []tierRef
	journeys []string // sorted, each once
}

// compile compiles and type-checks the condition in scalar n (bool, or dyn
// checked when it runs) in the environment kind, reporting problems at
// path.
func (p *parser) compile(n *yaml.Node, path string, kind envKind) compiled {
	var c compiled
	if strings.TrimSpace(n.Value) == "" {
		p.Errorf(n, path, "empty condition")
		return c
	}
	all, err := envs()
	if err != nil {
		panic("touchpoint: CEL environment: " + err.Error())
	}
	env := all[kind]
	ast, iss := env.Compile(n.Value)
	if iss != nil && iss.Err() != nil {
		for _, ce := range iss.Errors() {
			msg := ce.Message
			if kind == tierEnv && strings.HasPrefix(msg, "undeclared reference to 'tier'") {
				msg = "undeclared reference to 'tier': a value tier's condition cannot depend on the tier"
			}
			p.Errs = append(p.Errs, &Error{Pos: p.exprPos(n, ce.Location.Line(), ce.Location.Column()), Path: path, Message: msg})
		}
		return c
	}
	if k := ast.OutputType().Kind(); k != types.BoolKind && k != types.DynKind {
		p.Errorf(n, path, "condition must be bool, not %s", ast.OutputType())
		return c
	}
	before := len(p.Errs)
	p.inspect(&c, ast, n, path)
	if len(p.Errs) > before {
		return c
	}
	prg, err := env.Program(ast, cel.CostLimit(CostLimit), cel.EvalOptions(cel.OptOptimize))
	if err != nil {
		p.Errorf(n, path, "%v", err)
		return c
	}
	c.program = prg
	slices.Sort(c.journeys)
	c.journeys = slices.Compact(c.journeys)
	return c
}

// inspect records from the checked AST the journeys and steps passed to
// in_journey and in_step, which must be string literals, and the string
// literals compared with `tier` (==, != and in a list literal).
func (p *parser) inspect(c *compiled, ast *cel.Ast, n *yaml.Node, path string) {
	native := ast.NativeRep()
	info := native.SourceInfo()
	at := func(e celast.Expr) Pos {
		loc := info.GetStartLocation(e.ID())
		return p.exprPos(n, loc.Line(), loc.Column())
	}
	literal := func(e celast.Expr) (string, bool) {
		if e.Kind() != celast.LiteralKind {
			return "", false
		}
		s, ok := e.AsLiteral().(types.String)
		return string(s), ok
	}
	isTier := func(e celast.Expr) bool { return e.Kind() == celast.IdentKind && e.AsIdent() == "tier" }
	celast.PreOrderVisit(native.Expr(), celast.NewExprVisitor(func(e celast.Expr) {
		if e.Kind() != celast.CallKind {
			return
		}
		call := e.AsCall()
		args := call.Args()
		switch fn := call.FunctionName(); {
		case (fn == inJourney || fn == inStep) && !call.IsMemberFunction():
			var ref journeyRef
			for i, arg := range args {
				s, ok := literal(arg)
				if !ok {
					loc := info.GetStartLocation(e.ID()) // the call's '('
					pos := p.exprPos(n, loc.Line(), max(loc.Column()-len(fn), 0))
					p.Errs = append(p.Errs, &Error{Pos: pos, Path: path, Message: fn + " takes string literals: the journey id and step are known when the policy loads"})
					return
				}
				if !idPattern.MatchString(s) {
					what := "journey id"
					if i == 1 {
						what = "step id"
					}
					p.Errs = append(p.Errs, &Error{Pos: at(arg), Path: path, Message: fmt.Sprintf("%q is not a %s ([a-z0-9][a-z0-9_-]*)", s, what)})
					return
				}
				if i == 0 {
					ref.journey, ref.pos = s, at(arg)
				} else {
					ref.step = s
				}
			}
			c.refs = append(c.refs, ref)
			c.journeys = append(c.journeys, ref.journey)
		case (fn == operators.Equals || fn == operators.NotEquals) && len(args) == 2:
			for i, arg := range args {
				if s, ok := literal(args[1-i]); ok && isTier(arg) {
					c.tierRefs = append(c.tierRefs, tierRef{name: s, pos: at(args[1-i])})
				}
			}
		case fn == operators.In && len(args) == 2 && isTier(args[0]) && args[1].Kind() == celast.ListKind:
			for _, el := range args[1].AsList().Elements() {
				if s, ok := literal(el); ok {
					c.tierRefs = append(c.tierRefs, tierRef{name: s, pos: at(el)})
				}
			}
		}
	}))
}

// exprPos maps a line (1-based) and column (0-based) inside an expression
// to the file as journey.Reporter.ExprPos does, but exactly for literal
// block scalars (|), whose content starts at the indentation of their
// first non-blank line; folded ones (>) stay approximate.
func (p *parser) exprPos(n *yaml.Node, line, col int) Pos {
	pos := p.ExprPos(n, line, col)
	if n.Style == yaml.LiteralStyle {
		pos.Column = p.blockIndent(n.Line) + max(col, 0) + 1
	}
	return pos
}

// blockIndent returns the indentation of the first non-blank line after
// line (1-based) of the file: that of the block scalar starting there.
func (p *parser) blockIndent(line int) int {
	for _, l := range p.lines[min(line, len(p.lines)):] {
		if t := strings.TrimLeft(l, " "); t != "" {
			return len(l) - len(t)
		}
	}
	return 0
}
