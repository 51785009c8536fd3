package message

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"

	"github.com/osteele/liquid/expressions"
)

// Rendered is a template's message on one channel. Only the fields of
// the channel are set; every one is trimmed of surrounding white space.
type Rendered struct {
	Template string // the template's id
	Channel  string

	Subject string // email: one line (line breaks become spaces)
	HTML    string // email: "" without html
	Text    string // email: "" without text

	Body     string // sms, mms, push
	MediaURL string // mms: an absolute http or https URL
	Title    string // push: "" without title
	DeepLink string // push: "" without deep_link

	Script  string // voice: the text to speak, or ""
	IVRFlow string // voice: the id of the IVR flow to run, or ""

	JSON []byte // webhook, chat, whatsapp: the body, valid JSON

	Segments int    // sms: how many segments Body takes (see Segments)
	Encoding string // sms: EncodingGSM7 or EncodingUCS2
}

// ErrNoContent is the cause of the error of Render for a channel the
// template has no content for.
var ErrNoContent = errors.New("no content for the channel")

// RenderError is a template that could not be rendered: a Liquid error
// (an undefined filter or, in Check, variable; a filter given bad
// arguments), or a rendered field that is not what its channel needs
// (an SMS of too many segments, a webhook body that is not JSON, an
// empty subject).
type RenderError struct {
	Template string // the template's id
	Channel  string
	Field    string // "subject", "body"...; "" for the channel
	Line     int    // in the field's source, 1-based; 0 if not known
	Err      error
}

func (e *RenderError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "template %q: %s", e.Template, e.Channel)
	if e.Field != "" {
		b.WriteString("." + e.Field)
	}
	if e.Line > 0 {
		fmt.Fprintf(&b, ": line %d", e.Line)
	}
	b.WriteString(": " + e.Err.Error())
	return b.String()
}

func (e *RenderError) Unwrap() error { return e.Err }

// Render renders the template's content for channel with vars. A
// variable that is missing from vars renders as nothing (use the
// `default` filter for a fallback): a customer without a first name
// still gets the message; Check is what finds a misspelt name. The error
// is a *RenderError.
//
// Liquid does not escape HTML: a value output in email html is output
// as it is. Output what customers can set with the escape filter,
// `{{ profile.traits.first_name | escape }}`; in a JSON body use the
// json filter, `{"name": {{ profile.traits.name | json }}}`.
func (t *Template) Render(channel string, vars Vars) (Rendered, error) {
	c := t.channels[channel]
	if c == nil {
		return Rendered{}, &RenderError{Template: t.ID, Channel: channel, Err: ErrNoContent}
	}
	r, errs := t.render(c, vars.bindings(false), false)
	if len(errs) > 0 {
		return Rendered{}, errs[0]
	}
	return r, nil
}

// Check renders every field of every channel with sample (the caller
// passes SampleVars, or data of its own) with the template's declared
// sample values merged over it, strictly: a variable the sample data
// does not have is an error, as is an undefined filter, a filter given
// bad arguments, and a rendered field its channel cannot send (see
// Render). Declare the fields a template uses that the sample data lacks
// under sample:. The error, if any, is an ErrorList, each problem at its
// position in the template's file, its path the field
// ("email.subject"), its message naming the template.
func (t *Template) Check(sample Vars) error {
	b := t.withSample(sample).bindings(true)
	var errs ErrorList
	for _, ch := range t.Channels() {
		c := t.channels[ch]
		_, rerrs := t.render(c, b, true)
		for _, e := range rerrs {
			f := c.field(e.Field)
			if f == nil {
				f = c.fields[0]
			}
			errs = append(errs, &Error{
				Pos:     f.errorPos(e),
				Path:    f.path,
				Message: fmt.Sprintf("%v (template %s, with sample data)", e.Err, t.ID),
			})
		}
	}
	if len(errs) == 0 {
		return nil
	}
	errs.Sort()
	return errs
}

// field returns the content's field named name, or nil.
func (c *content) field(name string) *field {
	for _, f := range c.fields {
		if f.name == name {
			return f
		}
	}
	return nil
}

