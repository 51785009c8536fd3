package policy

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/overture-cjo/overture/internal/journey"
)

// Error and ErrorList are the journey loader's: definition files of every
// kind report problems the same way, "FILE:LINE:COL: PATH: MESSAGE".
type (
	Error     = journey.Error
	ErrorList = journey.ErrorList
)

// Parse reads one contact policy (YAML or JSON) from data; file names it
// in error positions. The error, if any, is an ErrorList naming every
// problem, sorted by position. Every top-level field is optional:
//
//	consent:        {channels: [...], override_categories: [...]}
//	quiet_hours:    [{channel, from: "HH:MM", to: "HH:MM", when}]
//	frequency_caps: [{name, channel, category, max, window, when}]
//	suppression:    [{name, while_category | while_journey, suppress_category | suppress_journey, action: hold | drop, when}]
//	priority_window: DURATION
//
// Durations are Go durations or days ("7d"); cap names are required and
// unique; a suppression rule without a name is named WHILE_mutes_SUPPRESS.
// The optional when of a rule is a CEL condition over profile, message
// and now (see the package documentation), compiled here: a syntax or
// type error is reported at its position inside the expression, and an
// expression whose type is not bool (or dyn, checked when it runs) is an
// error. Quiet hours that together cover the whole day for a channel are
// an error, whatever their conditions say.
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
	lines []string // the file's lines, for positions inside block scalars
}

