package layout

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/overture-cjo/overture/"

// allowed lists, per package under internal/, the non-standard imports it
// may use (module-internal ones without the module prefix).
var allowed = map[string][]string{
	"core":       {},
	"eventlog":   {},
	"ingest":     {"internal/core", "github.com/goccy/go-json"},
	"identity":   {"internal/core"},
	"engine":     {"internal/core", "internal/identity", "internal/machine", "internal/computed", "internal/audience", "internal/policy", "internal/decide"},
	"wire":       {"internal/core", "github.com/goccy/go-json"},
	"loadgen":    {},
	"machine":    {"internal/core", "internal/journey", "internal/policy", "internal/decide", "internal/analytics", "cel.dev/cel-go", "google.golang.org/protobuf"}, // analytics: the buckets of time to goal (its gonum is linked through decide already)
	"catalog":    {"internal/core", "internal/journey", "internal/machine", "internal/computed", "internal/audience", "internal/policy", "internal/decide", "internal/touchpoint", "internal/message"},
	"outbox":     {"internal/core", "internal/deliver", "internal/message", "golang.org/x/time/rate"},
	"analytics":  {"gonum.org/v1/gonum"}, // the statistics of journey analytics: pure
	"track":      {"internal/core", "golang.org/x/net/html"},
	"proptest":   {},
	"webhook":    {"internal/machine"},
	"simulate":   {"internal/core", "internal/journey", "internal/machine", "internal/computed", "internal/audience", "internal/policy", "internal/decide"},
	"computed":   {"internal/core", "internal/journey", "cel.dev/cel-go", "gopkg.in/yaml.v3", "google.golang.org/protobuf", "github.com/goccy/go-json"},
	"journey":    {"internal/core", "schema", "cel.dev/cel-go", "github.com/santhosh-tekuri/jsonschema/v6", "gopkg.in/yaml.v3", "golang.org/x/text"},
	"audience":   {"internal/core", "internal/journey", "cel.dev/cel-go", "gopkg.in/yaml.v3", "github.com/robfig/cron/v3"},
	"policy":     {"internal/journey", "cel.dev/cel-go", "gopkg.in/yaml.v3"},
	"touchpoint": {"internal/journey", "cel.dev/cel-go", "gopkg.in/yaml.v3"},
	"decide":     {"internal/journey", "cel.dev/cel-go", "gopkg.in/yaml.v3", "gonum.org/v1/gonum"},

	"activation": {}, // signing and export formats: the standard library only
	"schematest": {"github.com/santhosh-tekuri/jsonschema/v6", "gopkg.in/yaml.v3"},

	// Delivery connectors (issue 7): each talks to its provider; none
	// knows the engine.
	"message":            {"internal/journey", "github.com/osteele/liquid", "gopkg.in/yaml.v3"},
	"deliver":            {"gopkg.in/yaml.v3"},
	"deliver/smtp":       {"internal/deliver"},
	"deliver/twilio":     {"internal/deliver"},
	"deliver/fcm":        {"internal/deliver"},
	"deliver/webhook":    {"internal/deliver", "internal/activation"},
	"deliver/logsend":    {"internal/deliver"},
	"deliver/connectors": {"internal/deliver", "internal/deliver/smtp", "internal/deliver/twilio", "internal/deliver/fcm", "internal/deliver/webhook", "internal/deliver/logsend"},
}

func TestImports(t *testing.T) {
	for pkg, allow := range allowed {
		dir := filepath.Join("..", pkg)
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatalf("%s: %v", pkg, err)
		}
		bad := map[string]bool{}
		for _, e := range entries {
			name := e.Name()
			if !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
				continue
			}
			f, err := parser.ParseFile(token.NewFileSet(), filepath.Join(dir, name), nil, parser.ImportsOnly)
			if err != nil {
				t.Fatal(err)
			}
			for _, imp := range f.Imports {
				path, _ := strconv.Unquote(imp.Path.Value)
				if isStd(path) || permitted(strings.TrimPrefix(path, module), allow) {
					continue
				}
				bad[path] = true
			}
		}
		if len(bad) > 0 {
			var list []string
			for p := range bad {
				list = append(list, p)
			}
			sort.Strings(list)
			t.Errorf("internal/%s imports %v; it may use only the standard library and %v", pkg, list, allow)
		}
	}
}

func isStd(path string) bool {
	first, _, _ := strings.Cut(path, "/")
	return !strings.Contains(first, ".")
}

func permitted(path string, allow []string) bool {
	for _, a := range allow {
		if path == a || strings.HasPrefix(path, a+"/") {
			return true
		}
	}
	return false
}
