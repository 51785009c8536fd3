package decide

import (
	"fmt"
	"math"
	"regexp"
	"slices"
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

// Offer is one compiled offer definition: something the business may
// propose to a customer (a discount, an add-on, an upgrade), when it may,
// and what it is worth.
type Offer struct {
	ID          string
	Name        string // "" if not given
	Description string
	// Category is what the contact policy caps and suppresses by
	// (retention, upsell...).
	Category string
	// Eligibility is the CEL source of the condition, "" if every customer
	// is eligible.
	Eligibility string
	// Value is the business value of one conversion (> 0).
	Value float64
	// Weight scales the score (>= 0, default 1): a business lever to push
	// or hold back an offer without touching its value.
	Weight float64
	// Channels are the channels the offer may go out on, sorted; nil means
	// any.
	Channels []string
	// CoolOff is how long after an impression the offer is not shown to the
	// same customer again; 0 means no cool-off.
	CoolOff time.Duration
	// MaxImpressions is how many times one customer may see the offer; 0
	// means no limit.
	MaxImpressions int
	// Explore ranks by a Thompson draw from the posterior (default true);
	// false ranks by the posterior mean.
	Explore bool
	// Prior is the Beta prior of the conversion rate (default {1, 1}).
	Prior Prior
	// Context is the CEL source of the context bucket key, "" if the offer
	// keeps one posterior for everyone.
	Context string
	// Outcome is what counts as a conversion of an impression.
	Outcome Outcome

	Pos            Pos // where the definition starts
	EligibilityPos Pos // where the eligibility condition starts
	ContextPos     Pos // where the context expression starts

	eligibility cel.Program // nil: always eligible
	context     cel.Program // nil: bucket ""
	idPos       Pos
	compiled    bool // made by Parse
}

// Prior is a Beta(Alpha, Beta) prior of a conversion rate: worth Alpha-1
// conversions and Beta-1 non-conversions seen before any data. Both are
// greater than zero.
type Prior struct {
	Alpha, Beta float64
}

// Outcome says which events convert an impression of the offer and within
// how long of it.
type Outcome struct {
	Events []string      // event names, each once, in file order (default [offer_accepted])
	Within time.Duration // default 7 days
}

// Default values of the optional fields.
const (
	DefaultOutcomeEvent  = "offer_accepted"
	DefaultOutcomeWithin = 7 * 24 * time.Hour
)

// Converts reports whether an event named event counts as a conversion of
// an impression of the offer (within Outcome.Within of it, which the
// caller checks).
func (o *Offer) Converts(event string) bool {
	return slices.Contains(o.Outcome.Events, event)
}

// OnChannel reports whether the offer may go out on channel.
func (o *Offer) OnChannel(channel string) bool {
	return o.Channels == nil || slices.Contains(o.Channels, channel)
}

// Posterior returns the parameters of the Beta posterior of the offer's
// conversion rate given s: Beta(Prior.Alpha + successes, Prior.Beta +
// impressions - successes), with successes and failures counted as at
// least zero.
func (o *Offer) Posterior(s Stat) (alpha, beta float64) {
	succ := max(s.Successes, 0)
	fail := max(s.Impressions-succ, 0)
	return o.Prior.Alpha + float64(succ), o.Prior.Beta + float64(fail)
}

var (
	idPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]*$`)
	// namePattern is the contact policy's, for categories and channels, so
	// that every category and channel an offer names can be capped.
	namePattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]*$`)
)

// Load parses every offer file (*.yaml, *.yml, *.json) directly in dir
// and checks that ids are unique across them. A missing dir has no
// offers: Load returns nil, nil. Problems in the files are returned
// together as an ErrorList sorted by file, line and column, with the
// offers that had none; a file that cannot be read is returned as it is,
// alone.
func Load(dir string) ([]*Offer, error) {
	return journey.LoadDir(dir, "offer", Parse, func(o *Offer) (string, Pos) { return o.ID, o.idPos })
}

// Parse compiles one offer definition (YAML or JSON) from data; file names
// it in error positions. The error, if any, is an ErrorList naming every
// problem, sorted by position.
func Parse(file string, data []byte) (*Offer, error) {
	p := &parser{Reporter: journey.Reporter{File: file}, lines: strings.Split(string(data), "\n")}
	o := p.parse(data)
	if len(p.Errs) > 0 {
		p.Errs.Sort()
		return nil, p.Errs
	}
	o.compiled = true
	return o, nil
}

