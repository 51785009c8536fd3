package message

import (
	"flag"
	"github.com/overture-cjo/overture/internal/schematest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/bad/*.err from the parser's output")

// TestParseBad parses each file in testdata/bad and compares every error
// with NAME.err next to it (go test -update rewrites them).
func TestParseBad(t *testing.T) {
	schematest.BadFiles(t, "testdata/bad", *update, func(file string, data []byte) error {
		_, err := Parse(file, data)
		if _, ok := err.(ErrorList); err != nil && !ok {
			t.Fatalf("error %T, want ErrorList", err)
		}
		return err
	})
}

func TestParse(t *testing.T) {
	src := `# comment
id: welcome
description: Says hello.
email:
  subject: "Welcome, {{ profile.traits.first_name }}"
  html: |
    <p>Hello {{ profile.traits.name | escape }}</p>
  text: Hello
sms:
  body: Hello {{ profile.traits.first_name }}
  max_segments: 2
mms: {body: Look, media_url: "https://cdn.example.com/a.png"}
push: {title: Hi, body: Hello, deep_link: "app://home"}
voice: {ivr_flow: welcome}
webhook: {body: '{"id": {{ profile.id | json }}}'}
chat: {body: '{}'}
whatsapp: {body: '[]'}
sample:
  journey: {plan_end: "2025-06-30"}
  offer: null
`
	tpl, err := Parse("w.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if tpl.ID != "welcome" || tpl.Description != "Says hello." || tpl.MaxSegments != 2 || tpl.Pos.String() != "w.yaml:2:1" {
		t.Errorf("parsed %+v", tpl)
	}
	want := []string{"email", "sms", "mms", "push", "voice", "webhook", "chat", "whatsapp"}
	if got := tpl.Channels(); !slices.Equal(got, want) {
		t.Errorf("Channels %v, want %v", got, want)
	}
	if !tpl.Has("voice") || tpl.Has("fax") {
		t.Error("Has")
	}
	if s, ok := tpl.Source("email", "html"); !ok || s != "<p>Hello {{ profile.traits.name | escape }}</p>\n" {
		t.Errorf("Source(email, html) = %q, %v", s, ok)
	}
	if _, ok := tpl.Source("voice", "script"); ok {
		t.Error("Source(voice, script): want none")
	}
	if err := tpl.Check(SampleVars()); err != nil {
		t.Error(err)
	}
	sample := tpl.Sample()
	if sample.Offer != nil || sample.Journey["plan_end"] != "2025-06-30" || sample.Journey["cart_id"] != "cart-1042" {
		t.Errorf("Sample: %+v", sample)
	}

	// Defaults, from JSON.
	tpl, err = Parse("b.json", []byte(`{"id": "b", "sms": {"body": "Hi"}}`))
	if err != nil {
		t.Fatal(err)
	}
	if tpl.MaxSegments != DefaultMaxSegments || tpl.Description != "" || !slices.Equal(tpl.Channels(), []string{"sms"}) {
		t.Errorf("defaults: %+v", tpl)
	}
	// No sms: no segments.
	tpl = mustParse(t, "id: p\npush: {body: Hi}\n")
	if tpl.MaxSegments != 0 {
		t.Errorf("MaxSegments without sms: %d", tpl.MaxSegments)
	}
}

