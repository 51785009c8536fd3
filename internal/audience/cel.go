package audience

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"cel.dev/cel-go/cel"
	celast "cel.dev/cel-go/common/ast"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"gopkg.in/yaml.v3"
)

// CostLimit is the most a condition may cost in one evaluation, in cel-go's
// cost units (as journey.CostLimit). A condition over the limit fails with
// an error, so the profile does not match.
const CostLimit = 100_000

// inJourney is the name of the function telling whether the customer has an
// active instance of a journey.
const inJourney = "in_journey"

// celEnv declares what a condition sees: profile, now and in_journey. The
// answer of in_journey depends on the customer being evaluated, so it is
// late-bound: Match supplies its implementation with each evaluation's
// variables (cel.FunctionVars).
var celEnv = sync.OnceValues(func() (*cel.Env, error) {
	return cel.NewEnv(
		cel.Variable("profile", cel.MapType(cel.StringType, cel.DynType)),
		cel.Variable("now", cel.TimestampType),
		cel.Function(inJourney,
			cel.Overload("in_journey_string", []*cel.Type{cel.StringType}, cel.BoolType, cel.LateFunctionBinding())),
	)
})

// Input is what a condition is evaluated against.
type Input struct {
	// Profile is `profile`: core.ProfileMap of the profile, plus "computed"
	// (the computed traits' values) when the caller has them. Nil is an
	// empty map (Set.Evaluate fills it from the profile).
	Profile map[string]any
	// Now is `now`. Set.Evaluate uses its own now when it is zero.
	Now time.Time
	// InJourney answers in_journey(id): whether the customer has an active
	// instance of journey id. Nil answers false.
	InJourney func(id string) bool
}

// Match evaluates the audience's condition. An evaluation error (a missing
// field, a wrong type, the cost limit) counts as not matching and is
// returned.
func (a *Audience) Match(in Input) (bool, error) {
	if a.program == nil {
		return false, fmt.Errorf("audience %s: not compiled (use Parse)", a.ID)
	}
	profile := in.Profile
	if profile == nil {
		profile = map[string]any{}
	}
	act, err := cel.FunctionVars(map[string]any{"profile": profile, "now": in.Now},
		map[string]cel.LateBoundFunction{inJourney: func(_ string, args ...ref.Val) ref.Val {
			id, ok := args[0].(types.String)
			if !ok {
				return types.NewErr("in_journey: want a string, got %s", args[0].Type())
			}
			return types.Bool(in.InJourney != nil && in.InJourney(string(id)))
		}})
	if err != nil {
		return false, fmt.Errorf("audience %s: %w", a.ID, err)
	}
	out, _, err := a.program.Eval(act)
	if err != nil {
		return false, fmt.Errorf("audience %s: %w", a.ID, err)
	}
	b, ok := out.Value().(bool)
	if !ok {
		return false, fmt.Errorf("audience %s: %w, not %s", a.ID, errNotBool, out.Type())
	}
	return b, nil
}

var errNotBool = errors.New("condition must be bool")

// compile compiles and type-checks the condition in node n (bool, or dyn
// checked when it runs) and records what it reads.
func (p *parser) compile(a *Audience, n *yaml.Node, path string) {
	env, err := celEnv()
	if err != nil {
		panic("audience: CEL environment: " + err.Error())
	}
	ast, iss := env.Compile(n.Value)
	if iss != nil && iss.Err() != nil {
		for _, ce := range iss.Errors() {
			p.Errs = append(p.Errs, &Error{Pos: p.exprPos(n, ce.Location.Line(), ce.Location.Column()), Path: path, Message: ce.Message})
		}
		return
	}
	if k := ast.OutputType().Kind(); k != types.BoolKind && k != types.DynKind {
		p.Errorf(n, path, "condition must be bool, not %s", ast.OutputType())
		return
	}
	before := len(p.Errs)
	p.inspect(a, ast, n, path)
	if len(p.Errs) > before {
		return
	}
	prg, err := env.Program(ast, cel.CostLimit(CostLimit))
	if err != nil {
		p.Errorf(n, path, "%v", err)
		return
	}
	a.program = prg
}

// inspect records from the checked AST whether the condition reads `now`
// (conservatively: a comprehension variable called now counts too) and
// which journeys it passes to in_journey, which must be string literals.
func (p *parser) inspect(a *Audience, ast *cel.Ast, n *yaml.Node, path string) {
	native := ast.NativeRep()
	info := native.SourceInfo()
	seen := map[string]bool{}
	celast.PreOrderVisit(native.Expr(), celast.NewExprVisitor(func(e celast.Expr) {
		switch e.Kind() {
		case celast.IdentKind:
			if e.AsIdent() == "now" {
				a.UsesNow = true
			}
		case celast.CallKind:
			call := e.AsCall()
			if call.FunctionName() != inJourney || call.IsMemberFunction() || len(call.Args()) != 1 {
				return
			}
			a.UsesJourneys = true
			arg := call.Args()[0]
			loc := info.GetStartLocation(arg.ID())
			pos := p.exprPos(n, loc.Line(), loc.Column())
			var id string
			if arg.Kind() == celast.LiteralKind {
				if s, ok := arg.AsLiteral().(types.String); ok {
					id = string(s)
				}
			}
			switch {
			case arg.Kind() != celast.LiteralKind:
				loc := info.GetStartLocation(e.ID()) // the call's '('
				at := p.exprPos(n, loc.Line(), max(loc.Column()-len(inJourney), 0))
				p.Errs = append(p.Errs, &Error{Pos: at, Path: path, Message: "in_journey takes a journey id as a string literal"})
			case !idPattern.MatchString(id):
				p.Errs = append(p.Errs, &Error{Pos: pos, Path: path, Message: fmt.Sprintf("%q is not a journey id ([a-z0-9][a-z0-9_-]*)", id)})
			default:
				a.refs = append(a.refs, journeyRef{id: id, pos: pos})
				if !seen[id] {
					seen[id] = true
					a.Journeys = append(a.Journeys, id)
				}
			}
		}
	}))
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