type parser struct {
	journey.Reporter
	lines []string // the file's lines, for positions in block scalars
}

var (
	topFields     = []string{"id", "name", "description", "category", "eligibility", "value", "weight", "channels", "cool_off", "max_impressions", "explore", "prior", "context", "outcome"}
	priorFields   = []string{"alpha", "beta"}
	outcomeFields = []string{"events", "within"}
)

func (p *parser) parse(data []byte) *Offer {
	root := p.DecodeDocument(data, "offer")
	if root == nil {
		return nil
	}
	if root.Kind != yaml.MappingNode {
		p.Errorf(root, "", "expected a mapping with id, category and value (one offer per file)")
		return nil
	}
	o := &Offer{
		Weight:  1,
		Explore: true,
		Prior:   Prior{Alpha: 1, Beta: 1},
		Outcome: Outcome{Events: []string{DefaultOutcomeEvent}, Within: DefaultOutcomeWithin},
		Pos:     p.Pos(root),
	}
	var hasID, hasCategory, hasValue bool
	p.Fields(root, "", topFields, func(key string, _, v *yaml.Node) {
		switch key {
		case "id":
			hasID = true
			if s, ok := p.str(v, key); ok {
				o.ID, o.idPos = s, p.Pos(v)
				if !idPattern.MatchString(s) {
					p.Errorf(v, key, "%q is not a valid id: want lower-case letters, digits, _ and - ([a-z0-9][a-z0-9_-]*)", s)
				}
			}
		case "name":
			o.Name, _ = p.str(v, key)
		case "description":
			o.Description, _ = p.str(v, key)
		case "category":
			hasCategory = true
			o.Category, _ = p.name(v, key)
		case "eligibility":
			if s, ok := p.str(v, key); ok {
				o.Eligibility, o.EligibilityPos = s, p.Pos(v)
				if strings.TrimSpace(s) == "" {
					p.Errorf(v, key, "empty condition: leave the field out to make every customer eligible")
				} else {
					o.eligibility = p.compile(v, key, true)
				}
			}
		case "value":
			hasValue = true
			if f, ok := p.number(v, key); ok {
				if f <= 0 {
					p.Errorf(v, key, "must be greater than zero")
				}
				o.Value = f
			}
		case "weight":
			if f, ok := p.number(v, key); ok {
				if f < 0 {
					p.Errorf(v, key, "must not be negative")
				}
				o.Weight = f
			}
		case "channels":
			o.Channels = p.names(v, key)
			if v.Kind == yaml.SequenceNode && len(v.Content) == 0 {
				p.Errorf(v, key, "empty list: leave the field out to allow every channel")
			}
			slices.Sort(o.Channels)
		case "cool_off":
			o.CoolOff = p.duration(v, key)
		case "max_impressions":
			var n int
			if v.Kind != yaml.ScalarNode || v.ShortTag() != "!!int" || v.Decode(&n) != nil || n < 0 {
				p.Errorf(v, key, "expected a whole number, 0 or more (0: no limit)")
				return
			}
			o.MaxImpressions = n
		case "explore":
			if v.Kind != yaml.ScalarNode || v.ShortTag() != "!!bool" {
				p.Errorf(v, key, "expected true or false")
				return
			}
			_ = v.Decode(&o.Explore)
		case "prior":
			p.prior(o, v, key)
		case "context":
			if s, ok := p.str(v, key); ok {
				o.Context, o.ContextPos = s, p.Pos(v)
				if strings.TrimSpace(s) == "" {
					p.Errorf(v, key, "empty expression: leave the field out to keep one posterior for everyone")
				} else {
					o.context = p.compile(v, key, false)
				}
			}
		case "outcome":
			p.outcome(o, v, key)
		}
	})
	for _, f := range []struct {
		name string
		ok   bool
	}{{"id", hasID}, {"category", hasCategory}, {"value", hasValue}} {
		if !f.ok {
			p.Errorf(root, f.name, "required")
		}
	}
	return o
}

