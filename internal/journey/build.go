package journey

import (
	"github.com/overture-cjo/overture/internal/core"

	"time"

	"gopkg.in/yaml.v3"
)

// build turns a schema-valid document into a Definition, parsing
// durations and compiling CEL expressions as it goes (problems go to
// p.Errs).
func (p *parser) build(root *yaml.Node) *Definition {
	d := &Definition{
		File:     p.File,
		Priority: DefaultPriority,
		Steps:    map[string]*Step{},
		Entry:    Entry{MaxConcurrent: DefaultMaxConcurrent, Reentry: Reentry{Mode: ReentryNever}},
	}
	idNode, _ := field(root, "id")
	d.idPos = p.Pos(idNode)
	d.ID = str(root, "id")
	d.Name = str(root, "name")
	d.Description = str(root, "description")
	d.Category = str(root, "category")
	if v, _ := field(root, "priority"); v != nil {
		d.Priority = integer(v)
	}
	d.WhenOutranked = str(root, "when_outranked")
	if d.WhenOutranked == "" {
		d.WhenOutranked = OutrankedDelay
	}
	d.Holdout = integer(fieldVal(root, "holdout"))
	d.Start = str(root, "start")

	entry := fieldVal(root, "entry")
	trig := fieldVal(entry, "trigger")
	d.Entry.Trigger.Event = str(trig, "event")
	d.Entry.Trigger.Pos = p.Pos(trig)
	if aud := str(trig, "audience"); aud != "" {
		d.Entry.Trigger.Audience = aud
		d.Entry.Trigger.On = TriggerOnEnter
		if str(trig, "on") == TriggerOnRefresh {
			d.Entry.Trigger.On = TriggerOnRefresh
		}
		d.Entry.Trigger.Event = core.EventAudienceEntered
		if d.Entry.Trigger.On == TriggerOnRefresh {
			d.Entry.Trigger.Event = core.EventAudienceRefreshed
		}
	}
	d.Entry.Trigger.Condition = p.condition(trig, "condition", "entry.trigger")
	if v := fieldVal(entry, "max_concurrent"); v != nil {
		d.Entry.MaxConcurrent = integer(v)
	}
	if v := fieldVal(entry, "reentry"); v != nil {
		if v.Kind == yaml.ScalarNode {
			d.Entry.Reentry.Mode = v.Value
		} else {
			d.Entry.Reentry.Mode = ReentryAfter
			d.Entry.Reentry.After = p.duration(v, "after", "entry.reentry")
		}
	}

	d.Variables = p.assigns(fieldVal(root, "variables"), "variables", envEntry)

	if g := fieldVal(root, "goal"); g != nil {
		d.Goal = &Goal{
			Event:     str(g, "event"),
			Condition: p.condition(g, "condition", "goal"),
			Within:    p.duration(g, "within", "goal"),
		}
	}
	if ex := fieldVal(root, "exit"); ex != nil {
		for i, item := range ex.Content {
			item = Resolve(item)
			d.Exit = append(d.Exit, Exit{Event: str(item, "event"), Condition: p.condition(item, "condition", indexPath("exit", i))})
		}
	}

	steps := fieldVal(root, "steps")
	for i := 0; i+1 < len(steps.Content); i += 2 {
		name := Resolve(steps.Content[i]).Value
		s := p.step(name, Resolve(steps.Content[i+1]), JoinPath("steps", name), d)
		d.Steps[name] = s
		d.StepOrder = append(d.StepOrder, name)
	}
	return d
}

