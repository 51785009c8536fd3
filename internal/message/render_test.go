package message

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/overture-cjo/overture/internal/core"
)

// realVars are the variables of a real send: a core.Profile and a
// core.Event as the engine maps them.
func realVars() Vars {
	at := time.Date(2025, 3, 3, 8, 0, 0, 0, time.UTC)
	p := &core.Profile{
		ID:        "p-17",
		FirstSeen: at.Add(-30 * 24 * time.Hour),
		LastSeen:  at,
		Traits: map[string]core.Trait{
			"first_name": {Value: json.RawMessage(`"Zoë"`), At: at},
			"name":       {Value: json.RawMessage(`"Zoë <O'Brien> & Co"`), At: at},
			"phone":      {Value: json.RawMessage(`"+447700900456"`), At: at},
			"plan":       {Value: json.RawMessage(`"prepaid"`), At: at},
			"balance":    {Value: json.RawMessage(`12.5`), At: at},
		},
		Consent: map[string]core.Consent{"sms": {Granted: true, At: at}},
		Counts:  map[string]int64{"Cart Updated": 2},
		Events:  7,
	}
	e := &core.Event{
		Type: "track", Event: "Cart Updated", MessageID: "m-1", UserID: "u-17", Timestamp: at,
		Properties: json.RawMessage(`{"cart_id": "c-9", "total": 42, "currency": "EUR", "url": "https://shop.example.com/c-9",
			"items": [{"sku": "A", "name": "Mug \"Large\"", "price": 21, "quantity": 2}]}`),
	}
	pm := core.ProfileMap(p)
	pm["computed"] = map[string]any{"ltv": 310.0}
	return Vars{
		Profile: pm,
		Event:   core.EventMap(e),
		Journey: map[string]any{"cart_id": "c-9"},
		Offer:   map[string]any{"id": "free-shipping", "name": "Free shipping", "category": "marketing", "value": 5.0},
	}
}

func TestRender(t *testing.T) {
	tpl := mustParse(t, `id: all
email:
  subject: >
    {{ profile.traits.first_name }}, your cart
    ({{ event.properties.total }} {{ event.properties.currency }})
  html: |
    <p>Hi {{ profile.traits.name | escape }}</p>
    {% for item in event.properties.items %}<li>{{ item.name | escape }} × {{ item.quantity }}</li>{% endfor %}
    {% if offer %}<p>{{ offer.name }}</p>{% endif %}
  text: "Hi {{ profile.traits.name }}, {{ event.timestamp | date: '%-d %B %Y' }}"
sms:
  body: "{{ profile.traits.first_name }}: {{ profile.traits.balance }} left. {{ profile.traits.nickname }}"
mms:
  body: Your cart
  media_url: "https://img.example.com/{{ event.properties.items[0].sku }}.png"
push:
  title: "{{ offer.name | default: 'Your cart' }}"
  body: "{{ event.properties.items | size }} item(s) waiting"
  deep_link: "shop://cart/{{ journey.cart_id }}"
voice:
  script: "Hello {{ profile.traits.first_name }}."
webhook:
  body: |
    {"profile": {{ profile.id | json }}, "name": {{ profile.traits.name | json }},
     "items": {{ event.properties.items | json }}, "ltv": {{ profile.computed.ltv }}}
`)
	v := realVars()

	r, err := tpl.Render("email", v)
	if err != nil {
		t.Fatal(err)
	}
	if r.Template != "all" || r.Channel != "email" || r.Subject != "Zoë, your cart (42 EUR)" ||
		r.Text != "Hi Zoë <O'Brien> & Co, 3 March 2025" ||
		r.HTML != "<p>Hi Zoë &lt;O&#39;Brien&gt; &amp; Co</p>\n<li>Mug &#34;Large&#34; × 2</li>\n<p>Free shipping</p>" {
		t.Errorf("email: %+v", r)
	}

	r, err = tpl.Render("sms", v)
	if err != nil {
		t.Fatal(err)
	}
	// ë is in the GSM alphabet? No: UCS-2. A missing trait renders as nothing.
	if r.Body != "Zoë: 12.5 left." || r.Segments != 1 || r.Encoding != EncodingUCS2 {
		t.Errorf("sms: %+v", r)
	}

	r, err = tpl.Render("mms", v)
	if err != nil || r.Body != "Your cart" || r.MediaURL != "https://img.example.com/A.png" {
		t.Errorf("mms: %+v, %v", r, err)
	}

	r, err = tpl.Render("push", v)
	if err != nil || r.Title != "Free shipping" || r.Body != "1 item(s) waiting" || r.DeepLink != "shop://cart/c-9" {
		t.Errorf("push: %+v, %v", r, err)
	}
	noOffer := v
	noOffer.Offer = nil
	if r, _ := tpl.Render("push", noOffer); r.Title != "Your cart" {
		t.Errorf("push without an offer: title %q", r.Title)
	}
	if r, _ := tpl.Render("email", noOffer); strings.Contains(r.HTML, "<p>Free") || strings.HasSuffix(r.HTML, "\n") {
		t.Errorf("email without an offer: %q", r.HTML)
	}

	r, err = tpl.Render("voice", v)
	if err != nil || r.Script != "Hello Zoë." || r.IVRFlow != "" {
		t.Errorf("voice: %+v, %v", r, err)
	}

	r, err = tpl.Render("webhook", v)
	if err != nil {
		t.Fatal(err)
	}
	var body struct {
		Profile, Name string
		Items         []map[string]any
		LTV           float64
	}
	if err := json.Unmarshal(r.JSON, &body); err != nil || body.Profile != "p-17" || body.Name != "Zoë <O'Brien> & Co" ||
		len(body.Items) != 1 || body.Items[0]["name"] != `Mug "Large"` || body.LTV != 310 {
		t.Errorf("webhook: %s, %v", r.JSON, err)
	}

	// A channel without content.
	_, err = tpl.Render("whatsapp", v)
	var re *RenderError
	if !errors.Is(err, ErrNoContent) || !errors.As(err, &re) || re.Channel != "whatsapp" ||
		err.Error() != `template "all": whatsapp: no content for the channel` {
		t.Errorf("whatsapp: %v", err)
	}

	// Nil maps are empty; a nil offer is none.
	if _, err := tpl.Render("voice", Vars{}); err != nil {
		t.Errorf("empty vars: %v", err)
	}
}

