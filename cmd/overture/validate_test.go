package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestValidateCommand runs `overture validate` on the shipped examples and on
// the bad definitions.
func TestValidateCommand(t *testing.T) {
	out, err := exec.Command(binPath, "validate", "../../examples/journeys").CombinedOutput()
	if err != nil || !strings.HasPrefix(string(out), "ok: 5 journeys, 2 audiences, 8 computed traits, 6 offers, 1 interaction policies, 11 templates") {
		t.Fatalf("examples: %v\n%s", err, out)
	}
	out, err = exec.Command(binPath, "validate", "../../internal/journey/testdata/bad").CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
		t.Fatalf("bad definitions: %v, want exit status 1\n%s", err, out)
	}
	for _, want := range []string{
		`bad-duration.yaml:7:33: steps.hello.duration: "3 days" is not a duration`,
		`holdout-150.yaml:3:10: holdout: 150 is above the maximum 100`,
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

// TestValidateAudiences runs `overture validate` on a directory whose
// audiences have problems, one of them an in_journey of a journey the
// directory does not define.
func TestValidateAudiences(t *testing.T) {
	dir := t.TempDir()
	journeyDef, err := os.ReadFile("../../examples/journeys/follow-up.yaml")
	if err != nil {
		t.Fatal(err)
	}
	write := func(name, data string) {
		t.Helper()
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("follow-up.yaml", string(journeyDef))
	write("audiences/ok.yaml", "id: ok\ncondition: 'in_journey(\"follow-up\")'\n")
	write("audiences/typo.yaml", "id: typo\ncondition: 'in_journey(\"follow-upp\") || in_journey(\"follow-up\")'\n")
	write("audiences/bad.yaml", "id: bad\ncondition: 'profile.traits.x +'\nschedule: \"@every 1x\"\ncolour: red\n")
	write("audiences/dup.yaml", "id: ok\ncondition: 'true'\n")

	out, err := exec.Command(binPath, "validate", dir).CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
		t.Fatalf("bad audiences: %v, want exit status 1\n%s", err, out)
	}
	aud := filepath.Join(dir, "audiences")
	for _, want := range []string{
		aud + `/bad.yaml:2:31: condition: Syntax error:`,
		aud + `/bad.yaml:3:11: schedule: "@every 1x" is not a schedule:`,
		aud + `/bad.yaml:4:1: colour: unknown field`,
		aud + `/ok.yaml:1:5: id: duplicate audience id "ok" (also in ` + aud + `/dup.yaml:1:5)`,
		aud + `/typo.yaml:2:24: condition: no journey with id "follow-upp"`,
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if n := strings.Count(string(out), "\n"); n != 6 { // five problems and the summary
		t.Errorf("%d lines, want 6:\n%s", n, out)
	}

	// Without the audiences, the directory is fine.
	if err := os.RemoveAll(aud); err != nil {
		t.Fatal(err)
	}
	out, err = exec.Command(binPath, "validate", dir).CombinedOutput()
	if err != nil || string(out) != "ok: 1 journeys, 0 audiences, 0 computed traits, 0 offers, 0 interaction policies, 0 templates, no contact policy\n" {
		t.Fatalf("journeys only: %v\n%s", err, out)
	}

	// A contact policy: its problems are reported, two files are one too
	// many, and a good one is named in the summary.
	write("policy/contact.yaml", "consent: {channels: [sms]}\nquiet_hours:\n  - {channel: sms, from: \"25:00\", to: \"08:00\"}\n")
	write("policy/other.yaml", "priority_window: 1h\n")
	out, err = exec.Command(binPath, "validate", dir).CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
		t.Fatalf("bad policy: %v, want exit status 1\n%s", err, out)
	}
	pol := filepath.Join(dir, "policy")
	for _, want := range []string{
		pol + "/other.yaml:1:1: a second contact policy (the first is " + pol + "/contact.yaml)",
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if err := os.Remove(filepath.Join(pol, "other.yaml")); err != nil {
		t.Fatal(err)
	}
	out, _ = exec.Command(binPath, "validate", dir).CombinedOutput()
	if want := pol + "/contact.yaml:3:26: quiet_hours[0].from: \"25:00\" is not a time of day"; !strings.Contains(string(out), want) {
		t.Errorf("output lacks %q:\n%s", want, out)
	}
	write("policy/contact.yaml", "consent: {channels: [sms]}\n")
	out, err = exec.Command(binPath, "validate", dir).CombinedOutput()
	if want := "ok: 1 journeys, 0 audiences, 0 computed traits, 0 offers, 0 interaction policies, 0 templates, contact policy " + pol + "/contact.yaml\n"; err != nil || string(out) != want {
		t.Errorf("good policy: %v\n%s\nwant %s", err, out, want)
	}

	// Templates: each is rendered with sample data, strictly; a send
	// step's template must exist and have content for its channel.
	write("templates/typo.yaml", "id: typo\nemail:\n  subject: Hi\n  text: \"Hello {{ profile.traits.nme }}\"\n")
	out, err = exec.Command(binPath, "validate", dir).CombinedOutput()
	tpl := filepath.Join(dir, "templates")
	for _, want := range []string{
		tpl + "/typo.yaml:4:34: email.text: ",
		"undefined variable profile.traits.nme (did you mean profile.traits.name?)",
		`follow-up.yaml:1:1: steps.nudge.template: no template "cart-follow-up" in ` + tpl,
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
		t.Errorf("bad template: %v, want exit status 1", err)
	}
}
