package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/overture-cjo/overture/internal/journey"
	"github.com/overture-cjo/overture/internal/machine"
	"github.com/overture-cjo/overture/internal/simulate"
)

const testUsage = `Usage:
  overture test [-v] DIR|FILE...

Runs journey test files: every *.test.yaml (or *.test.yml) under each DIR,
recursively, and each FILE given. A test simulates its events against a
directory of journey definitions (as "overture simulate" does) and checks
each named customer's trace. A file holds one test, or a list of them:

  name: a buyer is thanked          # one test per file...
  journeys: ..                      # definitions, relative to this file
  start: 2026-03-02T09:00:00Z       # what "at" offsets count from
  until: 30d                        # optional: stop there (time, or offset)
  webhooks:                         # optional canned replies by step name
    hook: {status: 200, body: {ok: true}}
  events:                           # as in simulate's events file
    - {at: 0s, userId: u1, event: Cart Updated, properties: {cart_id: c1}}
  expect:
    u1:
      - +1h cart-abandonment remind send email cart-reminder
  exact: false                      # true: no other trace lines

  journeys: ..                      # ...or defaults for a list of tests
  start: 2026-03-02T09:00:00Z
  tests:
    - {name: ..., events: [...], expect: {...}}

Trace lines read "+OFFSET JOURNEY [STEP] KIND [DETAIL] [-> NEXT]", the
offset from start ("0s", "1h", "2d3h"), and a wait's "until" also as an
offset. An expected line matches a trace line equal to it, or that it is
a prefix of up to a space. The expected lines must match in order, others
may come between; with exact: true the trace must have no other lines.
-v prints every customer's trace.

Exit status: 0 if every test passed, 1 if one failed or a file is invalid
(problems named FILE:LINE:COLUMN), 2 on a usage error.
`

func testCommand(args []string, stdout, stderr io.Writer) error {
	fset := flag.NewFlagSet("test", flag.ContinueOnError)
	fset.SetOutput(stderr)
	fset.Usage = func() { fmt.Fprint(stderr, testUsage) }
	verbose := fset.Bool("v", false, "print every customer's trace")
	if err := fset.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if fset.NArg() == 0 {
		fset.Usage()
		return errors.New("test: want a directory or test file")
	}
	files, err := findTestFiles(fset.Args())
	if err != nil {
		return &exitError{code: 1, err: fmt.Errorf("test: %w", err)}
	}
	if len(files) == 0 {
		return &exitError{code: 1, err: fmt.Errorf("test: no *.test.yaml files in %s", strings.Join(fset.Args(), ", "))}
	}
	r := &testRunner{out: stdout, verbose: *verbose, catalogs: map[string]*loadedCatalog{}}
	for _, f := range files {
		r.runFile(f)
	}
	if r.failed > 0 || r.invalid > 0 {
		fmt.Fprintf(stdout, "FAIL: %d passed, %d failed", r.passed, r.failed)
		if r.invalid > 0 {
			fmt.Fprintf(stdout, ", %d invalid file(s)", r.invalid)
		}
		fmt.Fprintln(stdout)
		return &exitError{code: 1}
	}
	fmt.Fprintf(stdout, "ok: %d passed\n", r.passed)
	return nil
}

