package main

import (
	"os/exec"
	"strings"
	"testing"
)

// TestValidateCommand runs `overture validate` on the shipped examples and on
// the bad definitions.
func TestValidateCommand(t *testing.T) {
	out, err := exec.Command(binPath, "validate", "../../examples/journeys").CombinedOutput()
	if err != nil || !strings.HasPrefix(string(out), "ok: 3 journeys") {
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
