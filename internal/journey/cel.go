package journey

import (
	"sync"

	"cel.dev/cel-go/cel"
	celast "cel.dev/cel-go/common/ast"
	"cel.dev/cel-go/common/types"
	"gopkg.in/yaml.v3"
)

// CostLimit is the most a journey's CEL program may cost in one evaluation
// (cel-go's cost units: roughly one per operation, more for strings and
// lists). A program over the limit fails with an error instead of running
// on.
const CostLimit = 100_000

// envKind picks the variables an expression sees.
type envKind int

const (
	envEntry    envKind = iota // variables at entry: event, profile, journey, now
	envStep                    // conditions and step values: event, profile, journey, now
	envResponse                // webhook capture: also response
)

var envs = sync.OnceValues(func() ([2]*cel.Env, error) {
	mapType := cel.MapType(cel.StringType, cel.DynType)
	base, err := cel.NewEnv(
		cel.Variable("event", mapType),
		cel.Variable("profile", mapType),
		cel.Variable("journey", mapType),
		cel.Variable("now", cel.TimestampType),
	)
	if err != nil {
		return [2]*cel.Env{}, err
	}
	withResponse, err := base.Extend(cel.Variable("response", mapType))
	return [2]*cel.Env{base, withResponse}, err
})

// compile compiles and type-checks the CEL expression in node n. A
// condition (boolean) must have type bool, or dyn (a field of event,
// profile or journey, checked when it runs).
func (p *parser) compile(n *yaml.Node, path string, kind envKind, boolean bool) *Expr {
	e := &Expr{Source: n.Value, Pos: p.Pos(n), Path: path}
	all, err := envs()
	if err != nil {
		panic("journey: CEL environment: " + err.Error())
	}
	env := all[0]
	if kind == envResponse {
		env = all[1]
	}
	ast, iss := env.Compile(n.Value)
	if iss != nil && iss.Err() != nil {
		for _, ce := range iss.Errors() {
			p.Errs = append(p.Errs, &Error{Pos: p.ExprPos(n, ce.Location.Line(), ce.Location.Column()), Path: path, Message: ce.Message})
		}
		return e
	}
	if boolean {
		t := ast.OutputType()
		if t.Kind() != types.BoolKind && t.Kind() != types.DynKind {
			p.Errorf(n, path, "condition must be bool, not %s", t)
			return e
		}
	}
	p.collectJourneyRefs(ast, n, path)
	prg, err := env.Program(ast, cel.CostLimit(CostLimit))
	if err != nil {
		p.Errorf(n, path, "%v", err)
		return e
	}
	e.program = prg
	return e
}

// varRef is a use of journey.NAME in an expression.
type varRef struct {
	name string
	pos  Pos
	path string
}

// collectJourneyRefs records every journey.NAME the expression reads
// (has() presence tests aside), so check can tell a typo from a variable.
func (p *parser) collectJourneyRefs(a *cel.Ast, n *yaml.Node, path string) {
	native := a.NativeRep()
	info := native.SourceInfo()
	celast.PreOrderVisit(native.Expr(), celast.NewExprVisitor(func(e celast.Expr) {
		if e.Kind() != celast.SelectKind {
			return
		}
		sel := e.AsSelect()
		if sel.IsTestOnly() || sel.Operand().Kind() != celast.IdentKind || sel.Operand().AsIdent() != "journey" {
			return
		}
		loc := info.GetStartLocation(sel.Operand().ID())
		p.journeyRefs = append(p.journeyRefs, varRef{name: sel.FieldName(), pos: p.ExprPos(n, loc.Line(), loc.Column()), path: path})
	}))
}