// findTestFiles lists the test files under each path, sorted per path. A
// path that is a file is taken as it is.
func findTestFiles(paths []string) ([]string, error) {
	var files []string
	for _, p := range paths {
		info, err := os.Stat(p)
		if err != nil {
			return nil, err
		}
		if !info.IsDir() {
			files = append(files, p)
			continue
		}
		var found []string
		err = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() && path != p && strings.HasPrefix(d.Name(), ".") {
				return filepath.SkipDir
			}
			if !d.IsDir() && (strings.HasSuffix(d.Name(), ".test.yaml") || strings.HasSuffix(d.Name(), ".test.yml")) {
				found = append(found, path)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		sort.Strings(found)
		files = append(files, found...)
	}
	return files, nil
}

// testCase is one decoded test.
type testCase struct {
	name     string
	where    string // FILE, or FILE:LINE for a test in a list
	journeys string // the definitions directory
	start    time.Time
	until    time.Time
	webhooks map[string]machine.Reply
	events   []simulate.Input
	expect   []expectation // in file order
	exact    bool
}

// expectation is the lines expected of one customer.
type expectation struct {
	customer string
	lines    []string
}

type loadedCatalog struct {
	cat      *machine.Catalog
	defs     *definitionSet
	problems []string
}

type testRunner struct {
	out      io.Writer
	verbose  bool
	catalogs map[string]*loadedCatalog // by directory
	passed   int
	failed   int
	invalid  int
}

// runFile decodes and runs one test file.
func (r *testRunner) runFile(file string) {
	data, err := os.ReadFile(file)
	if err != nil {
		r.invalid++
		fmt.Fprintf(r.out, "FAIL %s\n    %v\n", file, err)
		return
	}
	tests, problems := decodeTestFile(file, data)
	if len(problems) > 0 {
		r.invalid++
		fmt.Fprintf(r.out, "FAIL %s: invalid test file\n", file)
		for _, p := range problems {
			fmt.Fprintf(r.out, "    %s\n", p)
		}
		return
	}
	for _, tc := range tests {
		r.run(tc)
	}
}

// catalog loads (once) the journeys of a directory.
func (r *testRunner) catalog(dir string) *loadedCatalog {
	if lc, ok := r.catalogs[dir]; ok {
		return lc
	}
	lc := &loadedCatalog{}
	var buf bytes.Buffer
	ds, err := loadCatalog(dir, &buf)
	if err != nil {
		if s := strings.TrimSpace(buf.String()); s != "" {
			lc.problems = strings.Split(s, "\n")
		}
		lc.problems = append(lc.problems, err.Error())
	}
	if ds != nil {
		lc.cat, lc.defs = ds.cat, ds
	}
	r.catalogs[dir] = lc
	return lc
}

// run runs one test and prints its outcome.
func (r *testRunner) run(tc *testCase) {
	lc := r.catalog(tc.journeys)
	if lc.cat == nil {
		r.failed++
		fmt.Fprintf(r.out, "FAIL %s (%s)\n    journeys %s:\n", tc.name, tc.where, tc.journeys)
		for _, p := range lc.problems {
			fmt.Fprintf(r.out, "        %s\n", p)
		}
		return
	}
	res := simulate.Run(lc.cat, tc.events, lc.defs.options(simulate.Options{Until: tc.until, Webhooks: tc.webhooks, Zone: simulate.LoadZone}))
	traces := map[string][]string{}
	var ids []string
	for _, c := range res.Customers {
		ids = append(ids, c.ID)
		for _, rec := range c.Trace {
			traces[c.ID] = append(traces[c.ID], simulate.RelativeLine(rec, tc.start))
		}
	}
	var report []string
	for _, e := range tc.expect {
		got := traces[e.customer]
		m := simulate.Match(e.lines, got, tc.exact)
		if m == nil {
			continue
		}
		report = append(report, explain(e, got, m, tc.exact)...)
	}
	if len(report) == 0 {
		r.passed++
		fmt.Fprintf(r.out, "ok   %s (%s)\n", tc.name, tc.where)
	} else {
		r.failed++
		fmt.Fprintf(r.out, "FAIL %s (%s)\n", tc.name, tc.where)
		for _, l := range report {
			fmt.Fprintf(r.out, "    %s\n", l)
		}
	}
	if r.verbose {
		for _, id := range ids {
			fmt.Fprintf(r.out, "    trace of %s:\n", id)
			for _, l := range traces[id] {
				fmt.Fprintf(r.out, "        %s\n", l)
			}
		}
	}
}

// explain says why a customer's trace did not match, and shows the trace
// with the lines that matched marked.
func explain(e expectation, got []string, m *simulate.Mismatch, exact bool) []string {
	var out []string
	switch {
	case m.Want < 0:
		out = append(out, fmt.Sprintf("customer %s: the trace has %d line(s) after the last expected one (exact)", e.customer, len(got)-m.After))
	case exact && m.After < len(got):
		out = append(out, fmt.Sprintf("customer %s: expected line %d does not match trace line %d (exact):", e.customer, m.Want+1, m.After+1),
			"    "+e.lines[m.Want])
	case m.After == 0:
		out = append(out, fmt.Sprintf("customer %s: expected line %d not found:", e.customer, m.Want+1), "    "+e.lines[m.Want])
	default:
		out = append(out, fmt.Sprintf("customer %s: expected line %d not found after trace line %d:", e.customer, m.Want+1, m.After), "    "+e.lines[m.Want])
	}
	if len(got) == 0 {
		return append(out, fmt.Sprintf("customer %s has no trace: no journey ran for them", e.customer))
	}
	out = append(out, fmt.Sprintf("trace of %s (= matched):", e.customer))
	for i, l := range got {
		mark := " "
		if m.Matched[i] >= 0 {
			mark = "="
		}
		out = append(out, fmt.Sprintf("  %3d %s %s", i+1, mark, l))
	}
	return out
}

// The test file decoder: strict (unknown and duplicate fields are errors),
// every problem reported as FILE:LINE:COLUMN: PATH: MESSAGE.

var (
	settingFields = []string{"journeys", "start", "until", "webhooks"}
	testFields    = []string{"name", "journeys", "start", "until", "webhooks", "events", "expect", "exact"}
)

type testDecoder struct {
	file     string
	problems []problem
}

// problem is one thing wrong in a test file.
type problem struct {
	line, col int
	msg       string // "FILE:LINE:COLUMN: PATH: MESSAGE"
}

// sorted returns the problems' messages by position in the file.
func (d *testDecoder) sorted() []string {
	sort.SliceStable(d.problems, func(a, b int) bool {
		pa, pb := d.problems[a], d.problems[b]
		if pa.line != pb.line {
			return pa.line < pb.line
		}
		return pa.col < pb.col
	})
	out := make([]string, len(d.problems))
	for i, p := range d.problems {
		out[i] = p.msg
	}
	return out
}

func (d *testDecoder) errorf(n *yaml.Node, path, format string, args ...any) {
	line, col := 1, 1
	if n != nil {
		line, col = n.Line, n.Column
	}
	msg := fmt.Sprintf(format, args...)
	if path != "" {
		msg = path + ": " + msg
	}
	d.problems = append(d.problems, problem{line, col, fmt.Sprintf("%s:%d:%d: %s", d.file, line, col, msg)})
}

// decodeTestFile decodes a test file into its tests, or the problems.
func decodeTestFile(file string, data []byte) ([]*testCase, []string) {
	d := &testDecoder{file: file}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		msg := strings.TrimPrefix(err.Error(), "yaml: ")
		line := 1
		if _, err := fmt.Sscanf(msg, "line %d:", &line); err == nil {
			msg = strings.TrimSpace(msg[strings.Index(msg, ":")+1:])
		}
		d.errorf(&yaml.Node{Line: line, Column: 1}, "", "invalid YAML: %s", msg)
		return nil, d.sorted()
	}
	if len(doc.Content) == 0 {
		d.errorf(nil, "", "empty file")
		return nil, d.sorted()
	}
	root := journey.Resolve(doc.Content[0])
	top := d.fields(root, "", append(testFields, "tests")...)
	if top == nil {
		return nil, d.sorted()
	}
	var tests []*testCase
	if list, ok := top["tests"]; ok {
		for _, f := range []string{"name", "events", "expect", "exact"} {
			if v, ok := top[f]; ok {
				d.errorf(v, f, "goes in each test of the tests list (only %s may be given at the top, as defaults)", strings.Join(settingFields, ", "))
			}
		}
		list = journey.Resolve(list)
		if list.Kind != yaml.SequenceNode || len(list.Content) == 0 {
			d.errorf(list, "tests", "want a list of tests")
			return nil, d.sorted()
		}
		for i, item := range list.Content {
			path := fmt.Sprintf("tests[%d]", i)
			own := d.fields(journey.Resolve(item), path, testFields...)
			if own == nil {
				continue
			}
			if tc := d.test(own, top, path, fmt.Sprintf("%s:%d", file, item.Line)); tc != nil {
				tests = append(tests, tc)
			}
		}
	} else if tc := d.test(top, nil, "", file); tc != nil {
		tests = append(tests, tc)
	}
	return tests, d.sorted()
}

