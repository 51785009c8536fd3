package touchpoint

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"cel.dev/cel-go/cel"
)

// Set is an immutable set of compiled interaction policies, safe for
// concurrent use: the value tiers, the interaction window and every rule,
// ranked for each touchpoint.
type Set struct {
	policies []*Policy // by id
	tiers    []*Tier   // the value tiers of the one policy declaring them
	window   time.Duration
	rules    [numTouchpoints][]ranked // by touchpoint (index in Touchpoints), best first
}

const numTouchpoints = 5

// ranked is a rule and the action it recommends.
type ranked struct {
	rule   *Rule
	action Action
}

// NewSet returns the set of policies, which must come from Parse or Load.
// Policies are checked together: policy ids and rule ids must be unique
// across them; at most one policy may declare value_tiers (the tiers are
// a customer's, not a file's: one list, in one place); the policies that
// set interaction_window must agree on it (the request counts interactions
// over one window, see Window); and a rule comparing `tier` with a string
// literal must name a declared tier or "standard". The error, if any, is
// an ErrorList sorted by position.
func NewSet(policies []*Policy) (*Set, error) {
	for _, p := range policies {
		if p == nil {
			return nil, fmt.Errorf("touchpoint: NewSet needs policies made by Parse")
		}
		for _, r := range p.Rules {
			if r.program == nil {
				return nil, fmt.Errorf("touchpoint: NewSet needs policies made by Parse")
			}
		}
		for _, t := range p.Tiers {
			if t.program == nil {
				return nil, fmt.Errorf("touchpoint: NewSet needs policies made by Parse")
			}
		}
	}
	s, errs := check(policies)
	if len(errs) > 0 {
		errs.Sort()
		return nil, errs
	}
	return s, nil
}

// check builds the set of policies, reporting what NewSet rejects.
func check(policies []*Policy) (*Set, ErrorList) {
	var errs ErrorList
	s := &Set{policies: slices.Clone(policies)}
	slices.SortStableFunc(s.policies, func(a, b *Policy) int { return strings.Compare(a.ID, b.ID) })
	var tiersFrom, windowFrom *Policy
	byID := map[string]*Policy{}
	rules := map[string]*Rule{}
	for _, p := range s.policies {
		if first, ok := byID[p.ID]; ok {
			errs = append(errs, &Error{Pos: p.idPos, Path: "id", Message: fmt.Sprintf("duplicate policy id %q (also in %s)", p.ID, first.idPos)})
			continue
		}
		byID[p.ID] = p
		if p.Tiers != nil {
			if tiersFrom != nil {
				errs = append(errs, &Error{Pos: p.tiersPos, Path: "value_tiers",
					Message: fmt.Sprintf("value tiers are also declared in %s: declare them in one policy only", tiersFrom.tiersPos)})
			} else {
				tiersFrom, s.tiers = p, p.Tiers
			}
		}
		if p.Window != 0 {
			if windowFrom != nil && windowFrom.Window != p.Window {
				errs = append(errs, &Error{Pos: p.windowPos, Path: "interaction_window",
					Message: fmt.Sprintf("%s differs from %s in %s: the policies of a set count interactions over one window", p.Window, windowFrom.Window, windowFrom.windowPos)})
			} else if windowFrom == nil {
				windowFrom, s.window = p, p.Window
			}
		}
		for i, r := range p.Rules {
			if first, ok := rules[r.ID]; ok {
				errs = append(errs, &Error{Pos: r.idPos, Path: fmt.Sprintf("rules[%d].id", i),
					Message: fmt.Sprintf("duplicate rule id %q (also in %s)", r.ID, first.idPos)})
				continue
			}
			rules[r.ID] = r
			a := Action{
				Rule: r.ID, Policy: p.ID, Type: r.ActionType, Target: r.Target, SkipBot: r.SkipBot,
				Params: r.Params, Priority: r.Priority, Reason: r.reason(),
			}
			for t := range numTouchpoints {
				if r.mask&(1<<t) != 0 {
					s.rules[t] = append(s.rules[t], ranked{r, a})
				}
			}
		}
	}
	if s.window == 0 {
		s.window = DefaultWindow
	}
	known := []string{}
	for _, t := range s.tiers {
		known = append(known, t.Name)
	}
	known = append(known, StandardTier)
	for _, p := range s.policies {
		for i, r := range p.Rules {
			for _, ref := range r.tierRefs {
				if !slices.Contains(known, ref.name) {
					errs = append(errs, &Error{Pos: ref.pos, Path: fmt.Sprintf("rules[%d].when", i),
						Message: fmt.Sprintf("no value tier %q (want %s)", ref.name, strings.Join(known, ", "))})
				}
			}
		}
	}
	for t := range s.rules {
		slices.SortFunc(s.rules[t], func(a, b ranked) int {
			if a.rule.Priority != b.rule.Priority {
				return b.rule.Priority - a.rule.Priority
			}
			return strings.Compare(a.rule.ID, b.rule.ID)
		})
	}
	return s, errs
}

// reason is the rule's Reason, else its description, else its condition.
func (r *Rule) reason() string {
	switch {
	case r.Reason != "":
		return r.Reason
	case r.Description != "":
		return r.Description
	}
	return r.Condition
}

// Policies returns the policies sorted by id. The caller must not change
// the slice.
func (s *Set) Policies() []*Policy { return s.policies }

// Tiers returns the value tiers in the order they are tried, without
// "standard". The caller must not change the slice.
func (s *Set) Tiers() []*Tier { return s.tiers }

// Window returns how far back the caller must count Input.Interactions:
// the interaction_window the policies set, or DefaultWindow if none does.
func (s *Set) Window() time.Duration { return s.window }

