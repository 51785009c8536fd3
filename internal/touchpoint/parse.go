package touchpoint

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"cel.dev/cel-go/cel"
	"gopkg.in/yaml.v3"

	"github.com/overture-cjo/overture/internal/journey"
)

// Pos, Error and ErrorList are the journey loader's: definition files of
// every kind report problems the same way, "FILE:LINE:COL: PATH: MESSAGE".
type (
	Pos       = journey.Pos
	Error     = journey.Error
	ErrorList = journey.ErrorList
)

// Touchpoints are the touchpoints that ask for recommendations, in the
// order rules and errors list them.
var Touchpoints = []string{"chat", "ivr", "web", "app", "agent"}

// InteractionChannels are the channels `interactions` iterates over even
// when the customer used none of them (besides those the input counts).
// Every channel name reads as a count, 0 when there were none.
var InteractionChannels = []string{"email", "sms", "push", "voice", "whatsapp", "web", "app", "ivr", "chat", "agent"}

// The action types a rule may recommend.
const (
	// ActionRoute sends the interaction to Target (a queue, team or bot
	// flow); SkipBot asks to bypass the bot or IVR menus on the way.
	ActionRoute = "route"
	// ActionOffer presents the offer named by Target.
	ActionOffer = "offer"
	// ActionMessage shows or says the message named by Target.
	ActionMessage = "message"
	// ActionSuppressOffers makes no offer in this interaction: Evaluate
	// drops the offer actions ranked below it. It has no target.
	ActionSuppressOffers = "suppress_offers"
)

// ActionTypes are the action types, in the order error messages list them.
var ActionTypes = []string{ActionRoute, ActionOffer, ActionMessage, ActionSuppressOffers}

// StandardTier is the value tier of a profile matching none of the
// declared ones.
const StandardTier = "standard"

// DefaultWindow is the interaction window of a set none of whose
// policies sets interaction_window.
const DefaultWindow = time.Hour

// DefaultPriority is the priority of a rule that gives none.
const DefaultPriority = 50

// MaxPriority is the highest priority a rule may have (the lowest is 0).
const MaxPriority = 1000

// Policy is one compiled interaction policy file: value tiers and rules.
type Policy struct {
	ID          string
	Description string
	// Window is interaction_window, how far back `interactions` counts; 0
	// if the file does not set it (see Set.Window).
	Window time.Duration
	Tiers  []*Tier // value_tiers in file order (first match wins); nil if none
	Rules  []*Rule // in file order

	Pos Pos // where the definition starts

	idPos, windowPos, tiersPos Pos
}

// Tier is one value tier: profiles matching Condition (and no tier
// before it) are in it.
type Tier struct {
	Name        string
	Description string   // "" if not given
	Condition   string   // the CEL source of when
	Journeys    []string // the journey ids passed to in_journey and in_step, sorted, each once

	Pos          Pos // where the tier starts
	ConditionPos Pos // where the condition starts

	policy  string
	reason  string
	program cel.Program
	refs    []journeyRef
	namePos Pos
}

// Rule is one interaction rule: when Condition holds for a request from
// one of Touchpoints, it recommends an action.
type Rule struct {
	ID          string
	Description string   // "" if not given
	Touchpoints []string // the touchpoints it applies to, in Touchpoints order
	Condition   string   // the CEL source of when

	ActionType string            // one of ActionTypes
	Target     string            // "" for suppress_offers
	SkipBot    bool              // route only
	Params     map[string]string // action.params; nil if none

	Priority int    // 0..MaxPriority; higher first
	Reason   string // as written; "" if not given (see Action.Reason)

	// Journeys are the journey ids passed to in_journey and in_step,
	// sorted, each once.
	Journeys []string

	Pos          Pos // where the rule starts
	ConditionPos Pos // where the condition starts

	policy   string
	program  cel.Program
	refs     []journeyRef
	tierRefs []tierRef
	idPos    Pos
	mask     uint8 // bit i: Touchpoints[i]
}

// journeyRef is one in_journey or in_step call: the journey id, the step
// ("" for in_journey) and where the call names them.
type journeyRef struct {
	journey, step string
	pos           Pos
}

// tierRef is a string literal that a condition compares `tier` with.
type tierRef struct {
	name string
	pos  Pos
}