// test builds a test from its fields, taking settings it lacks from
// defaults (nil for none).
func (d *testDecoder) test(own, defaults map[string]*yaml.Node, path, where string) *testCase {
	before := len(d.problems)
	get := func(key string) (*yaml.Node, string) {
		if v, ok := own[key]; ok {
			return v, journey.JoinPath(path, key)
		}
		if v, ok := defaults[key]; ok {
			return v, key
		}
		return nil, journey.JoinPath(path, key)
	}
	tc := &testCase{where: where}

	if v, p := get("name"); v == nil {
		d.errorf(d.anchor(own), p, "missing (a name for the test)")
	} else {
		tc.name = d.str(v, p)
	}
	if v, p := get("journeys"); v == nil {
		d.errorf(d.anchor(own), p, "missing (the directory of journey definitions, relative to this file)")
	} else if dir := d.str(v, p); dir != "" {
		if !filepath.IsAbs(dir) {
			dir = filepath.Join(filepath.Dir(d.file), dir)
		}
		tc.journeys = filepath.Clean(dir)
	}
	v, p := get("start")
	if v == nil {
		d.errorf(d.anchor(own), p, "missing (an RFC 3339 time, e.g. 2026-03-02T09:00:00Z)")
		return nil // the events need it
	}
	s := d.str(v, p)
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		d.errorf(v, p, "%q is not an RFC 3339 time (e.g. 2026-03-02T09:00:00Z)", s)
		return nil
	}
	tc.start = t.UTC()
	if v, p := get("until"); v != nil {
		if tc.until, err = parseUntil(d.str(v, p), tc.start); err != nil {
			d.errorf(v, p, "%v", err)
		}
	}
	if v, p := get("webhooks"); v != nil {
		tc.webhooks = d.webhooks(v, p)
	}
	if v, p := get("events"); v == nil {
		d.errorf(d.anchor(own), p, "missing (a list of events)")
	} else {
		tc.events = d.events(v, p, tc.start)
	}
	if v, p := get("expect"); v == nil {
		d.errorf(d.anchor(own), p, "missing (customer id -> expected trace lines)")
	} else {
		tc.expect = d.expect(v, p)
	}
	if v, p := get("exact"); v != nil {
		v = journey.Resolve(v)
		if v.Kind != yaml.ScalarNode || v.ShortTag() != "!!bool" || v.Decode(&tc.exact) != nil {
			d.errorf(v, p, "want true or false")
		}
	}
	if len(d.problems) > before {
		return nil
	}
	return tc
}

