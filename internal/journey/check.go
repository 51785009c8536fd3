package journey

import (
	"fmt"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// targetFields are the fields of a step that name another step.
var targetFields = []string{"next", "default", "on_event", "on_timeout", "on_error"}

// check runs the semantic checks of one file that the schema cannot
// express: start and every step target name a step, and every step is
// reachable from start.
func (p *parser) check(root *yaml.Node, d *Definition) {
	exists := func(n *yaml.Node, path string) bool {
		if _, ok := d.Steps[n.Value]; ok {
			return true
		}
		p.Errorf(n, path, "no step named %q", n.Value)
		return false
	}
	p.checkJourneyRefs(d)
	startOK := exists(fieldVal(root, "start"), "start")

	steps := fieldVal(root, "steps")
	for i := 0; i+1 < len(steps.Content); i += 2 {
		name := Resolve(steps.Content[i]).Value
		sn := Resolve(steps.Content[i+1])
		path := JoinPath("steps", name)
		for _, f := range targetFields {
			if v := fieldVal(sn, f); v != nil {
				exists(v, JoinPath(path, f))
			}
		}
		for _, list := range []string{"cases", "branches"} {
			if l := fieldVal(sn, list); l != nil {
				for j, item := range l.Content {
					if v := fieldVal(item, "next"); v != nil {
						exists(v, JoinPath(indexPath(JoinPath(path, list), j), "next"))
					}
				}
			}
		}
	}
	if !startOK {
		return // everything would be unreachable; the start error says it
	}

	seen := map[string]bool{d.Start: true}
	queue := []string{d.Start}
	for len(queue) > 0 {
		s := d.Steps[queue[0]]
		queue = queue[1:]
		if s == nil {
			continue
		}
		for _, t := range s.Targets() {
			if !seen[t] {
				seen[t] = true
				queue = append(queue, t)
			}
		}
	}
	for i := 0; i+1 < len(steps.Content); i += 2 {
		k := Resolve(steps.Content[i])
		if !seen[k.Value] {
			p.Errorf(k, JoinPath("steps", k.Value), "step is not reachable from start step %q", d.Start)
		}
	}
}

// checkJourneyRefs reports journey.NAME reads of variables the journey
// never sets (under variables, or in a webhook's capture).
func (p *parser) checkJourneyRefs(d *Definition) {
	declared := map[string]bool{}
	for _, v := range d.Variables {
		declared[v.Name] = true
	}
	for _, s := range d.Steps {
		for _, c := range s.Capture {
			declared[c.Name] = true
		}
	}
	var names []string
	for n := range declared {
		names = append(names, n)
	}
	sort.Strings(names)
	known := "none declared"
	if len(names) > 0 {
		known = "declared: " + strings.Join(names, ", ")
	}
	for _, r := range p.journeyRefs {
		if !declared[r.name] {
			p.Errs = append(p.Errs, &Error{Pos: r.pos, Path: r.path,
				Message: fmt.Sprintf("journey.%s: no such journey variable (%s)", r.name, known)})
		}
	}
}
