package audience

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
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
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var auds []*Audience
	var errs ErrorList
	byID := map[string]*Audience{}
	for _, e := range entries { // sorted by name
		if e.IsDir() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		switch strings.ToLower(filepath.Ext(e.Name())) {
		case ".yaml", ".yml", ".json":
		default:
			continue
		}
		file := filepath.Join(dir, e.Name())
		data, err := os.ReadFile(file)
		if err != nil {
			return nil, err
		}
		a, err := Parse(file, data)
		if err != nil {
			errs = append(errs, err.(ErrorList)...)
			continue
		}
		if first, ok := byID[a.ID]; ok {
			errs = append(errs, &Error{Pos: a.idPos, Path: "id",
				Message: fmt.Sprintf("duplicate audience id %q (also in %s)", a.ID, first.idPos)})
			continue
		}
		byID[a.ID] = a
		auds = append(auds, a)
	}
	if len(errs) > 0 {
		sortErrors(errs)
		return auds, errs
	}
	return auds, nil
}

// Parse compiles one audience definition (YAML or JSON) from data; file
// names it in error positions. The error, if any, is an ErrorList naming
// every problem, sorted by position.
func Parse(file string, data []byte) (*Audience, error) {
	p := &parser{file: file, lines: strings.Split(string(data), "\n")}
	a := p.parse(data)
	if len(p.errs) > 0 {
		sortErrors(p.errs)
		return nil, p.errs
	}
	return a, nil
}

func sortErrors(l ErrorList) {
	slices.SortStableFunc(l, func(a, b *Error) int {
		if c := strings.Compare(a.File, b.File); c != 0 {
			return c
		}
		if a.Line != b.Line {
			return a.Line - b.Line
		}
		if a.Column != b.Column {
			return a.Column - b.Column
		}
		if c := strings.Compare(a.Path, b.Path); c != 0 {
			return c
		}
		return strings.Compare(a.Message, b.Message)
	})
}

type parser struct {
	file  string
	lines []string // the file's lines, for positions in block scalars
	errs  ErrorList
}

func (p *parser) pos(n *yaml.Node) Pos {
	if n == nil {
		return Pos{File: p.file, Line: 1, Column: 1}
	}
	return Pos{File: p.file, Line: n.Line, Column: n.Column}
}

func (p *parser) errorf(n *yaml.Node, path, format string, args ...any) {
	p.errs = append(p.errs, &Error{Pos: p.pos(n), Path: path, Message: fmt.Sprintf(format, args...)})
}

var yamlLine = regexp.MustCompile(`^yaml: line ([0-9]+): `)

// decode returns the document's root node, or nil after reporting why
// there is none.
func (p *parser) decode(data []byte) *yaml.Node {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			p.errorf(nil, "", "empty file")
		} else {
			p.yamlError(err)
		}
		return nil
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		p.errorf(&extra, "", "more than one document: one audience per file")
	} else if !errors.Is(err, io.EOF) {
		p.yamlError(err)
	}
	if len(doc.Content) == 0 {
		p.errorf(nil, "", "empty file")
		return nil
	}
	return resolve(doc.Content[0])
}

func (p *parser) yamlError(err error) {
	msg := err.Error()
	line := 1
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		line, _ = strconv.Atoi(m[1])
		msg = msg[len(m[0]):]
	} else {
		msg = strings.TrimPrefix(msg, "yaml: ")
	}
	p.errs = append(p.errs, &Error{Pos: Pos{File: p.file, Line: line, Column: 1}, Message: "invalid YAML: " + msg})
}