// CheckJourneys reports, at the call, each in_journey and in_step in the
// policy's conditions naming a journey (step is "") or a step of a journey
// that known says is not defined. It returns nil if there is none.
func (p *Policy) CheckJourneys(known func(journey, step string) bool) ErrorList {
	var errs ErrorList
	check := func(refs []journeyRef, path string) {
		for _, r := range refs {
			switch {
			case !known(r.journey, ""):
				errs = append(errs, &Error{Pos: r.pos, Path: path, Message: fmt.Sprintf("no journey with id %q", r.journey)})
			case r.step != "" && !known(r.journey, r.step):
				errs = append(errs, &Error{Pos: r.pos, Path: path, Message: fmt.Sprintf("journey %q has no step %q", r.journey, r.step)})
			}
		}
	}
	for i, t := range p.Tiers {
		check(t.refs, fmt.Sprintf("value_tiers[%d].when", i))
	}
	for i, r := range p.Rules {
		check(r.refs, fmt.Sprintf("rules[%d].when", i))
	}
	errs.Sort()
	return errs
}

var idPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]*$`)

const idHelp = "want lower-case letters, digits, _ and - ([a-z0-9][a-z0-9_-]*)"

// Load parses every interaction policy file (*.yaml, *.yml, *.json)
// directly in dir and checks them together as NewSet does. A missing dir
// has no policies: Load returns nil, nil. Problems in the files are
// returned together as an ErrorList sorted by file, line and column, with
// the policies that parsed (so a validator can check them further); a file
// that cannot be read is returned as it is, alone.
func Load(dir string) ([]*Policy, error) {
	pols, err := journey.LoadDir(dir, "interaction policy", Parse, nil)
	var errs ErrorList
	if err != nil && !errors.As(err, &errs) {
		return nil, err
	}
	_, setErrs := check(pols)
	errs = append(errs, setErrs...)
	if len(errs) > 0 {
		errs.Sort()
		return pols, errs
	}
	return pols, nil
}

// Parse compiles one interaction policy (YAML or JSON) from data; file
// names it in error positions. The error, if any, is an ErrorList naming
// every problem, sorted by position.
func Parse(file string, data []byte) (*Policy, error) {
	p := &parser{Reporter: journey.Reporter{File: file}, lines: strings.Split(string(data), "\n")}
	pol := p.parse(data)
	if len(p.Errs) > 0 {
		p.Errs.Sort()
		return nil, p.Errs
	}
	return pol, nil
}

type parser struct {
	journey.Reporter
	lines []string // the file's lines, for positions in block scalars
}

var (
	topFields    = []string{"id", "description", "interaction_window", "value_tiers", "rules"}
	tierFields   = []string{"name", "description", "when"}
	ruleFields   = []string{"id", "description", "touchpoints", "when", "action", "priority", "reason"}
	actionFields = []string{"type", "target", "skip_bot", "params"}
)

func (p *parser) parse(data []byte) *Policy {
	root := p.DecodeDocument(data, "policy")
	if root == nil {
		return nil
	}
	if root.Kind != yaml.MappingNode {
		p.Errorf(root, "", "expected a mapping with id, value_tiers and rules (one policy per file)")
		return nil
	}
	pol := &Policy{Pos: p.Pos(root)}
	var hasID bool
	p.Fields(root, "", topFields, func(key string, k, v *yaml.Node) {
		switch key {
		case "id":
			hasID = true
			pol.ID, pol.idPos = p.id(v, key), p.Pos(v)
		case "description":
			pol.Description, _ = p.str(v, key)
		case "interaction_window":
			pol.windowPos = p.Pos(v)
			if s, ok := p.str(v, key); ok {
				d, err := journey.ParseDuration(s)
				if err != nil {
					p.Errorf(v, key, "%v", err)
				}
				pol.Window = d
			}
		case "value_tiers":
			pol.tiersPos = p.Pos(v)
			seen := map[string]bool{}
			p.list(v, key, "value tiers", func(path string, item *yaml.Node) {
				t, ok := p.tier(item, path)
				if t != nil && t.Name != "" {
					if seen[t.Name] {
						p.Errs = append(p.Errs, &Error{Pos: t.namePos, Path: path + ".name", Message: fmt.Sprintf("repeated tier name %q", t.Name)})
						return
					}
					seen[t.Name] = true
				}
				if ok {
					pol.Tiers = append(pol.Tiers, t)
				}
			})
		case "rules":
			seen := map[string]Pos{}
			p.list(v, key, "rules", func(path string, item *yaml.Node) {
				r, ok := p.rule(item, path)
				if r != nil && r.ID != "" {
					if at, dup := seen[r.ID]; dup {
						p.Errs = append(p.Errs, &Error{Pos: r.idPos, Path: path + ".id", Message: fmt.Sprintf("repeated rule id %q (also at %s)", r.ID, at)})
						return
					}
					seen[r.ID] = r.idPos
				}
				if ok {
					pol.Rules = append(pol.Rules, r)
				}
			})
		}
	})
	if !hasID {
		p.Errorf(root, "id", "required")
	}
	for _, t := range pol.Tiers {
		t.policy = pol.ID
	}
	for _, r := range pol.Rules {
		r.policy = pol.ID
	}
	return pol
}

// tier parses one value tier; ok is false after reporting problems in it
// (t is nil if it is not even a mapping).
func (p *parser) tier(n *yaml.Node, path string) (t *Tier, ok bool) {
	if !p.mapping(n, path, "name and when") {
		return nil, false
	}
	before := len(p.Errs)
	t = &Tier{Pos: p.Pos(n)}
	var hasName, hasWhen bool
	p.Fields(n, path, tierFields, func(key string, k, v *yaml.Node) {
		fp := journey.JoinPath(path, key)
		switch key {
		case "name":
			hasName = true
			t.Name, t.namePos = p.id(v, fp), p.Pos(v)
			if t.Name == StandardTier {
				p.Errorf(v, fp, "%q is the tier of profiles matching no other: it cannot be declared", StandardTier)
			}
		case "description":
			t.Description, _ = p.str(v, fp)
		case "when":
			hasWhen = true
			if s, ok := p.str(v, fp); ok {
				t.Condition, t.ConditionPos = s, p.Pos(v)
				c := p.compile(v, fp, tierEnv)
				t.program, t.refs, t.Journeys = c.program, c.refs, c.journeys
			}
		}
	})
	if !hasName {
		p.Errorf(n, journey.JoinPath(path, "name"), "required")
	}
	if !hasWhen {
		p.Errorf(n, journey.JoinPath(path, "when"), "required")
	}
	t.reason = t.Description
	if t.reason == "" {
		t.reason = t.Condition
	}
	return t, len(p.Errs) == before
}

// rule parses one rule; ok is false after reporting problems in it (r is
// nil if it is not even a mapping).
func (p *parser) rule(n *yaml.Node, path string) (r *Rule, ok bool) {
	if !p.mapping(n, path, "id, when and action") {
		return nil, false
	}
	before := len(p.Errs)
	r = &Rule{Pos: p.Pos(n), Priority: DefaultPriority, mask: 1<<numTouchpoints - 1}
	var hasID, hasWhen, hasAction bool
	p.Fields(n, path, ruleFields, func(key string, k, v *yaml.Node) {
		fp := journey.JoinPath(path, key)
		switch key {
		case "id":
			hasID = true
			r.ID, r.idPos = p.id(v, fp), p.Pos(v)
		case "description":
			r.Description, _ = p.str(v, fp)
		case "touchpoints":
			r.mask = p.touchpoints(v, fp)
		case "when":
			hasWhen = true
			if s, ok := p.str(v, fp); ok {
				r.Condition, r.ConditionPos = s, p.Pos(v)
				c := p.compile(v, fp, ruleEnv)
				r.program, r.refs, r.tierRefs, r.Journeys = c.program, c.refs, c.tierRefs, c.journeys
			}
		case "action":
			hasAction = true
			p.action(r, v, fp)
		case "priority":
			i, err := strconv.Atoi(v.Value)
			if v.Kind != yaml.ScalarNode || v.ShortTag() != "!!int" || err != nil || i < 0 || i > MaxPriority {
				p.Errorf(v, fp, "expected a whole number from 0 to %d", MaxPriority)
				return
			}
			r.Priority = i
		case "reason":
			if s, ok := p.str(v, fp); ok {
				r.Reason = s
				if strings.TrimSpace(s) == "" {
					p.Errorf(v, fp, "empty reason: omit it to give the description")
				}
			}
		}
	})
	for _, f := range []struct {
		name string
		has  bool
	}{{"id", hasID}, {"when", hasWhen}, {"action", hasAction}} {
		if !f.has {
			p.Errorf(n, journey.JoinPath(path, f.name), "required")
		}
	}
	for i, tp := range Touchpoints {
		if r.mask&(1<<i) != 0 {
			r.Touchpoints = append(r.Touchpoints, tp)
		}
	}
	return r, len(p.Errs) == before
}

// touchpoints returns the mask of the touchpoints listed in v, reporting
// unknown and repeated ones.
func (p *parser) touchpoints(v *yaml.Node, path string) uint8 {
	var mask uint8
	if v.Kind == yaml.SequenceNode && len(v.Content) == 0 {
		p.Errorf(v, path, "empty list: omit touchpoints for all of them")
		return 0
	}
	p.list(v, path, "touchpoints", func(ip string, item *yaml.Node) {
		s, ok := p.str(item, ip)
		if !ok {
			return
		}
		i := touchpointIndex(s)
		switch {
		case i < 0:
			p.Errorf(item, ip, "unknown touchpoint %q (want %s)", s, strings.Join(Touchpoints, ", "))
		case mask&(1<<i) != 0:
			p.Errorf(item, ip, "repeated %q", s)
		default:
			mask |= 1 << i
		}
	})
	return mask
}

// action parses a rule's action into r.
func (p *parser) action(r *Rule, n *yaml.Node, path string) {
	if !p.mapping(n, path, "type and target") {
		return
	}
	var target, skipBot *yaml.Node
	var hasType bool
	p.Fields(n, path, actionFields, func(key string, k, v *yaml.Node) {
		fp := journey.JoinPath(path, key)
		switch key {
		case "type":
			hasType = true
			if s, ok := p.str(v, fp); ok {
				if !slices.Contains(ActionTypes, s) {
					p.Errorf(v, fp, "unknown action type %q (want %s)", s, strings.Join(ActionTypes, ", "))
					return
				}
				r.ActionType = s
			}
		case "target":
			target = v
			r.Target = p.id(v, fp)
		case "skip_bot":
			skipBot = k
			if v.Kind != yaml.ScalarNode || v.ShortTag() != "!!bool" {
				p.Errorf(v, fp, "expected true or false")
				return
			}
			_ = v.Decode(&r.SkipBot)
		case "params":
			r.Params = p.params(v, fp)
		}
	})
	switch {
	case !hasType:
		p.Errorf(n, journey.JoinPath(path, "type"), "required (%s)", strings.Join(ActionTypes, ", "))
	case r.ActionType == ActionSuppressOffers && target != nil:
		p.Errorf(target, journey.JoinPath(path, "target"), "suppress_offers takes no target")
	case r.ActionType != "" && r.ActionType != ActionSuppressOffers && target == nil:
		p.Errorf(n, journey.JoinPath(path, "target"), "required for %s", r.ActionType)
	}
	if skipBot != nil && r.ActionType != "" && r.ActionType != ActionRoute {
		p.Errorf(skipBot, journey.JoinPath(path, "skip_bot"), "only route actions skip the bot")
	}
}

// params returns the mapping of strings in v, reporting anything else.
func (p *parser) params(v *yaml.Node, path string) map[string]string {
	if !p.mapping(v, path, "string values") {
		return nil
	}
	out := make(map[string]string, len(v.Content)/2)
	for i := 0; i+1 < len(v.Content); i += 2 {
		k, val := journey.Resolve(v.Content[i]), journey.Resolve(v.Content[i+1])
		if k.Kind != yaml.ScalarNode || k.Value == "" {
			p.Errorf(k, path, "keys must be plain names")
			continue
		}
		fp := journey.JoinPath(path, k.Value)
		if _, dup := out[k.Value]; dup {
			p.Errorf(k, fp, "repeated field")
			continue
		}
		if val.Kind != yaml.ScalarNode || val.ShortTag() != "!!str" {
			p.Errorf(val, fp, "expected a string (quote numbers and booleans)")
			continue
		}
		out[k.Value] = val.Value
	}
	return out
}

// id returns the id or name in scalar v, reporting anything else.
func (p *parser) id(v *yaml.Node, path string) string {
	s, ok := p.str(v, path)
	if ok && !idPattern.MatchString(s) {
		p.Errorf(v, path, "%q is not a valid id: %s", s, idHelp)
	}
	return s
}

// str returns the string in scalar v, reporting anything else.
func (p *parser) str(v *yaml.Node, path string) (string, bool) {
	if v.Kind != yaml.ScalarNode || v.ShortTag() != "!!str" {
		p.Errorf(v, path, "expected a string")
		return "", false
	}
	return v.Value, true
}

// mapping reports whether v is a mapping, reporting it if not.
func (p *parser) mapping(v *yaml.Node, path, want string) bool {
	if v.Kind != yaml.MappingNode {
		p.Errorf(v, path, "expected a mapping with %s", want)
		return false
	}
	return true
}

// list calls f for each item of sequence v with its path, reporting
// anything else (what names the items).
func (p *parser) list(v *yaml.Node, path, what string, f func(path string, item *yaml.Node)) {
	if v.Kind != yaml.SequenceNode {
		p.Errorf(v, path, "expected a list of %s", what)
		return
	}
	for i, item := range v.Content {
		f(fmt.Sprintf("%s[%d]", path, i), journey.Resolve(item))
	}
}