func (p *parser) step(name string, n *yaml.Node, path string, d *Definition) *Step {
	s := &Step{Name: name, Type: str(n, "type"), Next: str(n, "next")}
	switch s.Type {
	case StepSend:
		s.Channel, s.Template, s.Offer = str(n, "channel"), str(n, "template"), str(n, "offer")
		if cs := fieldVal(n, "channels"); cs != nil {
			for _, c := range cs.Content {
				s.Channels = append(s.Channels, Resolve(c).Value)
			}
		}
		s.ExpiresAfter = p.duration(n, "expires_after", path)
		s.Deadline = p.expression(n, "deadline", path, envStep, false)
	case StepWait:
		s.Duration = p.duration(n, "duration", path)
		if u := fieldVal(n, "until"); u != nil {
			t := str(u, "time")
			tod := &TimeOfDay{Hour: int(t[0]-'0')*10 + int(t[1]-'0'), Minute: int(t[3]-'0')*10 + int(t[4]-'0')}
			if wd := fieldVal(u, "weekdays"); wd != nil {
				for _, w := range wd.Content {
					tod.Weekdays = append(tod.Weekdays, weekdays[Resolve(w).Value])
				}
			}
			s.Until = tod
		}
	case StepWaitFor:
		s.Event = str(n, "event")
		s.Condition = p.condition(n, "condition", path)
		s.Timeout = p.duration(n, "timeout", path)
		s.OnEvent, s.OnTimeout = str(n, "on_event"), str(n, "on_timeout")
	case StepBranch:
		for i, c := range fieldVal(n, "cases").Content {
			c = Resolve(c)
			s.Cases = append(s.Cases, Case{When: p.condition(c, "when", indexPath(JoinPath(path, "cases"), i)), Next: str(c, "next")})
		}
		s.Default = str(n, "default")
	case StepSplit:
		for _, b := range fieldVal(n, "branches").Content {
			b = Resolve(b)
			s.Branches = append(s.Branches, Branch{Weight: integer(fieldVal(b, "weight")), Next: str(b, "next")})
		}
	case StepUpdateProfile:
		s.Set = p.assigns(fieldVal(n, "set"), JoinPath(path, "set"), envStep)
	case StepWebhook:
		s.URL = str(n, "url")
		s.Method = str(n, "method")
		if s.Method == "" {
			s.Method = DefaultWebhookMethod
		}
		s.Body = p.expression(n, "body", path, envStep, false)
		s.Timeout = DefaultWebhookTimeout
		if fieldVal(n, "timeout") != nil {
			s.Timeout = p.duration(n, "timeout", path)
		}
		s.Capture = p.assigns(fieldVal(n, "capture"), JoinPath(path, "capture"), envResponse)
		s.OnError = str(n, "on_error")
	case StepEnterJourney:
		s.Journey = str(n, "journey")
		v, _ := field(n, "journey")
		d.enters = append(d.enters, ref{id: s.Journey, pos: p.Pos(v), path: JoinPath(path, "journey")})
	case StepExit:
		s.Reason = str(n, "reason")
	}
	return s
}

var weekdays = map[string]time.Weekday{
	"sun": time.Sunday, "mon": time.Monday, "tue": time.Tuesday, "wed": time.Wednesday,
	"thu": time.Thursday, "fri": time.Friday, "sat": time.Saturday,
}

func fieldVal(n *yaml.Node, key string) *yaml.Node {
	v, _ := field(n, key)
	return v
}

func str(n *yaml.Node, key string) string {
	if v := fieldVal(n, key); v != nil {
		return v.Value
	}
	return ""
}

func integer(n *yaml.Node) int {
	if n == nil {
		return 0
	}
	var f float64
	if n.Decode(&f) != nil {
		return 0
	}
	return int(f)
}

// duration parses the duration at key of n, if present.
func (p *parser) duration(n *yaml.Node, key, path string) time.Duration {
	v := fieldVal(n, key)
	if v == nil {
		return 0
	}
	d, err := ParseDuration(v.Value)
	if err != nil {
		p.Errorf(v, JoinPath(path, key), "%v", err)
	}
	return d
}

// assigns compiles a map of name -> CEL expression, in file order.
func (p *parser) assigns(n *yaml.Node, path string, env envKind) []Assign {
	if n == nil {
		return nil
	}
	var out []Assign
	for i := 0; i+1 < len(n.Content); i += 2 {
		name := Resolve(n.Content[i]).Value
		out = append(out, Assign{Name: name, Expr: p.compile(Resolve(n.Content[i+1]), JoinPath(path, name), env, false)})
	}
	return out
}

func (p *parser) condition(n *yaml.Node, key, path string) *Expr {
	return p.expression(n, key, path, envStep, true)
}

func (p *parser) expression(n *yaml.Node, key, path string, env envKind, boolean bool) *Expr {
	v := fieldVal(n, key)
	if v == nil {
		return nil
	}
	return p.compile(v, JoinPath(path, key), env, boolean)
}
