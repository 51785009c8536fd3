package api

import (
	"fmt"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// TestOpenAPICoversRoutes keeps openapi.yaml true: every path and method the
// server routes is documented, and nothing documented is missing.
func TestOpenAPICoversRoutes(t *testing.T) {
	ts := newTestServer(t)
	doc := string(OpenAPI)
	pathRe := regexp.MustCompile(`(?m)^  (/[^:]*):\s*$`)
	var documented []string
	for _, m := range pathRe.FindAllStringSubmatch(doc, -1) {
		documented = append(documented, m[1])
	}
	sort.Strings(documented)
	routes := map[string][]string{}
	for _, typ := range []string{"track", "identify", "page", "screen", "group", "alias", "batch", "import", "cloudevents"} {
		routes["/v1/"+typ] = []string{"post"}
	}
	for p, ms := range map[string][]string{
		"/v1/profiles": {"get"}, "/v1/profiles/{id}": {"get", "delete"}, "/v1/profiles/{id}/events": {"get"},
		"/v1/quarantine": {"get"}, "/v1/keys": {"get", "post"}, "/v1/keys/{id}": {"delete"}, "/v1/stats": {"get"},
		"/healthz": {"get"}, "/readyz": {"get"}, "/metrics": {"get"}, "/openapi.yaml": {"get"},
		"/debug/pprof/": {"get"}, "/debug/pprof/profile": {"get"}, "/debug/pprof/trace": {"get"},
		"/v1/journeys": {"get"}, "/v1/journeys/{id}": {"get", "put"}, "/v1/journeys/{id}/pause": {"post"},
		"/v1/journeys/{id}/resume": {"post"}, "/v1/journeys/{id}/archive": {"post"}, "/v1/journeys/{id}/analytics": {"get"}, "/v1/journeys/{id}/paths": {"get"}, "/v1/journeys/{id}/drivers": {"get"},
		"/v1/profiles/{id}/journeys": {"get"}, "/v1/messages": {"get"}, "/v1/messages/{id}/retry": {"post"},
		"/v1/traits": {"get"}, "/v1/traits/{name}": {"get", "put", "delete"},
		"/v1/audiences": {"get"}, "/v1/audiences/{id}": {"get", "put", "delete"},
		"/v1/audiences/{id}/refresh": {"post"}, "/v1/audiences/{id}/members": {"get"}, "/v1/audiences/{id}/activate": {"post"},
		"/v1/profiles/{id}/decisions": {"get"}, "/v1/profiles/{id}/timeline": {"get"}, "/v1/profiles/{id}/context": {"get"},
		"/v1/decide": {"post"}, "/v1/policy": {"get", "put", "delete"}, "/v1/offers": {"get"}, "/v1/offers/{id}": {"get", "put", "delete"},
		"/v1/interactions": {"get"}, "/v1/interactions/{id}": {"put", "delete"},
		"/v1/templates": {"get"}, "/v1/templates/{id}": {"put", "delete"}, "/v1/templates/{id}/preview": {"post"},
		"/t/o/{token}.gif": {"get"}, "/t/c/{token}": {"get"}, "/v1/receipts/{token}": {"post"}, "/v1/inbound/twilio": {"post"},
	} {
		routes[p] = ms
	}
	if len(documented) != len(routes) {
		t.Errorf("openapi.yaml documents %d paths, the server has %d: %v", len(documented), len(routes), documented)
	}
	for p, methods := range routes {
		i := strings.Index(doc, "\n  "+p+":")
		if i < 0 {
			t.Errorf("%s is not documented", p)
			continue
		}
		section := doc[i+1:]
		if j := pathRe.FindStringIndex(section[len(p)+3:]); j != nil {
			section = section[:len(p)+3+j[0]]
		}
		for _, m := range methods {
			if !strings.Contains(section, "    "+m+":") {
				t.Errorf("%s %s is not documented", strings.ToUpper(m), p)
			}
			// And the server really answers it (not the catch-all 404).
			concrete := strings.NewReplacer("{id}", "x", "{name}", "x").Replace(p)
			req, _ := http.NewRequest(strings.ToUpper(m), ts.URL+concrete, nil)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode == http.StatusNotFound && !strings.Contains(p, "{") || resp.StatusCode == http.StatusMethodNotAllowed {
				t.Errorf("%s %s: server answers %d", strings.ToUpper(m), p, resp.StatusCode)
			}
		}
	}
}

// TestOpenAPIParses keeps openapi.yaml valid YAML for strict parsers, and
// catches the flow-mapping slip where a comma in an unquoted description
// starts a new key ("{description: a, b}" is description "a" and a key
// "b" with no value).
func TestOpenAPIParses(t *testing.T) {
	var doc any
	if err := yaml.Unmarshal(OpenAPI, &doc); err != nil {
		t.Fatalf("openapi.yaml: %v", err)
	}
	var walk func(v any, path string)
	walk = func(v any, path string) {
		switch x := v.(type) {
		case map[string]any:
			for k, e := range x {
				if e == nil || !strings.HasPrefix(path, "/paths") && strings.Contains(k, " ") {
					t.Errorf("%s/%s: a key with no value or with spaces: an unquoted description with a comma?", path, k)
				}
				walk(e, path+"/"+k)
			}
		case []any:
			for i, e := range x {
				walk(e, fmt.Sprintf("%s/%d", path, i))
			}
		}
	}
	walk(doc, "")
}