// anchor is where to report a missing field: the mapping's first key.
func (d *testDecoder) anchor(m map[string]*yaml.Node) *yaml.Node {
	var first *yaml.Node
	for _, v := range m {
		if first == nil || v.Line < first.Line || v.Line == first.Line && v.Column < first.Column {
			first = v
		}
	}
	return first
}

// fields checks that n is a mapping with only the allowed keys, each once,
// and returns the values by key (nil if n is not a mapping).
func (d *testDecoder) fields(n *yaml.Node, path string, allowed ...string) map[string]*yaml.Node {
	if n.Kind != yaml.MappingNode {
		d.errorf(n, path, "want a mapping with fields %s", strings.Join(allowed, ", "))
		return nil
	}
	out := map[string]*yaml.Node{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := journey.Resolve(n.Content[i])
		kp := journey.JoinPath(path, k.Value)
		switch {
		case !containsString(allowed, k.Value):
			d.errorf(k, kp, "unknown field (want %s)", strings.Join(allowed, ", "))
		case out[k.Value] != nil:
			d.errorf(k, kp, "duplicate field")
		default:
			out[k.Value] = n.Content[i+1]
		}
	}
	return out
}

// str reads a string scalar (any scalar but null, as written).
func (d *testDecoder) str(n *yaml.Node, path string) string {
	n = journey.Resolve(n)
	if n.Kind != yaml.ScalarNode || n.ShortTag() == "!!null" {
		d.errorf(n, path, "want a string")
		return ""
	}
	if n.Value == "" {
		d.errorf(n, path, "must not be empty")
	}
	return n.Value
}

