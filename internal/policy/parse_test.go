package policy

import (
	"flag"
	"github.com/overture-cjo/overture/internal/schematest"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
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

func TestParseExample(t *testing.T) {
	const file = "../../examples/arbitration/policy/contact-policy.yaml"
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	p, err := Parse(file, data)
	if err != nil {
		t.Fatal(err)
	}
	want := &Policy{
		Consent: Consent{Channels: []string{"email", "sms", "push", "voice"}, OverrideCategories: []string{"fraud", "transactional"}},
		QuietHours: []QuietHours{
			{Channel: "sms", From: 21 * 60, To: 8 * 60},
			{Channel: "voice", From: 20 * 60, To: 9 * 60},
		},
		Caps: []Cap{
			{Name: "marketing_weekly", Category: "marketing", Max: 3, Window: 7 * 24 * time.Hour},
			{Name: "sms_daily", Channel: "sms", Max: 1, Window: 24 * time.Hour},
			{Name: "global_daily", Max: 5, Window: 24 * time.Hour},
			{Name: "vip_marketing_daily", Category: "marketing", Max: 1, Window: 24 * time.Hour,
				When: &Condition{Source: `has(profile.traits.tier) && profile.traits.tier == "vip"`, UsesProfile: true}},
		},
		Suppression: []Suppression{
			{Name: "service_mutes_marketing", WhileCategory: "service", SuppressCategory: "marketing", Action: Hold},
			{Name: "fraud_drops_marketing", WhileJourney: "fraud-alert", SuppressCategory: "marketing", Action: Drop},
		},
		PriorityWindow: time.Hour,
	}
	if got := uncompiled(p); !reflect.DeepEqual(got, want) {
		t.Errorf("parsed\n%+v\nwant\n%+v", got, want)
	}
	if !p.UsesProfile() {
		t.Error("UsesProfile is false, want true (vip_marketing_daily reads profile)")
	}
}

// uncompiled returns a copy of p whose conditions keep only their source
// and UsesProfile, for comparisons.
func uncompiled(p *Policy) *Policy {
	q := *p
	strip := func(w **Condition) {
		if *w != nil {
			if (*w).program == nil {
				panic("condition " + (*w).Source + " not compiled")
			}
			*w = &Condition{Source: (*w).Source, UsesProfile: (*w).UsesProfile}
		}
	}
	q.QuietHours = slices.Clone(p.QuietHours)
	for i := range q.QuietHours {
		strip(&q.QuietHours[i].When)
	}
	q.Caps = slices.Clone(p.Caps)
	for i := range q.Caps {
		strip(&q.Caps[i].When)
	}
	q.Suppression = slices.Clone(p.Suppression)
	for i := range q.Suppression {
		strip(&q.Suppression[i].When)
	}
	return &q
}

func TestParseWhen(t *testing.T) {
	src := `quiet_hours:
  - {from: "21:00", to: "08:00", when: 'message.category != "fraud"'}
frequency_caps:
  - name: vip
    max: 5
    window: 7d
    when: |
      has(profile.traits.tier) &&
      profile.traits.tier == "vip"
suppression:
  - {while_category: service, suppress_category: marketing, action: hold, when: "message.priority < 80"}
  - {while_category: care, suppress_category: marketing, action: drop, when: "profile.x"}
`
	p, err := Parse("p.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		w       *Condition
		src     string
		profile bool
	}{
		{p.QuietHours[0].When, `message.category != "fraud"`, false},
		{p.Caps[0].When, "has(profile.traits.tier) &&\nprofile.traits.tier == \"vip\"\n", true},
		{p.Suppression[0].When, "message.priority < 80", false},
		{p.Suppression[1].When, "profile.x", true}, // dyn: checked when it runs
	} {
		if tc.w == nil || tc.w.Source != tc.src || tc.w.UsesProfile != tc.profile || tc.w.program == nil {
			t.Errorf("condition %+v, want source %q, UsesProfile %v, compiled", tc.w, tc.src, tc.profile)
		}
	}
	if !p.UsesProfile() {
		t.Error("UsesProfile is false, want true")
	}
	p, err = Parse("p.yaml", []byte("suppression:\n  - {while_category: service, suppress_category: marketing, action: hold, when: \"message.priority < 80\"}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if p.UsesProfile() {
		t.Error("UsesProfile is true for a condition on message only")
	}
	if (*Policy)(nil).UsesProfile() || (&Policy{}).UsesProfile() {
		t.Error("UsesProfile is true for no policy")
	}
}

func TestParseEmptyPolicy(t *testing.T) {
	p, err := Parse("p.yaml", []byte("consent:\nquiet_hours:\nfrequency_caps: []\nsuppression:\n"))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(p, &Policy{}) {
		t.Errorf("got %+v, want the zero policy", p)
	}
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct{ name, src, want string }{
		{"empty", "", "p.yaml:1:1: empty file"},
		{"yaml", "consent: [\n", "p.yaml:1:1: invalid YAML: did not find expected node content"},
		{"not mapping", "- 1\n", "p.yaml:1:1: expected a mapping with consent, quiet_hours, frequency_caps, suppression, priority_window"},
		{"unknown field", "consnt: {}\n", "p.yaml:1:1: consnt: unknown field (want consent, quiet_hours, frequency_caps, suppression, priority_window)"},
		{"repeated field", "priority_window: 1h\npriority_window: 2h\n", "p.yaml:2:1: priority_window: repeated field"},
		{"consent channels", "consent:\n  channels: email\n", "p.yaml:2:13: consent.channels: expected a list"},
		{"repeated channel", "consent:\n  channels: [sms, sms]\n", `p.yaml:2:19: consent.channels[1]: repeated "sms"`},
		{"bad name", "consent:\n  channels: [SMS]\n", `p.yaml:2:14: consent.channels[0]: "SMS" is not a valid name: want lower-case letters, digits, _ and - ([a-z0-9][a-z0-9_-]*)`},
		{"quiet clock", "quiet_hours:\n  - {channel: sms, from: \"9pm\", to: \"08:00\"}\n", `p.yaml:2:26: quiet_hours[0].from: "9pm" is not a time of day: want HH:MM, 00:00 to 23:59`},
		{"quiet missing", "quiet_hours:\n  - {channel: sms, from: \"21:00\"}\n", "p.yaml:2:5: quiet_hours[0]: missing field to"},
		{"quiet empty", "quiet_hours:\n  - {from: \"21:00\", to: \"21:00\"}\n", "p.yaml:2:5: quiet_hours[0]: from and to are both 21:00: the period would be empty"},
		{"quiet whole day", "quiet_hours:\n  - {from: \"00:00\", to: \"17:30\"}\n  - {channel: sms, from: \"17:00\", to: \"00:30\"}\n", "p.yaml:2:3: quiet_hours: the quiet hours for sms cover the whole day: nothing could ever be sent"},
		{"cap max", "frequency_caps:\n  - {name: a, max: 0, window: 1d}\n", "p.yaml:2:20: frequency_caps[0].max: expected a whole number of at least 1"},
		{"cap window", "frequency_caps:\n  - {name: a, max: 1, window: 1w}\n", `p.yaml:2:31: frequency_caps[0].window: "1w" is not a duration (e.g. 90m, 36h, 7d)`},
		{"cap missing", "frequency_caps:\n  - {max: 1, window: 1d}\n", "p.yaml:2:5: frequency_caps[0]: missing field name"},
		{"cap repeated", "frequency_caps:\n  - {name: a, max: 1, window: 1d}\n  - {name: a, max: 2, window: 1d}\n", `p.yaml:3:5: frequency_caps[1].name: repeated cap name "a"`},
		{"suppression while", "suppression:\n  - {suppress_category: marketing, action: hold}\n", "p.yaml:2:5: suppression[0]: want exactly one of while_category and while_journey"},
		{"suppression both", "suppression:\n  - {while_category: service, suppress_category: marketing, suppress_journey: x, action: hold}\n", "p.yaml:2:5: suppression[0]: want exactly one of suppress_category and suppress_journey"},
		{"suppression action", "suppression:\n  - {while_category: service, suppress_category: marketing, action: mute}\n", `p.yaml:2:69: suppression[0].action: "mute" is not an action: want hold or drop`},
		{"suppression no action", "suppression:\n  - {while_category: service, suppress_category: marketing}\n", "p.yaml:2:5: suppression[0]: missing field action (hold or drop)"},
		{"priority window", "priority_window: soon\n", `p.yaml:1:18: priority_window: "soon" is not a duration (e.g. 90m, 36h, 7d)`},
		{"two documents", "{}\n---\n{}\n", "p.yaml:2:1: more than one document: one policy per file"},
		// conditions: positioned inside the expression
		{"when syntax", "frequency_caps:\n  - {name: a, max: 1, window: 1d, when: 'profile.tier ==  '}\n", "p.yaml:2:59: frequency_caps[0].when: Syntax error: mismatched input '<EOF>' expecting {'[', '{', '(', '.', '-', '!', 'true', 'false', 'null', NUM_FLOAT, NUM_INT, NUM_UINT, STRING, BYTES, IDENTIFIER}"},
		{"when undeclared", "quiet_hours:\n  - {from: \"21:00\", to: \"08:00\", when: 'msg.category == \"x\"'}\n", "p.yaml:2:41: quiet_hours[0].when: undeclared reference to 'msg'"},
		{"when block", "suppression:\n  - while_category: service\n    suppress_category: marketing\n    action: hold\n    when: |\n      message.priority < 80 &&\n        nope\n", "p.yaml:7:9: suppression[0].when: undeclared reference to 'nope'"},
		{"when not bool", "frequency_caps:\n  - {name: a, max: 1, window: 1d, when: 'message.priority + 1'}\n", "p.yaml:2:41: frequency_caps[0].when: condition must be bool, not int"},
		{"when not bool literal", "suppression:\n  - {while_category: service, suppress_category: marketing, action: hold, when: '\"yes\"'}\n", "p.yaml:2:81: suppression[0].when: condition must be bool, not string"},
		{"when not string", "frequency_caps:\n  - {name: a, max: 1, window: 1d, when: true}\n", "p.yaml:2:41: frequency_caps[0].when: expected a string"},
		{"when empty", "quiet_hours:\n  - {from: \"21:00\", to: \"08:00\", when: ' '}\n", "p.yaml:2:40: quiet_hours[0].when: empty condition"},
		{"when whole day", "quiet_hours:\n  - {from: \"00:00\", to: \"17:30\"}\n  - {from: \"17:00\", to: \"00:30\", when: 'false'}\n", "p.yaml:2:3: quiet_hours: the quiet hours for all cover the whole day when their conditions hold: nothing could ever be sent then"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Parse("p.yaml", []byte(tc.src))
			if err == nil {
				t.Fatalf("parsed %+v, want error %q", p, tc.want)
			}
			if _, ok := err.(ErrorList); !ok {
				t.Errorf("error is %T, want ErrorList", err)
			}
			if got := strings.Split(err.Error(), "\n")[0]; got != tc.want {
				t.Errorf("error\n%s\nwant\n%s", err, tc.want)
			}
		})
	}
}
