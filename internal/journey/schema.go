package journey

import (
	"bytes"
	"errors"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
	"gopkg.in/yaml.v3"

	"github.com/overture-cjo/overture/schema"
)

const schemaURL = "https://overture-cjo.github.io/schema/journey.schema.json"

var compiled = sync.OnceValues(func() (*jsonschema.Schema, error) {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(schema.Journey))
	if err != nil {
		return nil, err
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource(schemaURL, doc); err != nil {
		return nil, err
	}
	return c.Compile(schemaURL)
})

var printer = message.NewPrinter(language.English)

// validateSchema checks the document against the embedded JSON Schema and
// reports each failure at its node. It reports whether the document is
// valid (then it is safe to build a Definition from it).
func (p *parser) validateSchema(root *yaml.Node) bool {
	sch, err := compiled()
	if err != nil {
		panic("journey: embedded schema: " + err.Error())
	}
	before := len(p.Errs)
	v := p.toValue(root, "")
	err = sch.Validate(v)
	var ve *jsonschema.ValidationError
	if errors.As(err, &ve) {
		for _, leaf := range flatten(ve) {
			p.schemaError(root, leaf)
		}
	} else if err != nil {
		p.Errorf(root, "", "%v", err)
	}
	return len(p.Errs) == before
}

// flatten returns the errors worth showing: the leaves, and for oneOf/anyOf
// only the alternative the value was evidently meant to be (a step's
// `type`, a string versus an object).
func flatten(e *jsonschema.ValidationError) []*jsonschema.ValidationError {
	switch e.ErrorKind.(type) {
	case *kind.OneOf, *kind.AnyOf:
		var meant []*jsonschema.ValidationError
		for _, c := range e.Causes {
			if !ruledOut(c, e.InstanceLocation) {
				meant = append(meant, c)
			}
		}
		if len(meant) == 1 {
			return flatten(meant[0])
		}
		return []*jsonschema.ValidationError{e}
	}
	if len(e.Causes) == 0 {
		return []*jsonschema.ValidationError{e}
	}
	var out []*jsonschema.ValidationError
	for _, c := range e.Causes {
		out = append(out, flatten(c)...)
	}
	return out
}

// ruledOut reports whether an alternative failed at its root: the value
// has the wrong JSON type or the wrong `type` discriminator for it.
func ruledOut(e *jsonschema.ValidationError, loc []string) bool {
	switch e.ErrorKind.(type) {
	case *kind.Type, *kind.Enum, *kind.Const:
		if sameLoc(e.InstanceLocation, loc) {
			return true
		}
		if len(e.InstanceLocation) == len(loc)+1 && sameLoc(e.InstanceLocation[:len(loc)], loc) &&
			e.InstanceLocation[len(loc)] == "type" {
			return true
		}
	}
	for _, c := range e.Causes {
		if ruledOut(c, loc) {
			return true
		}
	}
	return false
}

func sameLoc(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

var stepTypes = []string{StepSend, StepWait, StepWaitFor, StepBranch, StepSplit, StepUpdateProfile, StepWebhook, StepEnterJourney, StepExit}

func (p *parser) schemaError(root *yaml.Node, e *jsonschema.ValidationError) {
	n, path := locate(root, e.InstanceLocation)
	at := func(suffix string) bool { return strings.HasSuffix(e.SchemaURL, suffix) }
	switch k := e.ErrorKind.(type) {
	case *kind.AdditionalProperties:
		for _, prop := range k.Properties {
			_, key := field(n, prop)
			if key == nil {
				key = n
			}
			p.Errorf(key, JoinPath(path, prop), "unknown field")
		}
	case *kind.Required:
		for _, m := range k.Missing {
			p.Errorf(n, JoinPath(path, m), "missing required field")
		}
	case *kind.Pattern:
		switch {
		case at("$defs/duration"):
			p.Errorf(n, path, "%q is not a duration (e.g. 90m, 36h, 7d)", k.Got)
		case at("$defs/id"), at("$defs/stepName"):
			p.Errorf(n, path, "%q is not a valid name: want lower-case letters, digits, _ and - ([a-z0-9][a-z0-9_-]*)", k.Got)
		case at("$defs/identifier"):
			p.Errorf(n, path, "%q is not a valid variable name ([A-Za-z_][A-Za-z0-9_]*)", k.Got)
		default:
			p.Errorf(n, path, "%q does not match %s", k.Got, k.Want)
		}
	case *kind.Minimum:
		p.Errorf(n, path, "%s is below the minimum %s", k.Got.RatString(), k.Want.RatString())
	case *kind.Maximum:
		p.Errorf(n, path, "%s is above the maximum %s", k.Got.RatString(), k.Want.RatString())
	case *kind.PropertyNames:
		_, key := field(n, k.Property)
		if key == nil {
			key = n
		}
		p.Errorf(key, JoinPath(path, k.Property), "invalid name %q", k.Property)
	case *kind.OneOf:
		switch {
		case at("$defs/step"):
			t, _ := field(n, "type")
			if t == nil {
				p.Errorf(n, JoinPath(path, "type"), "missing required field")
			} else {
				p.Errorf(t, JoinPath(path, "type"), "unknown step type %q (want one of %s)", t.Value, strings.Join(stepTypes, ", "))
			}
		case at("$defs/wait"):
			p.Errorf(n, path, "a wait step needs exactly one of duration or until")
		case at("reentry"):
			p.Errorf(n, path, "want never, always or {after: DURATION}")
		default:
			p.Errorf(n, path, "does not match any allowed form")
		}
	case *kind.AnyOf:
		if at("exit/items") {
			p.Errorf(n, path, "an exit needs an event, a condition, or both")
		} else {
			p.Errorf(n, path, "does not match any allowed form")
		}
	default:
		p.Errorf(n, path, "%s", k.LocalizedString(printer))
	}
}