func (p *parser) prior(o *Offer, n *yaml.Node, path string) {
	if !p.mapping(n, path, "alpha and beta") {
		return
	}
	p.Fields(n, path, priorFields, func(key string, _, v *yaml.Node) {
		fp := journey.JoinPath(path, key)
		f, ok := p.number(v, fp)
		if !ok {
			return
		}
		if f <= 0 {
			p.Errorf(v, fp, "must be greater than zero")
			return
		}
		if key == "alpha" {
			o.Prior.Alpha = f
		} else {
			o.Prior.Beta = f
		}
	})
}

func (p *parser) outcome(o *Offer, n *yaml.Node, path string) {
	if !p.mapping(n, path, "events and within") {
		return
	}
	p.Fields(n, path, outcomeFields, func(key string, _, v *yaml.Node) {
		fp := journey.JoinPath(path, key)
		switch key {
		case "events":
			if v.Kind != yaml.SequenceNode {
				p.Errorf(v, fp, "expected a list of event names")
				return
			}
			if len(v.Content) == 0 {
				p.Errorf(v, fp, "empty list: name at least one event, or leave the field out for [%s]", DefaultOutcomeEvent)
				return
			}
			var events []string
			for i, item := range v.Content {
				ip := fmt.Sprintf("%s[%d]", fp, i)
				item = journey.Resolve(item)
				s, ok := p.str(item, ip)
				switch {
				case !ok:
				case strings.TrimSpace(s) == "":
					p.Errorf(item, ip, "empty event name")
				case slices.Contains(events, s):
					p.Errorf(item, ip, "%q is listed twice", s)
				default:
					events = append(events, s)
				}
			}
			o.Outcome.Events = events
		case "within":
			o.Outcome.Within = p.duration(v, fp)
		}
	})
}

// str returns the string in scalar v, reporting anything else.
func (p *parser) str(v *yaml.Node, path string) (string, bool) {
	if v.Kind != yaml.ScalarNode || v.ShortTag() != "!!str" {
		p.Errorf(v, path, "expected a string")
		return "", false
	}
	return v.Value, true
}

// name returns the category or channel in v, reporting anything that is
// not one.
func (p *parser) name(v *yaml.Node, path string) (string, bool) {
	s, ok := p.str(v, path)
	if ok && !namePattern.MatchString(s) {
		p.Errorf(v, path, "%q is not a valid name: want lower-case letters, digits, _ and - ([a-z0-9][a-z0-9_-]*)", s)
		return "", false
	}
	return s, ok
}

// names returns the names in sequence v, reporting bad and repeated ones.
func (p *parser) names(v *yaml.Node, path string) []string {
	if v.Kind != yaml.SequenceNode {
		p.Errorf(v, path, "expected a list of channel names")
		return nil
	}
	out := []string{}
	for i, item := range v.Content {
		ip := fmt.Sprintf("%s[%d]", path, i)
		item = journey.Resolve(item)
		if s, ok := p.name(item, ip); ok {
			if slices.Contains(out, s) {
				p.Errorf(item, ip, "%q is listed twice", s)
				continue
			}
			out = append(out, s)
		}
	}
	return out
}

// number returns the finite number in scalar v, reporting anything else.
func (p *parser) number(v *yaml.Node, path string) (float64, bool) {
	var f float64
	if v.Kind != yaml.ScalarNode || (v.ShortTag() != "!!int" && v.ShortTag() != "!!float") || v.Decode(&f) != nil {
		p.Errorf(v, path, "expected a number")
		return 0, false
	}
	if math.IsNaN(f) || math.IsInf(f, 0) {
		p.Errorf(v, path, "expected a finite number")
		return 0, false
	}
	return f, true
}

// mapping reports whether v is a mapping, reporting it if not.
func (p *parser) mapping(v *yaml.Node, path, want string) bool {
	if v.Kind != yaml.MappingNode {
		p.Errorf(v, path, "expected a mapping with %s", want)
		return false
	}
	return true
}

// duration returns the duration in v (see journey.ParseDuration), or 0
// after reporting why there is none.
func (p *parser) duration(v *yaml.Node, path string) time.Duration {
	if v.Kind != yaml.ScalarNode || v.ShortTag() != "!!str" {
		p.Errorf(v, path, "expected a duration such as 90m, 36h or 7d")
		return 0
	}
	d, err := journey.ParseDuration(v.Value)
	if err != nil {
		p.Errorf(v, path, "%v", err)
		return 0
	}
	return d
}