// TestParseNames checks the names Parse accepts: the four variables,
// those a template binds (assign, capture, for, tablerow and their loop
// objects), keywords, literals, filters with and without arguments.
func TestParseNames(t *testing.T) {
	src := `id: names
email:
  subject: "{{ 'x|y' | upcase }} {{ \"profil\" | append: 'a' }}"
  text: |
    {%- assign n = event.properties.items | size -%}
    {%- capture who %}{{ profile.traits.first_name | default: "there" }}{% endcapture -%}
    Hi {{ who }}, {{ n }} items:
    {% for item in event.properties.items reversed limit: 2 offset: 0 %}
      {{ forloop.index }}. {{ item.name }}{% unless forloop.last %},{% endunless %}
    {% else %}none
    {% endfor %}
    {% for i in (1..3) %}{% cycle 'a', 'b' %}{% if i == 2 %}{% break %}{% endif %}{% endfor %}
    {% tablerow x in event.properties.items cols: 2 %}{{ tablerowloop.col }} {{ x.sku }}{% endtablerow %}
    {% case profile.traits.plan %}{% when "postpaid", "prepaid" %}mobile{% else %}other{% endcase %}
    {% if profile.audiences contains "high-value" and offer != nil or false %}{{ offer.value | times: 2 }}{% elsif empty %}{% endif %}
    {% raw %}{{ not_a_variable | nor_a_filter }}{% endraw %}
    {% comment %}{{ nor_here }}{% endcomment %}
    {{ profile["traits"]["plan"] }} {{ event.properties.items[0].name }}
    {{- journey.cart_id | prepend: "#" -}}
`
	tpl, err := Parse("names.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if err := tpl.Check(SampleVars()); err != nil {
		t.Fatal(err)
	}
	r, err := tpl.Render("email", SampleVars())
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Hi Ada, 2 items:", "1. Running socks,", "2. Trail running shoes", "mobile", "240", "{{ not_a_variable | nor_a_filter }}"} {
		if !strings.Contains(r.Text, want) {
			t.Errorf("text lacks %q:\n%s", want, r.Text)
		}
	}
}

func TestLoad(t *testing.T) {
	templates, err := Load("../../examples/journeys/templates")
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, tpl := range templates {
		ids = append(ids, tpl.ID)
		if err := tpl.Check(SampleVars()); err != nil {
			t.Errorf("%s: %v", tpl.ID, err)
		}
	}
	want := []string{"cart-follow-up", "cart-reminder", "cart-sms", "complaint-received", "dispute-credited", "dispute-received", "dispute-rejected", "dispute-still-open", "order-delivered", "transfer-cancelled", "transfer-delayed"}
	if !slices.Equal(ids, want) {
		t.Errorf("ids %v, want %v", ids, want)
	}
	set, err := NewSet(templates)
	if err != nil {
		t.Fatal(err)
	}
	// Every template a journey in the examples sends is there.
	journeys, _ := filepath.Glob("../../examples/journeys/*.yaml")
	for _, j := range journeys {
		data, _ := os.ReadFile(j)
		for _, line := range strings.Split(string(data), "\n") {
			if _, after, ok := strings.Cut(line, "template: "); ok {
				id, _, _ := strings.Cut(after, ",")
				if set.Get(strings.TrimSpace(id)) == nil {
					t.Errorf("%s sends template %q, which examples/journeys/templates lacks", j, id)
				}
			}
		}
	}

	templates, err = Load("testdata/no-such-dir")
	if templates != nil || err != nil {
		t.Errorf("missing dir: %v, %v", templates, err)
	}

	templates, err = Load("testdata/dup")
	if len(templates) != 1 || templates[0].Pos.File != "testdata/dup/a.yaml" {
		t.Errorf("Load(testdata/dup) returned %v, want the template of a.yaml", templates)
	}
	wantErr := `testdata/dup/b.yml:2:5: id: duplicate template id "same" (also in testdata/dup/a.yaml:1:5)
testdata/dup/c.yaml:1:1: invalid YAML: did not find expected ',' or ']'`
	if err == nil || err.Error() != wantErr {
		t.Errorf("Load(testdata/dup):\n%v\nwant\n%s", err, wantErr)
	}
}

func TestNewSet(t *testing.T) {
	a := mustParse(t, "id: a\nsms: {body: A}\n")
	b := mustParse(t, "id: b\nsms: {body: B}\n")
	s, err := NewSet([]*Template{b, a})
	if err != nil {
		t.Fatal(err)
	}
	if s.Get("a") != a || s.Get("c") != nil || !slices.Equal(s.List(), []*Template{a, b}) {
		t.Errorf("Get, List: %v", s.List())
	}
	if _, err := NewSet([]*Template{a, b, a}); err == nil || err.Error() != `message: duplicate template id "a"` {
		t.Errorf("duplicate: %v", err)
	}
	if _, err := NewSet([]*Template{{ID: "raw"}}); err == nil {
		t.Error("a template not made by Parse: no error")
	}
}

// mustParse parses a template from src, failing the test on an error.
func mustParse(t testing.TB, src string) *Template {
	t.Helper()
	tpl, err := Parse("test.yaml", []byte(src))
	if err != nil {
		t.Fatalf("%s\n%v", src, err)
	}
	return tpl
}
