package journey

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Load reads every *.yaml, *.yml and *.json file directly in dir (one
// journey per file), validates each, and checks the directory as a whole
// (ids unique, enter_journey targets exist). Errors name files as
// filepath.Join(dir, name). On any problem it returns an ErrorList with all
// of them, sorted by file and line.
func Load(dir string) ([]*Definition, error) {
	files, err := DefinitionFiles(dir)
	if err != nil {
		return nil, err
	}
	return loadFiles(files)
}

// DefinitionFiles lists the definition files directly in dir: those named
// *.yaml, *.yml or *.json (in any case) that are not directories and do not
// start with a dot, as filepath.Join(dir, name), sorted by name. The error
// is os.ReadDir's.
func DefinitionFiles(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var files []string
	for _, e := range entries {
		if e.IsDir() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		switch strings.ToLower(filepath.Ext(e.Name())) {
		case ".yaml", ".yml", ".json":
			files = append(files, filepath.Join(dir, e.Name()))
		}
	}
	return files, nil
}

func loadFiles(files []string) ([]*Definition, error) {
	sort.Strings(files)
	var defs []*Definition
	var errs ErrorList
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		d, err := Parse(f, data)
		var l ErrorList
		if errors.As(err, &l) {
			errs = append(errs, l...)
		} else if err != nil {
			return nil, err
		}
		if d != nil {
			defs = append(defs, d)
		}
	}
	errs = append(errs, checkDirectory(defs)...)
	if err := errs.err(); err != nil {
		return nil, err
	}
	return defs, nil
}

// checkDirectory checks what needs every file: unique ids and
// enter_journey targets.
func checkDirectory(defs []*Definition) ErrorList {
	var errs ErrorList
	byID := map[string]*Definition{}
	for _, d := range defs {
		if first, ok := byID[d.ID]; ok {
			errs = append(errs, &Error{Pos: d.idPos, Path: "id",
				Message: fmt.Sprintf("duplicate journey id %q (also in %s)", d.ID, first.idPos)})
			continue
		}
		byID[d.ID] = d
	}
	for _, d := range defs {
		for _, r := range d.enters {
			if _, ok := byID[r.id]; !ok {
				errs = append(errs, &Error{Pos: r.pos, Path: r.path,
					Message: fmt.Sprintf("no journey with id %q in this directory", r.id)})
			}
		}
	}
	return errs
}

// Parse reads one journey definition (YAML or JSON) named name (used in
// error positions). It checks the file alone: schema, step graph,
// durations and CEL; Load adds the checks across files. A *Definition is
// returned only when there is no error; the error is an ErrorList.
func Parse(name string, data []byte) (*Definition, error) {
	p := &parser{Reporter: Reporter{File: name}}
	root, err := p.decode(data)
	if err != nil {
		return nil, err
	}
	if !p.validateSchema(root) {
		return nil, p.Errs.err()
	}
	d := p.build(root)
	p.check(root, d)
	if err := p.Errs.err(); err != nil {
		return nil, err
	}
	return d, nil
}

type parser struct {
	Reporter
	journeyRefs []varRef
}

// decode parses the bytes into the document's root node.
func (p *parser) decode(data []byte) (*yaml.Node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if err == io.EOF {
			p.Errorf(nil, "", "empty file")
			return nil, p.Errs.err()
		}
		p.YAMLError(err)
		return nil, p.Errs.err()
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		p.Errorf(&extra, "", "more than one document: one journey per file")
	} else if err != io.EOF {
		p.YAMLError(err)
	}
	if len(doc.Content) == 0 {
		p.Errorf(nil, "", "empty file")
	}
	if err := p.Errs.err(); err != nil {
		return nil, err
	}
	return doc.Content[0], nil
}

// toValue turns a node into the JSON-like value the schema validator
// takes, reporting duplicate keys.
func (p *parser) toValue(n *yaml.Node, path string) any {
	n = Resolve(n)
	switch n.Kind {
	case yaml.MappingNode:
		m := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := Resolve(n.Content[i])
			kp := JoinPath(path, k.Value)
			if _, dup := m[k.Value]; dup {
				p.Errorf(k, kp, "duplicate field")
				continue
			}
			m[k.Value] = p.toValue(n.Content[i+1], kp)
		}
		return m
	case yaml.SequenceNode:
		s := make([]any, len(n.Content))
		for i, c := range n.Content {
			s[i] = p.toValue(c, indexPath(path, i))
		}
		return s
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!null":
			return nil
		case "!!bool":
			var b bool
			if n.Decode(&b) == nil {
				return b
			}
		case "!!int":
			var i int64
			if n.Decode(&i) == nil {
				return i
			}
			var f float64
			if n.Decode(&f) == nil {
				return f
			}
		case "!!float":
			var f float64
			if n.Decode(&f) == nil {
				return f
			}
		}
		return n.Value
	}
	return nil
}

func indexPath(parent string, i int) string { return fmt.Sprintf("%s[%d]", parent, i) }

// field returns the value node of key in mapping n, and its key node.
func field(n *yaml.Node, key string) (val, k *yaml.Node) {
	n = Resolve(n)
	if n == nil || n.Kind != yaml.MappingNode {
		return nil, nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if Resolve(n.Content[i]).Value == key {
			return Resolve(n.Content[i+1]), n.Content[i]
		}
	}
	return nil, nil
}

// locate walks the instance location of a schema error to its node and
// field path.
func locate(root *yaml.Node, loc []string) (*yaml.Node, string) {
	n, path := Resolve(root), ""
	for _, tok := range loc {
		switch n.Kind {
		case yaml.MappingNode:
			v, _ := field(n, tok)
			if v == nil {
				return n, JoinPath(path, tok)
			}
			n, path = v, JoinPath(path, tok)
		case yaml.SequenceNode:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(n.Content) {
				return n, path
			}
			n, path = Resolve(n.Content[i]), indexPath(path, i)
		default:
			return n, path
		}
	}
	return n, path
}

// LoadDir parses every definition file in dir (DefinitionFiles, sorted)
// with parse, which returns an ErrorList for a bad file. A missing dir has
// none: LoadDir returns nil, nil. If id is not nil, ids must be unique: a
// repeat is reported at its position, naming the first, as "duplicate
// NOUN id". Problems are returned together as an ErrorList sorted by
// position, with the definitions that had none (so a validator can check
// them further); a file that cannot be read is returned as it is, alone.
func LoadDir[T any](dir, noun string, parse func(file string, data []byte) (T, error), id func(T) (string, Pos)) ([]T, error) {
	files, err := DefinitionFiles(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var defs []T
	var errs ErrorList
	first := map[string]Pos{}
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			return nil, err
		}
		d, err := parse(file, data)
		if err != nil {
			var l ErrorList
			if !errors.As(err, &l) {
				return nil, err
			}
			errs = append(errs, l...)
			continue
		}
		if id != nil {
			name, pos := id(d)
			if at, ok := first[name]; ok {
				errs = append(errs, &Error{Pos: pos, Path: "id", Message: fmt.Sprintf("duplicate %s id %q (also in %s)", noun, name, at)})
				continue
			}
			first[name] = pos
		}
		defs = append(defs, d)
	}
	if len(errs) > 0 {
		errs.Sort()
		return defs, errs
	}
	return defs, nil
}
