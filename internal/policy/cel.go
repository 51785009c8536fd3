package policy

import (
	"fmt"
	"strings"
	"sync"
	"time"

	"cel.dev/cel-go/cel"
	celast "cel.dev/cel-go/common/ast"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/interpreter"
	"gopkg.in/yaml.v3"

	"github.com/overture-cjo/overture/internal/journey"
)

// CostLimit is the most a condition may cost in one evaluation, in cel-go's
// cost units (as journey.CostLimit). A condition over the limit fails with
// an error, so its rule does not apply.
const CostLimit = 100_000

// Condition is a rule's `when`: a CEL expression of type bool over
// profile, message and now (see the package documentation), compiled by
// Parse. A nil *Condition always holds.
type Condition struct {
	Source      string // the expression as written
	UsesProfile bool   // it reads profile (conservatively: any identifier named profile)
	program     cel.Program
}

// celEnv declares what a condition sees.
var celEnv = sync.OnceValues(func() (*cel.Env, error) {
	dyn := cel.MapType(cel.StringType, cel.DynType)
	return cel.NewEnv(
		cel.Variable("profile", dyn),
		cel.Variable("message", dyn),
		cel.Variable("now", cel.TimestampType),
	)
})

// compile compiles and type-checks the condition in scalar n (bool, or
// dyn checked when it runs), reporting problems at path; nil after an
// error.
func (p *parser) compile(n *yaml.Node, path string) *Condition {
	src, ok := p.str(n, path)
	if !ok {
		return nil
	}
	if strings.TrimSpace(src) == "" {
		p.Errorf(n, path, "empty condition")
		return nil
	}
	env, err := celEnv()
	if err != nil {
		panic("policy: CEL environment: " + err.Error())
	}
	ast, iss := env.Compile(src)
	if iss != nil && iss.Err() != nil {
		for _, ce := range iss.Errors() {
			p.Errs = append(p.Errs, &Error{Pos: p.exprPos(n, ce.Location.Line(), ce.Location.Column()), Path: path, Message: ce.Message})
		}
		return nil
	}
	if k := ast.OutputType().Kind(); k != types.BoolKind && k != types.DynKind {
		p.Errorf(n, path, "condition must be bool, not %s", ast.OutputType())
		return nil
	}
	prg, err := env.Program(ast, cel.CostLimit(CostLimit), cel.EvalOptions(cel.OptOptimize))
	if err != nil {
		p.Errorf(n, path, "%v", err)
		return nil
	}
	c := &Condition{Source: src, program: prg}
	celast.PreOrderVisit(ast.NativeRep().Expr(), celast.NewExprVisitor(func(e celast.Expr) {
		if e.Kind() == celast.IdentKind && e.AsIdent() == "profile" {
			c.UsesProfile = true
		}
	}))
	return c
}

// exprPos maps a line (1-based) and column (0-based) inside an expression
// to the file as journey.Reporter.ExprPos does, but exactly for literal
// block scalars (|), whose lines start at the block's indentation (that of
// its first non-blank line); folded ones (>) stay approximate.
func (p *parser) exprPos(n *yaml.Node, line, col int) journey.Pos {
	pos := p.ExprPos(n, line, col)
	if n.Style == yaml.LiteralStyle {
		pos.Column = p.blockIndent(n.Line) + max(col, 0) + 1
	}
	return pos
}

// blockIndent returns the indentation of the first non-blank line after
// line (1-based) of the file: that of a block scalar starting there.
func (p *parser) blockIndent(line int) int {
	for i := line; i >= 0 && i < len(p.lines); i++ {
		l := strings.TrimRight(p.lines[i], " \r")
		if l != "" {
			return len(l) - len(strings.TrimLeft(l, " "))
		}
	}
	return 0
}

// conds evaluates the conditions of one Decide call. Its activation is
// built when the first condition is evaluated, so a policy without
// conditions allocates nothing for them.
type conds struct {
	profile map[string]any
	msg     struct {
		channel, category, journey string
		priority                   int
	}
	now   time.Time
	act   *activation
	quiet []int8 // per quiet hours period: 0 not evaluated yet, 1 applies, -1 does not
	errs  []string
}

// holds reports whether condition w (nil: none) holds, for the rule
// kind+name; an evaluation error does not hold and is recorded.
func (c *conds) holds(w *Condition, kind, name string) bool {
	if w == nil {
		return true
	}
	if c.act == nil {
		c.act = &activation{profile: c.profile, now: c.now, message: map[string]any{
			"channel": c.msg.channel, "category": c.msg.category, "journey": c.msg.journey, "priority": int64(c.msg.priority),
		}}
		if c.act.profile == nil {
			c.act.profile = map[string]any{}
		}
	}
	ok, err := w.eval(c.act)
	if err != nil {
		c.errs = append(c.errs, fmt.Sprintf("%s%s: when %s: %v", kind, name, w.Source, err))
		return false
	}
	return ok
}

// quietHolds reports whether quiet hours period i of p applies to the
// message: its channel matches and its condition holds (evaluated once
// per Decide).
func (c *conds) quietHolds(p *Policy, i int, channel string) bool {
	q := &p.QuietHours[i]
	if q.Channel != "" && q.Channel != channel {
		return false
	}
	if q.When == nil {
		return true
	}
	if c.quiet == nil {
		c.quiet = make([]int8, len(p.QuietHours))
	}
	if c.quiet[i] == 0 {
		c.quiet[i] = -1
		if c.holds(q.When, "quiet_hours:", q.channel()) {
			c.quiet[i] = 1
		}
	}
	return c.quiet[i] == 1
}

func (w *Condition) eval(act interpreter.Activation) (bool, error) {
	if w.program == nil {
		return false, fmt.Errorf("not compiled (use Parse)")
	}
	out, _, err := w.program.Eval(act)
	if err != nil {
		return false, err
	}
	b, ok := out.Value().(bool)
	if !ok {
		return false, fmt.Errorf("condition must be bool, not %s", out.Type())
	}
	return b, nil
}

// activation is what a condition sees.
type activation struct {
	profile, message map[string]any
	now              time.Time
}

var _ interpreter.Activation = (*activation)(nil)

// ResolveName implements interpreter.Activation.
func (a *activation) ResolveName(name string) (any, bool) {
	switch name {
	case "profile":
		return a.profile, true
	case "message":
		return a.message, true
	case "now":
		return a.now, true
	}
	return nil, false
}

// Parent implements interpreter.Activation: there is none.
func (a *activation) Parent() interpreter.Activation { return nil }

// withWhen appends condition w, if any, to the reason of the rule it
// belongs to.
func withWhen(reason string, w *Condition) string {
	if w == nil {
		return reason
	}
	return reason + " (when " + w.Source + ")"
}
