package message

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/osteele/liquid"
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

// The channels a template may have content for. Chat and WhatsApp go
// out as webhooks, so their content is a JSON body like a webhook's.
const (
	ChannelEmail    = "email"
	ChannelSMS      = "sms"
	ChannelMMS      = "mms"
	ChannelPush     = "push"
	ChannelVoice    = "voice"
	ChannelWebhook  = "webhook"
	ChannelChat     = "chat"
	ChannelWhatsApp = "whatsapp"
)

// DefaultMaxSegments is how many SMS segments a rendered body may take
// when the template does not say (max_segments).
const DefaultMaxSegments = 3

// channelFields lists, per channel in file order, the Liquid fields its
// content may have.
var channelFields = map[string][]string{
	ChannelEmail:    {"subject", "html", "text"},
	ChannelSMS:      {"body"},
	ChannelMMS:      {"body", "media_url"},
	ChannelPush:     {"title", "body", "deep_link"},
	ChannelVoice:    {"script", "ivr_flow"},
	ChannelWebhook:  {"body"},
	ChannelChat:     {"body"},
	ChannelWhatsApp: {"body"},
}

// channelOrder is the order of the channels in messages and Channels.
var channelOrder = []string{ChannelEmail, ChannelSMS, ChannelMMS, ChannelPush, ChannelVoice, ChannelWebhook, ChannelChat, ChannelWhatsApp}

// jsonChannel reports whether the channel's content is a JSON body.
func jsonChannel(ch string) bool {
	return ch == ChannelWebhook || ch == ChannelChat || ch == ChannelWhatsApp
}

// Template is one compiled message template: the content of a message on
// each channel it has content for, as Liquid templates over Vars. It is
// immutable and safe for concurrent use.
type Template struct {
	ID          string
	Description string
	// MaxSegments is how many SMS segments a rendered sms body may take
	// (default DefaultMaxSegments); 0 without sms content.
	MaxSegments int
	Pos         Pos // where the definition starts

	channels map[string]*content
	sample   sample // the values the file declares under sample:
	idPos    Pos
	compiled bool // made by Parse
}

// content is one channel's fields.
type content struct {
	channel string
	fields  []*field // in channelFields order, those given
}

// field is one compiled Liquid field of a channel's content.
type field struct {
	name   string // "subject", "body"...
	path   string // "email.subject"
	source string
	tpl    *liquid.Template
	pos    func(line, col int) Pos // maps a line (1-based) and column (0-based) in source to the file
	tokens []token                 // the tags and objects of source, in order
}

// Channels returns the channels the template has content for, in the
// order email, sms, mms, push, voice, webhook, chat, whatsapp.
func (t *Template) Channels() []string {
	var out []string
	for _, ch := range channelOrder {
		if t.channels[ch] != nil {
			out = append(out, ch)
		}
	}
	return out
}

// Has reports whether the template has content for channel.
func (t *Template) Has(channel string) bool { return t.channels[channel] != nil }

// Source returns the Liquid source of a field of a channel's content
// ("email", "subject"), and whether the template has it.
func (t *Template) Source(channel, name string) (string, bool) {
	if c := t.channels[channel]; c != nil {
		for _, f := range c.fields {
			if f.name == name {
				return f.source, true
			}
		}
	}
	return "", false
}

var idPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]*$`)

// Load parses every template file (*.yaml, *.yml, *.json) directly in dir
// and checks that ids are unique across them. A missing dir has no
// templates: Load returns nil, nil. Problems in the files are returned
// together as an ErrorList sorted by file, line and column, with the
// templates that had none; a file that cannot be read is returned as it
// is, alone. Load does not Check the templates.
func Load(dir string) ([]*Template, error) {
	return journey.LoadDir(dir, "template", Parse, func(t *Template) (string, Pos) { return t.ID, t.idPos })
}

// Parse compiles one template definition (YAML or JSON) from data; file
// names it in error positions. Every Liquid field is compiled, and
// checked for what is wrong whatever the data: a syntax error, a
// variable that is none of profile, event, journey, offer or one the
// template assigns, a filter that does not exist, an include. The error,
// if any, is an ErrorList naming every problem, sorted by position.
//
// Parse does not render: Check does, with sample data.
func Parse(file string, data []byte) (*Template, error) {
	p := &parser{Reporter: journey.Reporter{File: file}, lines: strings.Split(string(data), "\n")}
	t := p.parse(data)
	if len(p.Errs) > 0 {
		p.Errs.Sort()
		return nil, p.Errs
	}
	t.compiled = true
	return t, nil
}

type parser struct {
	journey.Reporter
	lines []string // the file's lines, for positions in block scalars
}

var (
	topFields    = append([]string{"id", "description", "sample"}, channelOrder...)
	smsFields    = []string{"body", "max_segments"}
	sampleFields = []string{"profile", "event", "journey", "offer"}
)

func (p *parser) parse(data []byte) *Template {
	root := p.DecodeDocument(data, "template")
	if root == nil {
		return nil
	}
	if root.Kind != yaml.MappingNode {
		p.Errorf(root, "", "expected a mapping with id and the content of at least one channel (one template per file)")
		return nil
	}
	t := &Template{Pos: p.Pos(root), channels: map[string]*content{}}
	var hasID bool
	p.Fields(root, "", topFields, func(key string, _, v *yaml.Node) {
		switch key {
		case "id":
			hasID = true
			if s, ok := p.str(v, key); ok {
				t.ID, t.idPos = s, p.Pos(v)
				if !idPattern.MatchString(s) {
					p.Errorf(v, key, "%q is not a valid id: want lower-case letters, digits, _ and - ([a-z0-9][a-z0-9_-]*)", s)
				}
			}
		case "description":
			t.Description, _ = p.str(v, key)
		case "sample":
			t.sample = p.sample(v, key)
		default:
			if c := p.content(t, key, v); c != nil {
				t.channels[key] = c
			}
		}
	})
	if !hasID {
		p.Errorf(root, "id", "required")
	}
	if len(t.channels) == 0 && !anyChannel(root) {
		p.Errorf(root, "", "no content: give at least one channel (%s)", strings.Join(channelOrder, ", "))
	}
	return t
}

// anyChannel reports whether mapping n has a channel key (so that a
// channel with errors is not also reported missing).
func anyChannel(n *yaml.Node) bool {
	for i := 0; i+1 < len(n.Content); i += 2 {
		if slices.Contains(channelOrder, journey.Resolve(n.Content[i]).Value) {
			return true
		}
	}
	return false
}

// content compiles the content of channel ch; nil after reporting why
// there is none.
func (p *parser) content(t *Template, ch string, n *yaml.Node) *content {
	names := channelFields[ch]
	known := names
	if ch == ChannelSMS {
		known = smsFields
	}
	if n.Kind != yaml.MappingNode {
		p.Errorf(n, ch, "expected a mapping with %s", describeFields(ch))
		return nil
	}
	c := &content{channel: ch}
	given := map[string]*field{}
	bad := false
	p.Fields(n, ch, known, func(key string, _, v *yaml.Node) {
		fp := journey.JoinPath(ch, key)
		if key == "max_segments" {
			var m int
			if v.Kind != yaml.ScalarNode || v.ShortTag() != "!!int" || v.Decode(&m) != nil || m < 1 {
				p.Errorf(v, fp, "expected a whole number, 1 or more")
				bad = true
				return
			}
			t.MaxSegments = m
			return
		}
		s, ok := p.str(v, fp)
		if !ok {
			bad = true
			return
		}
		if strings.TrimSpace(s) == "" {
			p.Errorf(v, fp, "empty: leave the field out if the message has none")
			bad = true
			return
		}
		f := p.compile(v, fp, key, s)
		if f == nil {
			bad = true
			return
		}
		given[key] = f
	})
	for _, name := range names {
		if f := given[name]; f != nil {
			c.fields = append(c.fields, f)
		}
	}
	has := func(name string) bool { return fieldGiven(n, name) } // a bad one is reported already
	switch ch {
	case ChannelEmail:
		if !has("subject") {
			p.Errorf(n, "email.subject", "required")
		}
		if !has("html") && !has("text") {
			p.Errorf(n, "email", "no body: give html, text or both")
		}
	case ChannelMMS:
		if !has("media_url") {
			p.Errorf(n, "mms.media_url", "required")
		}
	case ChannelVoice:
		if has("script") == has("ivr_flow") {
			p.Errorf(n, "voice", "give exactly one of script (text to speak) and ivr_flow (the id of an IVR flow)")
		}
	default: // sms, push and the JSON channels
		if !has("body") {
			p.Errorf(n, ch+".body", "required")
		}
	}
	if ch == ChannelSMS && t.MaxSegments == 0 {
		t.MaxSegments = DefaultMaxSegments
	}
	if bad {
		return nil
	}
	return c
}

// fieldGiven reports whether mapping n has the key.
func fieldGiven(n *yaml.Node, key string) bool {
	for i := 0; i+1 < len(n.Content); i += 2 {
		if journey.Resolve(n.Content[i]).Value == key {
			return true
		}
	}
	return false
}

func describeFields(ch string) string {
	switch ch {
	case ChannelEmail:
		return "subject and html, text or both"
	case ChannelSMS:
		return "body (and max_segments)"
	case ChannelMMS:
		return "media_url (and body)"
	case ChannelPush:
		return "body (and title, deep_link)"
	case ChannelVoice:
		return "script or ivr_flow"
	}
	return "body (a Liquid template of a JSON document)"
}

// sample decodes the sample values the file declares.
func (p *parser) sample(n *yaml.Node, path string) sample {
	var s sample
	if n.Kind != yaml.MappingNode {
		p.Errorf(n, path, "expected a mapping with profile, event, journey or offer")
		return s
	}
	p.Fields(n, path, sampleFields, func(key string, _, v *yaml.Node) {
		fp := journey.JoinPath(path, key)
		if key == "offer" && v.Kind == yaml.ScalarNode && v.ShortTag() == "!!null" {
			s.offerSet = true
			return
		}
		if v.Kind != yaml.MappingNode {
			if key == "offer" {
				p.Errorf(v, fp, "expected a mapping (the offer's id, name, category, value...) or null (no offer)")
			} else {
				p.Errorf(v, fp, "expected a mapping")
			}
			return
		}
		m, _ := p.value(v, fp).(map[string]any)
		switch key {
		case "profile":
			s.profile = m
		case "event":
			s.event = m
		case "journey":
			s.journey = m
		case "offer":
			s.offer, s.offerSet = m, true
		}
	})
	return s
}

// value decodes node n as a template would see the same value decoded
// from JSON: mappings as map[string]any (with keys as written),
// sequences as []any, whole numbers as float64, timestamps as the string
// written, other scalars as YAML decodes them.
func (p *parser) value(n *yaml.Node, path string) any {
	n = journey.Resolve(n)
	switch n.Kind {
	case yaml.MappingNode:
		m := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := journey.Resolve(n.Content[i])
			if k.Kind != yaml.ScalarNode {
				p.Errorf(k, path, "keys must be plain names")
				continue
			}
			m[k.Value] = p.value(n.Content[i+1], journey.JoinPath(path, k.Value))
		}
		return m
	case yaml.SequenceNode:
		s := make([]any, len(n.Content))
		for i, item := range n.Content {
			s[i] = p.value(item, fmt.Sprintf("%s[%d]", path, i))
		}
		return s
	default:
		switch n.ShortTag() {
		case "!!timestamp":
			return n.Value // a string, as in JSON
		case "!!int":
			var f float64 // a float64, as JSON numbers decode
			if n.Decode(&f) == nil {
				return f
			}
		}
		var v any
		if err := n.Decode(&v); err != nil {
			p.Errorf(n, path, "%v", err)
		}
		return v
	}
}

// str returns the string in scalar v, reporting anything else.
func (p *parser) str(v *yaml.Node, path string) (string, bool) {
	if v.Kind != yaml.ScalarNode || v.ShortTag() != "!!str" {
		p.Errorf(v, path, "expected a string")
		return "", false
	}
	return v.Value, true
}

// exprPos maps a line (1-based) and column (0-based) inside scalar n to
// the file as journey.Reporter.ExprPos does, but exactly for literal
// block scalars (|), whose lines start at the block's indentation;
// folded ones (>) stay approximate.
func (p *parser) exprPos(n *yaml.Node, line, col int) Pos {
	pos := p.ExprPos(n, line, col)
	if n.Style == yaml.LiteralStyle {
		pos.Column = p.blockIndent(n) + max(col, 0) + 1
	}
	return pos
}

// blockIndent returns the indentation of the content of block scalar n:
// that of its first line that is not blank.
func (p *parser) blockIndent(n *yaml.Node) int {
	for l := n.Line + 1; l <= len(p.lines); l++ {
		if s := p.lines[l-1]; strings.TrimSpace(s) != "" {
			return len(s) - len(strings.TrimLeft(s, " "))
		}
	}
	return 0
}

// Uses reports whether a field could read the variable name (one of
// profile, event, journey, offer). It errs towards true: a field that
// mentions the word at all counts.
func (t *Template) Uses(name string) bool {
	for _, c := range t.channels {
		for _, f := range c.fields {
			for s := f.source; ; {
				i := strings.Index(s, name)
				if i < 0 {
					break
				}
				before, after := byte(' '), byte(' ')
				if i > 0 {
					before = s[i-1]
				}
				if j := i + len(name); j < len(s) {
					after = s[j]
				}
				if !isIdent(before) && !isIdent(after) {
					return true
				}
				s = s[i+len(name):]
			}
		}
	}
	return false
}

func isIdent(b byte) bool {
	return b == '_' || b == '-' || '0' <= b && b <= '9' || 'a' <= b && b <= 'z' || 'A' <= b && b <= 'Z'
}