// webhooks reads step name -> {status, body, err}.
func (d *testDecoder) webhooks(n *yaml.Node, path string) map[string]machine.Reply {
	n = journey.Resolve(n)
	if n.Kind != yaml.MappingNode {
		d.errorf(n, path, "want a mapping of webhook step name -> {status, body, err}")
		return nil
	}
	out := map[string]machine.Reply{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		step := journey.Resolve(n.Content[i]).Value
		p := journey.JoinPath(path, step)
		f := d.fields(journey.Resolve(n.Content[i+1]), p, "status", "body", "err")
		if f == nil {
			continue
		}
		var rep machine.Reply
		if v, ok := f["status"]; ok {
			v = journey.Resolve(v)
			if v.ShortTag() != "!!int" || v.Decode(&rep.Status) != nil || rep.Status < 100 || rep.Status > 599 {
				d.errorf(v, journey.JoinPath(p, "status"), "want an HTTP status, 100 to 599")
			}
		}
		if v, ok := f["body"]; ok {
			val, err := jsonValue(v)
			if err != nil {
				d.errorf(err.node, journey.JoinPath(p, "body")+err.path, "%s", err.msg)
			} else {
				rep.Body, _ = json.Marshal(val)
			}
		}
		if v, ok := f["err"]; ok {
			rep.Err = d.str(v, journey.JoinPath(p, "err"))
		}
		if rep.Status == 0 && rep.Err == "" {
			d.errorf(n.Content[i], p, "give a status, or err for a call that failed")
		}
		out[step] = rep
	}
	return out
}

// events reads the events list, each event as a line of simulate's
// events file, and sorts them by time (stable).
func (d *testDecoder) events(n *yaml.Node, path string, start time.Time) []simulate.Input {
	n = journey.Resolve(n)
	if n.Kind != yaml.SequenceNode {
		d.errorf(n, path, "want a list of events")
		return nil
	}
	var out []simulate.Input
	for i, item := range n.Content {
		item = journey.Resolve(item)
		p := fmt.Sprintf("%s[%d]", path, i)
		if item.Kind != yaml.MappingNode {
			d.errorf(item, p, "want an event: a mapping like {at: 1h, userId: u1, event: Signed Up}")
			continue
		}
		val, jerr := jsonValue(item)
		if jerr != nil {
			d.errorf(jerr.node, p+jerr.path, "%s", jerr.msg)
			continue
		}
		b, _ := json.Marshal(val)
		ev, err := simulate.ParseEvent(b, start)
		if err != nil {
			// The parser's errors start with the field at fault: point at it.
			msg, at := err.Error(), item
			if field, rest, ok := strings.Cut(msg, ": "); ok {
				if k := valueNode(item, field); k != nil {
					msg, at, p = rest, k, p+"."+field
				}
			}
			d.errorf(at, p, "%s", msg)
			continue
		}
		if ev.MessageID == "" {
			ev.MessageID = fmt.Sprintf("%s:%d", d.file, item.Line)
		}
		out = append(out, simulate.Input{Event: ev, Line: item.Line})
	}
	sort.SliceStable(out, func(a, b int) bool { return out[a].Event.Timestamp.Before(out[b].Event.Timestamp) })
	return out
}