// ValidTouchpoint returns an error unless tp is one of Touchpoints.
func ValidTouchpoint(tp string) error {
	if touchpointIndex(tp) < 0 {
		return fmt.Errorf("unknown touchpoint %q (want %s)", tp, strings.Join(Touchpoints, ", "))
	}
	return nil
}

func touchpointIndex(tp string) int {
	switch tp {
	case "chat":
		return 0
	case "ivr":
		return 1
	case "web":
		return 2
	case "app":
		return 3
	case "agent":
		return 4
	}
	return -1
}

// Input is one request from a touchpoint: who is asking, where, and what
// the caller knows of them. Every field is read, never changed.
type Input struct {
	// Profile is `profile`: core.ProfileMap of the customer's profile,
	// plus "computed" (the computed traits' values). Nil is an empty map.
	Profile map[string]any
	// Touchpoint is `touchpoint`, one of Touchpoints.
	Touchpoint string
	// Context is `context`: whatever the touchpoint sends along (the
	// page, the IVR menu, the intent the bot recognised...). Nil is an
	// empty map.
	Context map[string]any
	// Interactions is `interactions`: the number of the customer's
	// interactions per channel over the last Set.Window() before Now (the
	// caller counts them). Channels it leaves out count 0.
	Interactions map[string]int
	// Journeys is `journeys`: the customer's active journey instances.
	// in_journey and in_step look here.
	Journeys []Journey
	// Now is `now`, the time of the request.
	Now time.Time
}

// Journey is one active journey instance of the customer.
type Journey struct {
	ID        string    // the journey's id
	Step      string    // the step the instance is at
	Category  string    // the journey's category, or ""
	EnteredAt time.Time // when the instance entered the journey
}

// Result is what Evaluate recommends.
type Result struct {
	Tier       string   // the customer's value tier ("standard" if none matched)
	TierReason string   // why: the tier's description or condition
	Actions    []Action // the recommendations, best first; nil if none
	// Errors are the conditions that failed to evaluate (and so did not
	// match), as "rule ID (policy P): MESSAGE" or "value tier NAME
	// (policy P): MESSAGE", in the order evaluated; or the touchpoint's
	// problem alone. Nil if none.
	Errors []string
}

// Action is one recommendation: a rule that matched and what it
// recommends.
type Action struct {
	Rule     string            `json:"rule"`             // the rule's id
	Policy   string            `json:"policy"`           // the id of the policy holding the rule
	Type     string            `json:"type"`             // one of ActionTypes
	Target   string            `json:"target,omitempty"` // where to route, which offer or message; "" for suppress_offers
	SkipBot  bool              `json:"skipBot"`          // route straight past the bot or IVR menus
	Params   map[string]string `json:"params,omitempty"` // action.params, shared with the rule: do not change; nil if none
	Priority int               `json:"priority"`         // the rule's priority
	// Reason says why: the rule's reason, else its description, else its
	// condition.
	Reason string `json:"reason"`
}

// Tier returns the customer's value tier, the first declared one whose
// condition holds, or "standard", and the reason: the tier's description,
// else its condition. A tier whose condition fails to evaluate does not
// match (Evaluate reports why). The touchpoint is not checked.
func (s *Set) Tier(in Input) (tier, reason string) {
	v := newVars(&in)
	return s.tier(v, nil)
}

func (s *Set) tier(v *vars, errs *[]string) (string, string) {
	for _, t := range s.tiers {
		ok, err := match(t.program, v)
		if err != nil {
			if errs != nil {
				*errs = append(*errs, fmt.Sprintf("value tier %s (policy %s): %v", t.Name, t.policy, err))
			}
			continue
		}
		if ok {
			return t.Name, t.reason
		}
	}
	if len(s.tiers) == 0 {
		return StandardTier, "no value tiers are declared"
	}
	return StandardTier, "matched no value tier"
}

// Evaluate answers a touchpoint's request: the customer's value tier and
// the actions of the rules for in.Touchpoint whose conditions hold, ranked
// by priority (highest first), then rule id. A suppress_offers action
// drops the offer actions ranked below it. Conditions that fail to
// evaluate do not match; their errors are in Result.Errors.
//
// An in.Touchpoint that is not one of Touchpoints evaluates nothing: the
// Result holds only the error of ValidTouchpoint, which callers facing a
// client should call first to reject the request.
func (s *Set) Evaluate(in Input) Result {
	tp := touchpointIndex(in.Touchpoint)
	if tp < 0 {
		return Result{Errors: []string{ValidTouchpoint(in.Touchpoint).Error()}}
	}
	v := newVars(&in)
	var r Result
	r.Tier, r.TierReason = s.tier(v, &r.Errors)
	v.tier, v.hasTier = r.Tier, true
	suppressed := false
	for _, e := range s.rules[tp] {
		rule := e.rule
		ok, err := match(rule.program, v)
		if err != nil {
			r.Errors = append(r.Errors, fmt.Sprintf("rule %s (policy %s): %v", rule.ID, rule.policy, err))
			continue
		}
		if !ok || suppressed && rule.ActionType == ActionOffer {
			continue
		}
		suppressed = suppressed || rule.ActionType == ActionSuppressOffers
		r.Actions = append(r.Actions, e.action)
	}
	return r
}

// match evaluates a condition; an error or a value that is not a bool
// does not match.
func match(prg cel.Program, v *vars) (bool, error) {
	out, _, err := prg.Eval(v)
	if err != nil {
		return false, err
	}
	b, ok := out.Value().(bool)
	if !ok {
		return false, fmt.Errorf("condition must be bool, not %s", out.Type())
	}
	return b, nil
}
