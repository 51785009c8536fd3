package message

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/osteele/liquid"
	"github.com/osteele/liquid/expressions"
	lparser "github.com/osteele/liquid/parser"
	"github.com/osteele/liquid/render"
	"github.com/osteele/liquid/values"
	"gopkg.in/yaml.v3"

	"github.com/overture-cjo/overture/internal/journey"
)

// engine compiles every field: the standard Liquid tags and filters.
// Strictness is not the engine's (its StrictVariables only catches a nil
// that is output): Parse checks names statically and Check renders with
// values that refuse a missing key (strict.go).
var engine = liquid.NewEngine()

// roots are the variables a template sees (Vars).
var roots = []string{"profile", "event", "journey", "offer"}

// token is one tag or object in a field's source.
type token struct {
	name    string // the tag's name; "" for an object {{ ... }}
	args    string // what follows the name
	off     int    // byte offset of the token in the source
	argsOff int    // byte offset of args in the source
	line    int    // 1-based
}

// compile compiles the Liquid source s of field name (path fp) held in
// scalar v and checks its names; nil after reporting why it cannot be
// used.
func (p *parser) compile(v *yaml.Node, fp, name, s string) *field {
	q := &parser{Reporter: journey.Reporter{File: p.File}, lines: p.lines}
	f := &field{name: name, path: fp, source: s, pos: func(line, col int) Pos { return q.exprPos(v, line, col) }}
	tpl, err := parseLiquid(s, fp)
	if err != nil {
		// Again without a path, for a message that quotes the tag.
		if _, e := parseLiquid(s, ""); e != nil {
			err = e
		}
		p.Errs = append(p.Errs, &Error{Pos: f.pos(err.LineNumber(), lineIndent(s, err.LineNumber())), Path: fp, Message: compileMessage(err)})
		return nil
	}
	f.tpl = tpl
	f.tokens = tokens(tpl.GetRoot(), s)
	n := len(p.Errs)
	p.checkNames(f)
	if len(p.Errs) > n {
		return nil
	}
	return f
}

// parseLiquid compiles Liquid source s of the field at path. The engine
// panics on some bad input (an integer literal out of range): that is an
// error too.
func parseLiquid(s, path string) (tpl *liquid.Template, err liquid.SourceError) {
	defer func() {
		if r := recover(); r != nil {
			tpl, err = nil, panicError{fmt.Errorf("the Liquid engine cannot compile this: %v", r)}
		}
	}()
	return engine.ParseTemplateLocation([]byte(s), path, 1)
}

// renderLiquid renders tpl with bindings b; a panic of the engine is an
// error.
func renderLiquid(tpl *liquid.Template, b map[string]any) (out []byte, err liquid.SourceError) {
	defer func() {
		if r := recover(); r != nil {
			out, err = nil, panicError{fmt.Errorf("the Liquid engine failed: %v", r)}
		}
	}()
	return tpl.Render(b)
}

// panicError is a panic of the engine as a liquid.SourceError, at no line.
type panicError struct{ err error }

func (e panicError) Error() string   { return e.err.Error() }
func (e panicError) Cause() error    { return e.err }
func (e panicError) Path() string    { return "" }
func (e panicError) LineNumber() int { return 0 }

// tokens lists the tags and objects under node, in source order, with
// their offsets in src.
func tokens(node render.Node, src string) []token {
	var out []token
	cursor := 0
	add := func(t lparser.Token, name string) {
		tok := token{name: name, args: t.Args, off: cursor, line: max(t.SourceLoc.LineNo, 1)}
		if i := strings.Index(src[cursor:], t.Source); i >= 0 {
			tok.off = cursor + i
			cursor = tok.off + len(t.Source)
		}
		skip := 0 // past "{{" or the tag's name
		if i := strings.Index(t.Source, name); i >= 0 {
			skip = i + len(name)
		}
		if i := strings.Index(t.Source[skip:], t.Args); i >= 0 && t.Args != "" {
			tok.argsOff = tok.off + skip + i
		} else {
			tok.argsOff = tok.off
		}
		out = append(out, tok)
	}
	var walk func(render.Node)
	walk = func(n render.Node) {
		switch n := n.(type) {
		case *render.SeqNode:
			for _, c := range n.Children {
				walk(c)
			}
		case *render.BlockNode:
			add(n.Token, n.Name)
			for _, c := range n.Body {
				walk(c)
			}
			for _, c := range n.Clauses {
				walk(c)
			}
		case *render.TagNode:
			add(n.Token, n.Name)
		case *render.ObjectNode:
			add(n.Token, "")
		}
	}
	walk(node)
	return out
}