// expect reads customer id -> list of expected lines, in file order.
func (d *testDecoder) expect(n *yaml.Node, path string) []expectation {
	n = journey.Resolve(n)
	if n.Kind != yaml.MappingNode || len(n.Content) == 0 {
		d.errorf(n, path, "want a mapping of customer id -> expected trace lines")
		return nil
	}
	var out []expectation
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := journey.Resolve(n.Content[i])
		p := journey.JoinPath(path, k.Value)
		if seen[k.Value] {
			d.errorf(k, p, "duplicate customer")
			continue
		}
		seen[k.Value] = true
		e := expectation{customer: k.Value}
		v := journey.Resolve(n.Content[i+1])
		if v.Kind != yaml.SequenceNode {
			d.errorf(v, p, `want a list of trace lines such as "+1h journey step send email template" ([] for none)`)
			continue
		}
		for j, l := range v.Content {
			l = journey.Resolve(l)
			lp := fmt.Sprintf("%s[%d]", p, j)
			if l.Kind != yaml.ScalarNode || l.ShortTag() != "!!str" {
				d.errorf(l, lp, "want a trace line (a string; quote it)")
				continue
			}
			if !strings.HasPrefix(l.Value, "+") {
				d.errorf(l, lp, `%q: a trace line starts with its offset from start, e.g. "+1h"`, l.Value)
				continue
			}
			e.lines = append(e.lines, l.Value)
		}
		out = append(out, e)
	}
	return out
}

// valueNode returns the value node of a mapping's field, or nil.
func valueNode(m *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if k := journey.Resolve(m.Content[i]); k.Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

// nodeError is a YAML value that has no JSON form.
type nodeError struct {
	node *yaml.Node
	path string // below the value: ".a[2]"
	msg  string
}

// jsonValue converts a YAML value to the JSON value it writes down:
// mappings (string keys) to objects, sequences to arrays, and scalars by
// their tag. Timestamps stay strings, as written.
func jsonValue(n *yaml.Node) (any, *nodeError) {
	return jsonValueAt(n, "", 0)
}

func jsonValueAt(n *yaml.Node, path string, depth int) (any, *nodeError) {
	n = journey.Resolve(n)
	if depth > 100 {
		return nil, &nodeError{n, path, "nested too deep"}
	}
	switch n.Kind {
	case yaml.MappingNode:
		m := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := journey.Resolve(n.Content[i])
			if k.Kind != yaml.ScalarNode || k.ShortTag() == "!!merge" {
				return nil, &nodeError{k, path, "keys must be plain strings"}
			}
			kp := path + "." + k.Value
			if _, dup := m[k.Value]; dup {
				return nil, &nodeError{k, kp, "duplicate field"}
			}
			v, err := jsonValueAt(n.Content[i+1], kp, depth+1)
			if err != nil {
				return nil, err
			}
			m[k.Value] = v
		}
		return m, nil
	case yaml.SequenceNode:
		s := make([]any, len(n.Content))
		for i, c := range n.Content {
			v, err := jsonValueAt(c, fmt.Sprintf("%s[%d]", path, i), depth+1)
			if err != nil {
				return nil, err
			}
			s[i] = v
		}
		return s, nil
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!null":
			return nil, nil
		case "!!bool":
			var b bool
			if n.Decode(&b) == nil {
				return b, nil
			}
		case "!!int", "!!float":
			var f float64
			if n.Decode(&f) == nil && !math.IsInf(f, 0) && !math.IsNaN(f) {
				if n.ShortTag() == "!!int" {
					var i int64
					if n.Decode(&i) == nil {
						return i, nil
					}
				}
				return f, nil
			}
			return nil, &nodeError{n, path, fmt.Sprintf("%q is not a JSON number", n.Value)}
		}
		return n.Value, nil
	}
	return nil, &nodeError{n, path, "not a JSON value"}
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