// resolve follows aliases.
func resolve(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

var (
	topFields        = []string{"id", "name", "description", "condition", "schedule", "realtime", "activation"}
	activationFields = []string{"traits", "webhook"}
	webhookFields    = []string{"url", "secret_env"}
)

// fields calls f for each key of mapping n, in order, reporting unknown,
// repeated and non-scalar keys. Values are resolved.
func (p *parser) fields(n *yaml.Node, path string, known []string, f func(key string, k, v *yaml.Node)) {
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := resolve(n.Content[i]), resolve(n.Content[i+1])
		fp := join(path, k.Value)
		switch {
		case k.Kind != yaml.ScalarNode:
			p.errorf(k, path, "keys must be plain names")
		case !slices.Contains(known, k.Value):
			p.errorf(k, fp, "unknown field (want %s)", strings.Join(known, ", "))
		case seen[k.Value]:
			p.errorf(k, fp, "repeated field")
		default:
			seen[k.Value] = true
			f(k.Value, k, v)
		}
	}
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// str returns the string in scalar v, reporting anything else.
func (p *parser) str(v *yaml.Node, path string) (string, bool) {
	if v.Kind != yaml.ScalarNode || v.ShortTag() != "!!str" {
		p.errorf(v, path, "expected a string")
		return "", false
	}
	return v.Value, true
}

// mapping reports whether v is a mapping, reporting it if not.
func (p *parser) mapping(v *yaml.Node, path, want string) bool {
	if v.Kind != yaml.MappingNode {
		p.errorf(v, path, "expected a mapping with %s", want)
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
		p.errorf(root, "", "expected a mapping with id and condition (one audience per file)")
		return nil
	}
	a := &Audience{Realtime: true, Pos: p.pos(root)}
	var id, cond *yaml.Node
	p.fields(root, "", topFields, func(key string, k, v *yaml.Node) {
		switch key {
		case "id":
			id = v
			if s, ok := p.str(v, key); ok {
				a.ID, a.idPos = s, p.pos(v)
				if !idPattern.MatchString(s) {
					p.errorf(v, key, "%q is not a valid id: want lower-case letters, digits, _ and - ([a-z0-9][a-z0-9_-]*)", s)
				}
			}
		case "name":
			a.Name, _ = p.str(v, key)
		case "description":
			a.Description, _ = p.str(v, key)
		case "condition":
			cond = v
			if s, ok := p.str(v, key); ok {
				a.Condition, a.ConditionPos = s, p.pos(v)
				if strings.TrimSpace(s) == "" {
					p.errorf(v, key, "empty condition")
				} else {
					p.compile(a, v, key)
				}
			}
		case "schedule":
			if s, ok := p.str(v, key); ok {
				a.Schedule = s
				sched, err := parseSchedule(s)
				if err != nil {
					p.errorf(v, key, "%q is not a schedule: %v", s, err)
				}
				a.sched = sched
			}
		case "realtime":
			if v.Kind != yaml.ScalarNode || v.ShortTag() != "!!bool" {
				p.errorf(v, key, "expected true or false")
			} else {
				_ = v.Decode(&a.Realtime)
			}
		case "activation":
			p.activation(a, v, key)
		}
	})
	if id == nil {
		p.errorf(root, "id", "required")
	}
	if cond == nil {
		p.errorf(root, "condition", "required")
	}
	slices.Sort(a.Journeys)
	return a
}

func (p *parser) activation(a *Audience, n *yaml.Node, path string) {
	if !p.mapping(n, path, "traits or webhook") {
		return
	}
	p.fields(n, path, activationFields, func(key string, k, v *yaml.Node) {
		fp := join(path, key)
		switch key {
		case "traits":
			if v.Kind != yaml.SequenceNode {
				p.errorf(v, fp, "expected a list of trait names")
				return
			}
			seen := map[string]bool{}
			for i, item := range v.Content {
				ip := fmt.Sprintf("%s[%d]", fp, i)
				item = resolve(item)
				s, ok := p.str(item, ip)
				switch {
				case !ok:
				case s == "":
					p.errorf(item, ip, "empty trait name")
				case seen[s]:
					p.errorf(item, ip, "%q is listed twice", s)
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
	p.fields(n, path, webhookFields, func(key string, k, v *yaml.Node) {
		fp := join(path, key)
		hasURL = hasURL || key == "url"
		s, ok := p.str(v, fp)
		if !ok {
			return
		}
		switch key {
		case "url":
			w.URL = s
			if u, err := url.Parse(s); err != nil || u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
				p.errorf(v, fp, "%q is not an http or https URL", s)
			}
		case "secret_env":
			w.SecretEnv = s
			if !envPattern.MatchString(s) {
				p.errorf(v, fp, "%q is not an environment variable name ([A-Za-z_][A-Za-z0-9_]*); give the variable's name, not the secret", s)
			}
		}
	})
	if !hasURL {
		p.errorf(n, join(path, "url"), "required")
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
