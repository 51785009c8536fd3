package audience

import (
	"fmt"
	"net/url"
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

// Audience is one compiled audience definition.
type Audience struct {
	ID          string
	Name        string // "" if not given
	Description string
	Condition   string // the CEL source
	Realtime    bool   // re-evaluated whenever the profile changes (default true)
	Schedule    string // cron spec (UTC), or ""
	Traits      []string
	Webhook     *Webhook // nil if none
	Version     int      // the stored version it was loaded from (set by the catalog; 0 in files)

	UsesNow      bool     // the condition reads `now`
	UsesJourneys bool     // the condition calls in_journey
	Journeys     []string // the journey ids passed to in_journey, sorted, each once

	Pos          Pos // where the definition starts
	ConditionPos Pos // where the condition starts

	program cel.Program
	sched   schedule     // nil without a schedule
	refs    []journeyRef // in_journey calls
	idPos   Pos
}

// Webhook is where the audience's entries and exits are posted.
type Webhook struct {
	URL string
	// SecretEnv names the environment variable holding the signing
	// secret, or is "" (unsigned). The secret itself is never in a file.
	SecretEnv string
}

// journeyRef is one in_journey call: the journey id and where it is named.
type journeyRef struct {
	id  string
	pos Pos
}

// CheckJourneys reports, at the call, each in_journey whose journey id
// known says is not defined. It returns nil if there is none.
func (a *Audience) CheckJourneys(known func(id string) bool) ErrorList {
	var errs ErrorList
	for _, r := range a.refs {
		if !known(r.id) {
			errs = append(errs, &Error{Pos: r.pos, Path: "condition", Message: fmt.Sprintf("no journey with id %q", r.id)})
		}
	}
	return errs
}

var (
	idPattern  = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]*$`)
	envPattern = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
)

// Load parses every audience file (*.yaml, *.yml, *.json) directly in dir
// and checks that ids are unique across them. A missing dir has no
// audiences: Load returns nil, nil. Problems in the files are returned
// together as an ErrorList sorted by file, line and column, with the
// audiences that had none (so a validator can check them further); a
// file that cannot be read is returned as it is, alone.
func Load(dir string) ([]*Audience, error) {
	return journey.LoadDir(dir, "audience", Parse, func(a *Audience) (string, Pos) { return a.ID, a.idPos })
}

// Parse compiles one audience definition (YAML or JSON) from data; file
// names it in error positions. The error, if any, is an ErrorList naming
// every problem, sorted by position.
func Parse(file string, data []byte) (*Audience, error) {
	p := &parser{Reporter: journey.Reporter{File: file}, lines: strings.Split(string(data), "\n")}
	a := p.parse(data)
	if len(p.Errs) > 0 {
		p.Errs.Sort()
		return nil, p.Errs
	}
	return a, nil
}

type parser struct {
	journey.Reporter
	lines []string // the file's lines, for positions in block scalars
}

// decode returns the document's root node, or nil after reporting why
// there is none.
func (p *parser) decode(data []byte) *yaml.Node {
	return p.DecodeDocument(data, "audience")
}

var (
	topFields        = []string{"id", "name", "description", "condition", "schedule", "realtime", "activation"}
	activationFields = []string{"traits", "webhook"}
	webhookFields    = []string{"url", "secret_env"}
)

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

func (p *parser) parse(data []byte) *Audience {
	root := p.decode(data)
	if root == nil {
		return nil
	}
	if root.Kind != yaml.MappingNode {
		p.Errorf(root, "", "expected a mapping with id and condition (one audience per file)")
		return nil
	}
	a := &Audience{Realtime: true, Pos: p.Pos(root)}
	var id, cond *yaml.Node
	p.Fields(root, "", topFields, func(key string, k, v *yaml.Node) {
		switch key {
		case "id":
			id = v
			if s, ok := p.str(v, key); ok {
				a.ID, a.idPos = s, p.Pos(v)
				if !idPattern.MatchString(s) {
					p.Errorf(v, key, "%q is not a valid id: want lower-case letters, digits, _ and - ([a-z0-9][a-z0-9_-]*)", s)
				}
			}
		case "name":
			a.Name, _ = p.str(v, key)
		case "description":
			a.Description, _ = p.str(v, key)
		case "condition":
			cond = v
			if s, ok := p.str(v, key); ok {
				a.Condition, a.ConditionPos = s, p.Pos(v)
				if strings.TrimSpace(s) == "" {
					p.Errorf(v, key, "empty condition")
				} else {
					p.compile(a, v, key)
				}
			}
		case "schedule":
			if s, ok := p.str(v, key); ok {
				a.Schedule = s
				sched, err := parseSchedule(s)
				if err != nil {
					p.Errorf(v, key, "%q is not a schedule: %v", s, err)
				}
				a.sched = sched
			}
		case "realtime":
			if v.Kind != yaml.ScalarNode || v.ShortTag() != "!!bool" {
				p.Errorf(v, key, "expected true or false")
			} else {
				_ = v.Decode(&a.Realtime)
			}
		case "activation":
			p.activation(a, v, key)
		}
	})
	if id == nil {
		p.Errorf(root, "id", "required")
	}
	if cond == nil {
		p.Errorf(root, "condition", "required")
	}
	slices.Sort(a.Journeys)
	return a
}

func (p *parser) activation(a *Audience, n *yaml.Node, path string) {
	if !p.mapping(n, path, "traits or webhook") {
		return
	}
	p.Fields(n, path, activationFields, func(key string, k, v *yaml.Node) {
		fp := journey.JoinPath(path, key)
		switch key {
		case "traits":
			if v.Kind != yaml.SequenceNode {
				p.Errorf(v, fp, "expected a list of trait names")
				return
			}
			seen := map[string]bool{}
			for i, item := range v.Content {
				ip := fmt.Sprintf("%s[%d]", fp, i)
				item = journey.Resolve(item)
				s, ok := p.str(item, ip)
				switch {
				case !ok:
				case s == "":
					p.Errorf(item, ip, "empty trait name")
				case seen[s]:
					p.Errorf(item, ip, "%q is listed twice", s)
				default:
					seen[s] = true
					a.Traits = append(a.Traits, s)
				}
			}
		case "webhook":
			a.Webhook = p.webhook(v, fp)
		}
	})
}

func (p *parser) webhook(n *yaml.Node, path string) *Webhook {
	if !p.mapping(n, path, "url") {
		return nil
	}
	w := &Webhook{}
	var hasURL bool
	p.Fields(n, path, webhookFields, func(key string, k, v *yaml.Node) {
		fp := journey.JoinPath(path, key)
		hasURL = hasURL || key == "url"
		s, ok := p.str(v, fp)
		if !ok {
			return
		}
		switch key {
		case "url":
			w.URL = s
			if u, err := url.Parse(s); err != nil || u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
				p.Errorf(v, fp, "%q is not an http or https URL", s)
			}
		case "secret_env":
			w.SecretEnv = s
			if !envPattern.MatchString(s) {
				p.Errorf(v, fp, "%q is not an environment variable name ([A-Za-z_][A-Za-z0-9_]*); give the variable's name, not the secret", s)
			}
		}
	})
	if !hasURL {
		p.Errorf(n, journey.JoinPath(path, "url"), "required")
	}
	return w
}

// Next returns the audience's next scheduled refresh strictly after after,
// in UTC; the zero time if it has no schedule (or the schedule never fires
// again).
func (a *Audience) Next(after time.Time) time.Time {
	if a.sched == nil {
		return time.Time{}
	}
	return a.sched.next(after.UTC())
}