// render renders content c with bindings b: every field if all, else up
// to the first error.
func (t *Template) render(c *content, b map[string]any, all bool) (Rendered, []*RenderError) {
	r := Rendered{Template: t.ID, Channel: c.channel}
	var errs []*RenderError
	fail := func(field string, line int, err error) {
		errs = append(errs, &RenderError{Template: t.ID, Channel: c.channel, Field: field, Line: line, Err: err})
	}
	out := map[string]string{}
	for _, f := range c.fields {
		s, err := renderLiquid(f.tpl, b)
		if err != nil {
			fail(f.name, err.LineNumber(), renderCause(err, f.path))
			if !all {
				return Rendered{}, errs
			}
			continue
		}
		out[f.name] = strings.TrimSpace(string(s))
	}
	// Each check looks at fields that rendered.
	nonEmpty := func(name string) {
		if s, ok := out[name]; ok && s == "" {
			fail(name, 0, errors.New("renders empty"))
		}
	}
	switch c.channel {
	case ChannelEmail:
		r.Subject = lineBreaks.ReplaceAllString(out["subject"], " ")
		r.HTML, r.Text = out["html"], out["text"]
		nonEmpty("subject")
		if r.HTML == "" && r.Text == "" && len(out) == len(c.fields) {
			name := "html"
			if c.field(name) == nil {
				name = "text"
			}
			fail(name, 0, errors.New("renders empty: the email has no body"))
		}
	case ChannelSMS:
		r.Body = out["body"]
		nonEmpty("body")
		var units int
		r.Segments, units, r.Encoding = segments(r.Body)
		if _, ok := out["body"]; ok && r.Segments > t.MaxSegments {
			fail("body", 0, fmt.Errorf("renders %d SMS segments (%s, %d %s), more than max_segments %d",
				r.Segments, r.Encoding, units, unitName(r.Encoding), t.MaxSegments))
		}
	case ChannelMMS:
		r.Body, r.MediaURL = out["body"], out["media_url"]
		if u, ok := out["media_url"]; ok && !httpURL(u) {
			fail("media_url", 0, fmt.Errorf("renders %q, not an absolute http or https URL", u))
		}
	case ChannelPush:
		r.Title, r.Body, r.DeepLink = out["title"], out["body"], out["deep_link"]
		nonEmpty("body")
	case ChannelVoice:
		r.Script, r.IVRFlow = out["script"], out["ivr_flow"]
		nonEmpty("script")
		nonEmpty("ivr_flow")
	default: // a JSON body
		if s, ok := out["body"]; ok {
			var v any
			if err := json.Unmarshal([]byte(s), &v); err != nil {
				fail("body", 0, fmt.Errorf("does not render valid JSON: %v, in %s", jsonMessage(err), excerpt(s, err)))
			} else {
				r.JSON = []byte(s)
			}
		}
	}
	if len(errs) > 0 {
		if !all {
			errs = errs[:1]
		}
		return Rendered{}, errs
	}
	return r, nil
}

var lineBreaks = regexp.MustCompile(`[\r\n]+`)

func unitName(encoding string) string {
	if encoding == EncodingGSM7 {
		return "septets"
	}
	return "UTF-16 code units"
}

// httpURL reports whether s is an absolute http or https URL.
func httpURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

// jsonMessage is the message of a JSON decoding error, with the offset
// of a syntax error.
func jsonMessage(err error) string {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Sprintf("%v at byte %d", err, se.Offset)
	}
	return err.Error()
}

// excerpt quotes s around the offset of a JSON syntax error (all of s if
// it is short).
func excerpt(s string, err error) string {
	const span = 40
	var se *json.SyntaxError
	if len(s) <= 2*span || !errors.As(err, &se) {
		if len(s) > 2*span {
			s = s[:2*span] + "..."
		}
		return fmt.Sprintf("%q", s)
	}
	from, to := max(int(se.Offset)-span, 0), min(int(se.Offset)+span, len(s))
	q := fmt.Sprintf("%q", s[from:to])
	if from > 0 {
		q = "..." + q
	}
	if to < len(s) {
		q += "..."
	}
	return q
}

// undefinedKey finds the key in the message of a strictMap.
var undefinedKey = regexp.MustCompile(`^undefined variable \S*?(?:\.([A-Za-z_][A-Za-z0-9_-]*\??)|\["((?:[^"\\]|\\.)*)"\])(?: |$)`)

// errorPos returns where in the file the render error e of the field
// is: at the tag or object on e's line that names what failed, or the
// first on it; at the start of the field if e has no line.
func (f *field) errorPos(e *RenderError) Pos {
	if e.Line <= 0 {
		return f.at(0)
	}
	var needle string
	var fe expressions.FilterError
	if m := undefinedKey.FindStringSubmatch(e.Err.Error()); m != nil {
		needle = m[1] + m[2]
	} else if errors.As(e.Err, &fe) {
		needle = fe.FilterName
	}
	first := -1
	for i, tok := range f.tokens {
		if tok.line != e.Line {
			continue
		}
		if first < 0 {
			first = i
		}
		if needle != "" {
			if j := strings.Index(tok.args, needle); j >= 0 {
				return f.at(tok.argsOff + j)
			}
		}
	}
	if first >= 0 {
		return f.at(f.tokens[first].off)
	}
	return f.pos(e.Line, lineIndent(f.source, e.Line))
}