// lexeme is one lexical token of a Liquid expression, as the Liquid
// scanner splits them.
type lexeme struct {
	kind byte // 'i' identifier, 'k' keyword ("limit:"), 'p' property (".name"), 's' string, 'n' number, 'o' other
	text string
	off  int // in the expression
}

// lex splits a Liquid expression.
func lex(s string) []lexeme {
	var out []lexeme
	identChar := func(c byte) bool {
		return c == '_' || c == '-' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
	}
	identStart := func(c byte) bool { return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
	digit := func(c byte) bool { return c >= '0' && c <= '9' }
	ident := func(i int) int { // end of the identifier starting at i
		for i < len(s) && identChar(s[i]) {
			i++
		}
		if i < len(s) && s[i] == '?' {
			i++
		}
		return i
	}
	for i := 0; i < len(s); {
		c, start := s[i], i
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
			continue
		case c == '"' || c == '\'':
			if j := strings.IndexByte(s[i+1:], c); j >= 0 {
				i += j + 2
			} else {
				i = len(s)
			}
			out = append(out, lexeme{'s', s[start:i], start})
		case digit(c) || c == '-' && i+1 < len(s) && digit(s[i+1]):
			i++
			for i < len(s) && digit(s[i]) {
				i++
			}
			if i+1 < len(s) && s[i] == '.' && digit(s[i+1]) {
				i++
				for i < len(s) && digit(s[i]) {
					i++
				}
			}
			out = append(out, lexeme{'n', s[start:i], start})
		case c == '.' && i+1 < len(s) && identStart(s[i+1]):
			i = ident(i + 1)
			out = append(out, lexeme{'p', s[start+1 : i], start})
		case identStart(c):
			i = ident(i)
			if i < len(s) && s[i] == ':' {
				out = append(out, lexeme{'k', s[start:i], start})
				i++
			} else {
				out = append(out, lexeme{'i', s[start:i], start})
			}
		default:
			i++
			if c == '.' && i < len(s) && s[i] == '.' {
				i++
			}
			out = append(out, lexeme{'o', s[start:i], start})
		}
	}
	return out
}

// maxRange is the most items a range of literals, (1..10), may have: a
// template renders a message, and Liquid makes the whole range.
const maxRange = 1000

// keywords are the identifiers of the expression language that are not
// variables.
// (null, empty and blank are no literals to this engine, but undefined
// variables, so nil: what they mean in most templates).
var keywords = []string{"and", "or", "contains", "in", "true", "false", "nil", "null", "empty", "blank"}

// checkNames reports, in field f, the variables that are none of the
// roots, the loop variables or one the field assigns, the filters the
// engine does not have, include (a template is one file) and ranges of
// more than maxRange literals.
func (p *parser) checkNames(f *field) {
	bound := []string{"forloop", "tablerowloop"}
	for _, t := range f.tokens {
		switch t.name {
		case "assign":
			if name, _, ok := strings.Cut(t.args, "="); ok {
				bound = append(bound, strings.TrimSpace(name))
			}
		case "capture":
			bound = append(bound, strings.TrimSpace(t.args))
		case "for", "tablerow":
			if l := lex(t.args); len(l) > 0 && l[0].kind == 'i' {
				bound = append(bound, l[0].text)
			}
		}
	}
	for _, t := range f.tokens {
		expr, exprOff := t.args, t.argsOff
		switch t.name {
		case "include":
			p.Errs = append(p.Errs, &Error{Pos: f.at(t.off), Path: f.path, Message: "include is not supported: a template is one file"})
			continue
		case "capture", "else", "break", "continue", "comment", "raw":
			continue
		case "assign":
			if i := strings.IndexByte(expr, '='); i >= 0 {
				expr, exprOff = expr[i+1:], exprOff+i+1
			}
		case "for", "tablerow":
			if l := lex(expr); len(l) > 0 && l[0].kind == 'i' {
				i := l[0].off + len(l[0].text)
				expr, exprOff = expr[i:], exprOff+i
			}
		}
		loop := t.name == "for" || t.name == "tablerow"
		l := lex(expr)
		for i, x := range l {
			filter := i > 0 && l[i-1].kind == 'o' && l[i-1].text == "|"
			switch {
			case filter && (x.kind == 'i' || x.kind == 'k'):
				if !filterExists(x.text) {
					p.Errs = append(p.Errs, &Error{Pos: f.at(exprOff + x.off), Path: f.path, Message: fmt.Sprintf("undefined filter %q", x.text)})
				}
			case x.kind == 'o' && x.text == ".." && i > 0 && i+1 < len(l) && l[i-1].kind == 'n' && l[i+1].kind == 'n':
				lo, err1 := strconv.Atoi(l[i-1].text)
				hi, err2 := strconv.Atoi(l[i+1].text)
				if err1 == nil && err2 == nil && hi-lo >= maxRange {
					p.Errs = append(p.Errs, &Error{Pos: f.at(exprOff + l[i-1].off), Path: f.path,
						Message: fmt.Sprintf("range (%s..%s) is too long: at most %d items", l[i-1].text, l[i+1].text, maxRange)})
				}
			case x.kind != 'i' || slices.Contains(keywords, x.text) || loop && x.text == "reversed":
			case !slices.Contains(roots, x.text) && !slices.Contains(bound, x.text):
				p.Errs = append(p.Errs, &Error{Pos: f.at(exprOff + x.off), Path: f.path, Message: undefinedRoot(x.text, bound)})
			}
		}
	}
}

