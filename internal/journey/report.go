package journey

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Reporter collects the problems found in one definition file, each at a
// position in it. The parsers of journeys, audiences and computed traits
// embed it, so that files of every kind report problems the same way.
type Reporter struct {
	File string    // the file's name, as positions give it
	Errs ErrorList // the problems found so far, in the order found
}

// Pos returns where node n starts in the file; line 1, column 1 if n is
// nil.
func (r *Reporter) Pos(n *yaml.Node) Pos {
	if n == nil {
		return Pos{File: r.File, Line: 1, Column: 1}
	}
	return Pos{File: r.File, Line: n.Line, Column: n.Column}
}

// Errorf records a problem at node n with field path path.
func (r *Reporter) Errorf(n *yaml.Node, path, format string, args ...any) {
	r.Errs = append(r.Errs, &Error{Pos: r.Pos(n), Path: path, Message: fmt.Sprintf(format, args...)})
}

// YAMLError records an error of the YAML decoder as "invalid YAML: ..." at
// the line it names (line 1 if it names none).
func (r *Reporter) YAMLError(err error) {
	line, msg, ok := YAMLErrorLine(err)
	if !ok {
		line, msg = 1, strings.TrimPrefix(err.Error(), "yaml: ")
	}
	r.Errs = append(r.Errs, &Error{Pos: Pos{File: r.File, Line: line, Column: 1}, Message: "invalid YAML: " + msg})
}

var yamlLine = regexp.MustCompile(`^yaml: line ([0-9]+): `)

// YAMLErrorLine splits an error of the YAML decoder of the form
// "yaml: line N: MESSAGE" into N and MESSAGE; ok is false if err names no
// line.
func YAMLErrorLine(err error) (line int, msg string, ok bool) {
	msg = err.Error()
	m := yamlLine.FindStringSubmatch(msg)
	if m == nil {
		return 0, "", false
	}
	line, _ = strconv.Atoi(m[1])
	return line, msg[len(m[0]):], true
}

// ExprPos maps a line (1-based) and column (0-based) inside the expression
// held in scalar n to the file. It is exact for one-line plain and quoted
// scalars (escapes aside) and approximate for block scalars (| and >),
// whose lines it takes to start at the indicator's column.
func (r *Reporter) ExprPos(n *yaml.Node, line, col int) Pos {
	if n.Style != yaml.LiteralStyle && n.Style != yaml.FoldedStyle {
		return r.InlinePos(n, line, col)
	}
	pos := r.Pos(n)
	pos.Line += max(line, 1)
	pos.Column += max(col, 0)
	return pos
}

// InlinePos maps a line (1-based) and column (0-based) inside the
// expression held in scalar n to the file, taking n to be a plain or
// quoted scalar: exact for one-line ones (escapes aside).
func (r *Reporter) InlinePos(n *yaml.Node, line, col int) Pos {
	pos := r.Pos(n)
	line, col = max(line, 1), max(col, 0)
	if n.Style == yaml.SingleQuotedStyle || n.Style == yaml.DoubleQuotedStyle {
		pos.Column++
	}
	if line == 1 {
		pos.Column += col
	} else {
		pos.Line += line - 1
		pos.Column = col + 1
	}
	return pos
}

// Resolve follows aliases.
func Resolve(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

// JoinPath returns the field path of key in the mapping at path parent.
func JoinPath(parent, key string) string {
	if parent == "" {
		return key
	}
	return parent + "." + key
}

// DecodeDocument decodes a file that must hold exactly one YAML (or JSON)
// document and returns its root, aliases resolved; nil after reporting an
// empty file, a syntax error or a second document (what names what one
// file holds, for the message: "one audience per file").
func (r *Reporter) DecodeDocument(data []byte, what string) *yaml.Node {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			r.Errorf(nil, "", "empty file")
		} else {
			r.YAMLError(err)
		}
		return nil
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		r.Errorf(&extra, "", "more than one document: one %s per file", what)
	} else if !errors.Is(err, io.EOF) {
		r.YAMLError(err)
	}
	if len(doc.Content) == 0 {
		r.Errorf(nil, "", "empty file")
		return nil
	}
	return Resolve(doc.Content[0])
}

// Fields calls f for each key of mapping n, in order, reporting unknown
// ("unknown field (want ...)"), repeated and non-scalar keys. Keys and
// values are resolved.
func (r *Reporter) Fields(n *yaml.Node, path string, known []string, f func(key string, k, v *yaml.Node)) {
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := Resolve(n.Content[i]), Resolve(n.Content[i+1])
		fp := JoinPath(path, k.Value)
		switch {
		case k.Kind != yaml.ScalarNode:
			r.Errorf(k, path, "keys must be plain names")
		case !slices.Contains(known, k.Value):
			r.Errorf(k, fp, "unknown field (want %s)", strings.Join(known, ", "))
		case seen[k.Value]:
			r.Errorf(k, fp, "repeated field")
		default:
			seen[k.Value] = true
			f(k.Value, k, v)
		}
	}
}
