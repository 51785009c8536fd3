package message

import (
	"errors"
	"strings"
	"testing"
)

// TestStrict checks that a typo is an error when the template is applied:
// a variable that is none of the four or a filter that does not exist at
// Parse, a key the sample data lacks at Check, each at its position and
// naming the template and field.
func TestStrict(t *testing.T) {
	// Parse: whatever the data.
	_, err := Parse("typo.yaml", []byte(`id: typo
sms:
  body: "Hi {{ profil.traits.name }}, {{ profile.traits.name | upcase2 }}"
`))
	want := `typo.yaml:3:16: sms.body: undefined variable "profil": a template sees profile, event, journey and offer (did you mean profile?)
typo.yaml:3:64: sms.body: undefined filter "upcase2"`
	if err == nil || err.Error() != want {
		t.Errorf("Parse:\n%v\nwant\n%s", err, want)
	}

	// Check: against the sample data, wherever the name is used.
	for _, c := range []struct {
		name, body, want string
	}{
		{"output", `Hi {{ profile.traits.nme }}`,
			`test.yaml:5:26: email.text: undefined variable profile.traits.nme (did you mean profile.traits.name?) (template t, with sample data)`},
		{"through a filter", `Hi {{ profile.traits.frist_name | upcase }}`,
			`test.yaml:5:26: email.text: undefined variable profile.traits.frist_name (did you mean profile.traits.first_name?) (template t, with sample data)`},
		{"condition", "Hi\n    {% if event.properties.coupon %}use it{% endif %}",
			`test.yaml:6:28: email.text: undefined variable event.properties.coupon (event.properties has cart_id, currency, items, total, url) (template t, with sample data)`},
		{"loop", "Hi\n    {% for item in event.properties.items %}\n      {{ item.title }}\n    {% endfor %}",
			`test.yaml:7:15: email.text: undefined variable event.properties.items[0].title (event.properties.items[0] has name, price, quantity, sku) (template t, with sample data)`},
		{"index", `Hi {{ profile.counts["Order Complete"] }}`,
			`test.yaml:5:27: email.text: undefined variable profile.counts["Order Complete"] (did you mean profile.counts["Order Completed"]?) (template t, with sample data)`},
		{"journey", `Hi {{ journey.plan_end }}`,
			`test.yaml:5:19: email.text: undefined variable journey.plan_end (journey has cart_id) (template t, with sample data)`},
		{"bad filter argument", `Hi {{ event.properties.total | divided_by: 0 }}`,
			`test.yaml:5:36: email.text: error applying filter "divided_by" ("division by zero") (template t, with sample data)`},
	} {
		t.Run(c.name, func(t *testing.T) {
			tpl := mustParse(t, "id: t\nemail:\n  subject: Hi\n  text: |\n    "+c.body+"\n")
			err := tpl.Check(SampleVars())
			if err == nil || err.Error() != c.want {
				t.Errorf("Check:\n%v\nwant\n%s", err, c.want)
			}
			if _, ok := err.(ErrorList); !ok {
				t.Errorf("error %T, want ErrorList", err)
			}
			// Render is lenient: a real customer may lack a trait.
			if c.name != "bad filter argument" {
				if _, err := tpl.Render("email", SampleVars()); err != nil {
					t.Errorf("Render: %v", err)
				}
			}
		})
	}

	// Every field of every channel is checked, each error once.
	tpl := mustParse(t, `id: many
email:
  subject: "{{ profile.traits.a }}"
  html: "{{ profile.traits.b }}"
sms:
  body: "{{ event.properties.c }}"
voice:
  script: "{{ offer.d }}"
`)
	err = tpl.Check(SampleVars())
	var l ErrorList
	if !errors.As(err, &l) || len(l) != 4 {
		t.Fatalf("Check: %v; want 4 errors", err)
	}
	for i, path := range []string{"email.subject", "email.html", "sms.body", "voice.script"} {
		if l[i].Path != path || !strings.Contains(l[i].Message, "template many") {
			t.Errorf("error %d: %v; want path %s, naming the template", i, l[i], path)
		}
	}
}

// TestSample checks that values a template declares under sample: are
// merged over the default sample data, so that a template using fields
// of its own passes Check.
func TestSample(t *testing.T) {
	src := `id: renewal
sample:
  profile: {traits: {contract_end: 2025-06-30, tier: gold}}
  journey: {months_left: 2}
  event: {properties: {coupon: SPRING}}
  offer: null
sms:
  body: >-
    {{ profile.traits.first_name }}, your {{ profile.traits.tier }} contract ends on
    {{ profile.traits.contract_end }} ({{ journey.months_left }} months).
    {% if event.properties.coupon %}Code {{ event.properties.coupon }}.{% endif %}
    {% if offer %}{{ offer.name }}{% else %}No offer.{% endif %}
`
	tpl := mustParse(t, src)
	if err := tpl.Check(SampleVars()); err != nil {
		t.Fatal(err)
	}
	r, err := tpl.Render("sms", tpl.Sample())
	if err != nil {
		t.Fatal(err)
	}
	if want := "Ada, your gold contract ends on 2025-06-30 (2 months). Code SPRING. No offer."; r.Body != want {
		t.Errorf("body %q\nwant %q", r.Body, want)
	}
	// The defaults are left alone.
	if d := SampleVars(); d.Offer == nil || d.Profile["traits"].(map[string]any)["tier"] != nil {
		t.Errorf("SampleVars changed: %+v", d)
	}
	// Without the declarations, the template fails Check.
	bare := mustParse(t, "id: renewal\n"+src[strings.Index(src, "sms:"):])
	if err := bare.Check(SampleVars()); err == nil || !strings.Contains(err.Error(), "undefined variable profile.traits.tier") {
		t.Errorf("without sample: %v", err)
	}
	// A caller's sample data is merged under the template's.
	own := SampleVars()
	own.Profile["traits"].(map[string]any)["first_name"] = "Grace"
	r, _ = tpl.Render("sms", tpl.withSample(own))
	if !strings.HasPrefix(r.Body, "Grace, your gold") {
		t.Errorf("with own sample data: %q", r.Body)
	}
}

// TestCheckChannels checks that Check applies each channel's rules to
// what the sample data renders.
func TestCheckChannels(t *testing.T) {
	tpl := mustParse(t, `id: rules
sms:
  body: "{{ event.properties.url }} {{ event.properties.url }} {{ event.properties.url }} {{ event.properties.url }} {{ event.properties.url }}"
  max_segments: 1
webhook:
  body: '{"name": "{{ profile.traits.name }}", "total": {{ event.properties.total }} }'
chat:
  body: '{"name": {{ profile.traits.name }}}'
mms:
  media_url: "{{ profile.traits.email }}"
push:
  body: "{{ profile.traits.nickname }}"
sample:
  profile: {traits: {nickname: null}}
`)
	err := tpl.Check(SampleVars())
	want := `test.yaml:3:10: sms.body: renders 2 SMS segments (GSM-7, 199 septets), more than max_segments 1 (template rules, with sample data)
test.yaml:8:10: chat.body: does not render valid JSON: invalid character 'A' looking for beginning of value at byte 10, in "{\"name\": Ada Lovelace}" (template rules, with sample data)
test.yaml:10:15: mms.media_url: renders "ada@example.com", not an absolute http or https URL (template rules, with sample data)
test.yaml:12:10: push.body: renders empty (template rules, with sample data)`
	if err == nil || err.Error() != want {
		t.Errorf("Check:\n%v\nwant\n%s", err, want)
	}
}