// TestRenderErrors checks what Render refuses with real data: a rendered
// field its channel cannot send.
func TestRenderErrors(t *testing.T) {
	v := realVars()
	for _, c := range []struct {
		name, src, channel, want string
	}{
		{"webhook not JSON", `webhook: {body: '{"item": "{{ event.properties.items[0].name }}"}'}`, "webhook",
			`template "t": webhook.body: does not render valid JSON: invalid character 'L' after object key:value pair at byte 16, in "{\"item\": \"Mug \"Large\"\"}"`},
		{"webhook trailing comma", "webhook:\n  body: |\n    {\"a\": [1, 2,]}", "webhook",
			`template "t": webhook.body: does not render valid JSON: invalid character ']' looking for beginning of value at byte 13, in "{\"a\": [1, 2,]}"`},
		{"too many segments", `sms: {body: "{% for i in (1..100) %}{{ profile.traits.first_name }} {% endfor %}", max_segments: 4}`, "sms",
			`template "t": sms.body: renders 6 SMS segments (UCS-2, 399 UTF-16 code units), more than max_segments 4`},
		{"sms empty", `sms: {body: "{{ profile.traits.nickname }}"}`, "sms", `template "t": sms.body: renders empty`},
		{"email subject empty", `email: {subject: "{{ journey.subject }}", text: Hi}`, "email", `template "t": email.subject: renders empty`},
		{"email no body", `email: {subject: Hi, html: "{{ journey.html }}", text: "{{ journey.text }}"}`, "email",
			`template "t": email.html: renders empty: the email has no body`},
		{"mms url", `mms: {media_url: "img/{{ journey.cart_id }}.png"}`, "mms",
			`template "t": mms.media_url: renders "img/c-9.png", not an absolute http or https URL`},
		{"filter error", `voice: {script: "{{ 10 | divided_by: 0 }}"}`, "voice",
			`template "t": voice.script: line 1: error applying filter "divided_by" ("division by zero")`},
	} {
		t.Run(c.name, func(t *testing.T) {
			tpl := mustParse(t, "id: t\n"+c.src+"\n")
			r, err := tpl.Render(c.channel, v)
			if err == nil || err.Error() != c.want {
				t.Errorf("Render: %+v\n%v\nwant\n%s", r, err, c.want)
			}
			var re *RenderError
			if !errors.As(err, &re) {
				t.Errorf("error %T, want *RenderError", err)
			}
		})
	}
}

// TestRenderJSONEscaping checks that the json filter makes any value safe
// in a JSON body.
func TestRenderJSONEscaping(t *testing.T) {
	tpl := mustParse(t, `id: j
chat: {body: '{"text": {{ journey.text | json }}, "n": {{ journey.n | json }}, "none": {{ journey.none | json }}}'}
`)
	for _, text := range []string{`plain`, `"quoted"`, "line\nbreak", `back\slash`, "</script>", "emoji 😀", "\u2028"} {
		r, err := tpl.Render("chat", Vars{Journey: map[string]any{"text": text, "n": 1.5}})
		if err != nil {
			t.Fatalf("%q: %v", text, err)
		}
		var got struct {
			Text string
			N    float64
			None any
		}
		if err := json.Unmarshal(r.JSON, &got); err != nil || got.Text != text || got.N != 1.5 || got.None != nil {
			t.Errorf("%q: %s, %v", text, r.JSON, err)
		}
	}
}

// TestRenderConcurrent parses templates and renders and checks one from
// many goroutines (run with -race).
func TestRenderConcurrent(t *testing.T) {
	templates, err := Load("../../examples/journeys/templates")
	if err != nil {
		t.Fatal(err)
	}
	set, _ := NewSet(templates)
	tpl := set.Get("cart-reminder")
	want, err := tpl.Render("email", SampleVars())
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 50 {
				if _, err := Parse("p.yaml", []byte(fmt.Sprintf("id: p\nsms: {body: '{{ profile.id | f%d }}'}\n", i%5))); err == nil {
					t.Error("an undefined filter parsed")
					return
				}
				r, err := tpl.Render("email", SampleVars())
				if err != nil || r.HTML != want.HTML {
					t.Errorf("concurrent render: %v", err)
					return
				}
				if err := tpl.Check(SampleVars()); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
}