// undefinedRoot is the message for a variable that is not defined.
func undefinedRoot(name string, bound []string) string {
	msg := fmt.Sprintf("undefined variable %q: a template sees profile, event, journey and offer", name)
	if len(bound) > 2 {
		msg += ", and the variables it assigns"
	}
	if best := closest(name, append(slices.Clone(roots), bound[2:]...)); best != "" {
		msg += fmt.Sprintf(" (did you mean %s?)", best)
	}
	return msg
}

// closest returns the candidate most like name, if one is like enough
// to be what was meant (one edit away for a name of up to 4 characters,
// two for a longer one), else "".
func closest(name string, candidates []string) string {
	best, dist := "", 2
	if len(name) > 4 {
		dist = 3
	}
	for _, c := range candidates {
		if d := editDistance(name, c); d < dist {
			best, dist = c, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b, in bytes.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

// at returns the position in the file of byte offset off of the field's
// source.
func (f *field) at(off int) Pos {
	off = min(max(off, 0), len(f.source))
	before := f.source[:off]
	line := 1 + strings.Count(before, "\n")
	col := utf8.RuneCountInString(before[strings.LastIndexByte(before, '\n')+1:])
	return f.pos(line, col)
}

// lineIndent returns the column (0-based, in runes) of the first
// non-blank character of line (1-based) of s.
func lineIndent(s string, line int) int {
	lines := strings.Split(s, "\n")
	if line < 1 || line > len(lines) {
		return 0
	}
	l := lines[line-1]
	return utf8.RuneCountInString(l) - utf8.RuneCountInString(strings.TrimLeft(l, " \t"))
}

var (
	filters        sync.Map // name -> bool: the engine has it
	liquidPrefix   = regexp.MustCompile(`^(Liquid error( \(line [0-9]+\))?: )+`)
	statementNoise = strings.NewReplacer(`"%assign `, `"`, `"%loop `, `"`, `"{%cycle `, `"`, `"{%when `, `"`)
)

// filterExists reports whether the engine has a filter named name. It
// asks the engine, which looks a filter up before it evaluates the value
// it filters: a probe value that stops the evaluation tells one that
// exists from one that does not, without calling it.
func filterExists(name string) bool {
	if ok, done := filters.Load(name); done {
		return ok.(bool)
	}
	ok := true
	if tpl, err := engine.ParseString("{{ probe | " + name + " }}"); err != nil {
		ok = false
	} else if _, err := tpl.Render(liquid.Bindings{"probe": filterProbe{}}); err != nil {
		var undefined expressions.UndefinedFilter
		ok = !errors.As(err.Cause(), &undefined)
	}
	filters.Store(name, ok)
	return ok
}

// errProbe stops the evaluation of a filterProbe.
const errProbe = expressions.InterpreterError("filter probe")

// filterProbe is a value whose evaluation stops with errProbe.
type filterProbe struct{ values.Value }

func (filterProbe) Interface() any { panic(errProbe) }

// compileMessage is the message of a Liquid compile error without its
// "Liquid error (line N): " prefix.
func compileMessage(err error) string {
	return statementNoise.Replace(liquidPrefix.ReplaceAllString(err.Error(), ""))
}

// renderCause is the cause of a Liquid render error in the field at
// path, or the error's message without the "Liquid error (line N): "
// prefix and the " in PATH" suffix if it has none.
func renderCause(err liquid.SourceError, path string) error {
	if c := err.Cause(); c != nil {
		return c
	}
	return errors.New(strings.TrimSuffix(liquidPrefix.ReplaceAllString(err.Error(), ""), " in "+path))
}