var (
	topFields         = []string{"consent", "quiet_hours", "frequency_caps", "suppression", "priority_window"}
	consentFields     = []string{"channels", "override_categories"}
	quietFields       = []string{"channel", "from", "to", "when"}
	capFields         = []string{"name", "channel", "category", "max", "window", "when"}
	suppressionFields = []string{"name", "while_category", "while_journey", "suppress_category", "suppress_journey", "action", "when"}

	namePattern  = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]*$`)
	clockPattern = regexp.MustCompile(`^([01][0-9]|2[0-3]):([0-5][0-9])$`)
)

func (p *parser) parse(data []byte) *Policy {
	root := p.DecodeDocument(data, "policy")
	if root == nil {
		return nil
	}
	if !p.mapping(root, "", strings.Join(topFields, ", ")) {
		return nil
	}
	pol := &Policy{}
	p.fields(root, "", topFields, func(key string, v *yaml.Node) {
		if v.Kind == yaml.ScalarNode && v.ShortTag() == "!!null" {
			return // "quiet_hours:" with nothing after it: none
		}
		switch key {
		case "consent":
			if p.mapping(v, key, "channels, override_categories") {
				p.fields(v, key, consentFields, func(k string, v *yaml.Node) {
					list := p.names(v, journey.JoinPath(key, k))
					if k == "channels" {
						pol.Consent.Channels = list
					} else {
						pol.Consent.OverrideCategories = list
					}
				})
			}
		case "quiet_hours":
			p.list(v, key, func(path string, v *yaml.Node) {
				if q, ok := p.quiet(v, path); ok {
					pol.QuietHours = append(pol.QuietHours, q)
				}
			})
			for _, w := range wholeDay(pol.QuietHours) {
				if w.conditional {
					p.Errorf(v, key, "the quiet hours for %s cover the whole day when their conditions hold: nothing could ever be sent then", w.channel)
				} else {
					p.Errorf(v, key, "the quiet hours for %s cover the whole day: nothing could ever be sent", w.channel)
				}
			}
		case "frequency_caps":
			seen := map[string]bool{}
			p.list(v, key, func(path string, v *yaml.Node) {
				if c, ok := p.capRule(v, path); ok {
					if seen[c.Name] {
						p.Errorf(v, path+".name", "repeated cap name %q", c.Name)
						return
					}
					seen[c.Name] = true
					pol.Caps = append(pol.Caps, c)
				}
			})
		case "suppression":
			seen := map[string]bool{}
			p.list(v, key, func(path string, v *yaml.Node) {
				if s, ok := p.suppression(v, path); ok {
					if seen[s.Name] {
						p.Errorf(v, path+".name", "repeated suppression rule name %q", s.Name)
						return
					}
					seen[s.Name] = true
					pol.Suppression = append(pol.Suppression, s)
				}
			})
		case "priority_window":
			pol.PriorityWindow = p.duration(v, key)
		}
	})
	return pol
}

func (p *parser) quiet(v *yaml.Node, path string) (QuietHours, bool) {
	if !p.mapping(v, path, "channel, from and to") {
		return QuietHours{}, false
	}
	q := QuietHours{From: -1, To: -1}
	ok := true
	p.fields(v, path, quietFields, func(k string, n *yaml.Node) {
		fp := journey.JoinPath(path, k)
		switch k {
		case "channel":
			q.Channel, _ = p.name(n, fp)
		case "when":
			if q.When = p.compile(n, fp); q.When == nil {
				ok = false
			}
		default:
			s, good := p.str(n, fp)
			if !good {
				ok = false
				return
			}
			m := clockPattern.FindStringSubmatch(s)
			if m == nil {
				p.Errorf(n, fp, "%q is not a time of day: want HH:MM, 00:00 to 23:59", s)
				ok = false
				return
			}
			h, _ := strconv.Atoi(m[1])
			mi, _ := strconv.Atoi(m[2])
			if k == "from" {
				q.From = h*60 + mi
			} else {
				q.To = h*60 + mi
			}
		}
	})
	for _, k := range []struct {
		name string
		val  int
	}{{"from", q.From}, {"to", q.To}} {
		if k.val < 0 && ok {
			p.Errorf(v, path, "missing field %s", k.name)
			ok = false
		}
	}
	if ok && q.From == q.To {
		p.Errorf(v, path, "from and to are both %s: the period would be empty", clock(q.From))
		ok = false
	}
	return q, ok
}

func (p *parser) capRule(v *yaml.Node, path string) (Cap, bool) {
	if !p.mapping(v, path, "name, max and window") {
		return Cap{}, false
	}
	var c Cap
	n := len(p.Errs)
	p.fields(v, path, capFields, func(k string, n *yaml.Node) {
		fp := journey.JoinPath(path, k)
		switch k {
		case "name":
			c.Name, _ = p.name(n, fp)
		case "channel":
			c.Channel, _ = p.name(n, fp)
		case "category":
			c.Category, _ = p.name(n, fp)
		case "max":
			i, err := strconv.Atoi(n.Value)
			if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!int" || err != nil || i < 1 {
				p.Errorf(n, fp, "expected a whole number of at least 1")
				c.Max = -1
				return
			}
			c.Max = i
		case "window":
			c.Window = p.duration(n, fp)
			if c.Window == 0 {
				c.Window = -1
			}
		case "when":
			c.When = p.compile(n, fp)
		}
	})
	if len(p.Errs) > n {
		return c, false
	}
	for _, f := range []struct {
		name    string
		missing bool
	}{{"name", c.Name == ""}, {"max", c.Max == 0}, {"window", c.Window == 0}} {
		if f.missing {
			p.Errorf(v, path, "missing field %s", f.name)
		}
	}
	return c, len(p.Errs) == n
}

func (p *parser) suppression(v *yaml.Node, path string) (Suppression, bool) {
	if !p.mapping(v, path, "while_category or while_journey, suppress_category or suppress_journey, and action") {
		return Suppression{}, false
	}
	var s Suppression
	n := len(p.Errs)
	p.fields(v, path, suppressionFields, func(k string, n *yaml.Node) {
		fp := journey.JoinPath(path, k)
		switch k {
		case "name":
			s.Name, _ = p.name(n, fp)
		case "while_category":
			s.WhileCategory, _ = p.name(n, fp)
		case "while_journey":
			s.WhileJourney, _ = p.name(n, fp)
		case "suppress_category":
			s.SuppressCategory, _ = p.name(n, fp)
		case "suppress_journey":
			s.SuppressJourney, _ = p.name(n, fp)
		case "action":
			if a, ok := p.str(n, fp); ok {
				if a != string(Hold) && a != string(Drop) {
					p.Errorf(n, fp, "%q is not an action: want hold or drop", a)
				}
				s.Action = Action(a)
			}
		case "when":
			s.When = p.compile(n, fp)
		}
	})
	if len(p.Errs) > n {
		return s, false
	}
	if (s.WhileCategory == "") == (s.WhileJourney == "") {
		p.Errorf(v, path, "want exactly one of while_category and while_journey")
	}
	if (s.SuppressCategory == "") == (s.SuppressJourney == "") {
		p.Errorf(v, path, "want exactly one of suppress_category and suppress_journey")
	}
	if s.Action == "" {
		p.Errorf(v, path, "missing field action (hold or drop)")
	}
	if s.Name == "" {
		s.Name = s.WhileCategory + s.WhileJourney + "_mutes_" + s.SuppressCategory + s.SuppressJourney
	}
	return s, len(p.Errs) == n
}

// fields is journey.Reporter.Fields, for callers that need no key node.
func (p *parser) fields(n *yaml.Node, path string, known []string, f func(key string, v *yaml.Node)) {
	p.Fields(n, path, known, func(key string, _, v *yaml.Node) { f(key, v) })
}

// list calls f for each item of sequence v with its path, reporting
// anything else.
func (p *parser) list(v *yaml.Node, path string, f func(path string, item *yaml.Node)) {
	if v.Kind != yaml.SequenceNode {
		p.Errorf(v, path, "expected a list")
		return
	}
	for i, item := range v.Content {
		f(fmt.Sprintf("%s[%d]", path, i), journey.Resolve(item))
	}
}

// names returns the list of names in sequence v, reporting bad and
// repeated ones.
func (p *parser) names(v *yaml.Node, path string) []string {
	var out []string
	p.list(v, path, func(fp string, n *yaml.Node) {
		if s, ok := p.name(n, fp); ok {
			if slices.Contains(out, s) {
				p.Errorf(n, fp, "repeated %q", s)
				return
			}
			out = append(out, s)
		}
	})
	return out
}

// mapping reports whether v is a mapping, reporting it if not.
func (p *parser) mapping(v *yaml.Node, path, want string) bool {
	if v.Kind != yaml.MappingNode {
		p.Errorf(v, path, "expected a mapping with %s", want)
		return false
	}
	return true
}

// str returns the string in scalar v, reporting anything else.
func (p *parser) str(v *yaml.Node, path string) (string, bool) {
	if v.Kind != yaml.ScalarNode || v.ShortTag() != "!!str" {
		p.Errorf(v, path, "expected a string")
		return "", false
	}
	return v.Value, true
}

// name returns the channel, category, journey or rule name in v,
// reporting anything that is not one.
func (p *parser) name(v *yaml.Node, path string) (string, bool) {
	s, ok := p.str(v, path)
	if ok && !namePattern.MatchString(s) {
		p.Errorf(v, path, "%q is not a valid name: want lower-case letters, digits, _ and - ([a-z0-9][a-z0-9_-]*)", s)
		return "", false
	}
	return s, ok
}

// duration returns the duration in v (see journey.ParseDuration), or 0
// after reporting why there is none.
func (p *parser) duration(v *yaml.Node, path string) time.Duration {
	s, ok := p.str(v, path)
	if !ok {
		return 0
	}
	d, err := journey.ParseDuration(s)
	if err != nil {
		p.Errorf(v, path, "%v", err)
		return 0
	}
	return d
}

// allDay is a channel whose quiet periods cover the whole day.
type allDay struct {
	channel     string // "all" for periods without one
	conditional bool   // some of the periods have a condition
}

// wholeDay returns the channels whose quiet periods together cover every
// minute of the day, whatever their conditions.
func wholeDay(qs []QuietHours) []allDay {
	var out []allDay
	var chans []string
	for _, q := range qs {
		if !slices.Contains(chans, q.Channel) {
			chans = append(chans, q.Channel)
		}
	}
	for _, ch := range chans {
		var minute [24 * 60]bool
		cond := false
		for _, q := range qs {
			if q.Channel != "" && q.Channel != ch {
				continue
			}
			cond = cond || q.When != nil
			for m := q.From; m != q.To; m = (m + 1) % (24 * 60) {
				minute[m] = true
			}
		}
		if !slices.Contains(minute[:], false) {
			out = append(out, allDay{channel: (&QuietHours{Channel: ch}).channel(), conditional: cond})
		}
	}
	return out
}
