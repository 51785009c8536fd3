// Package proptest holds what the project's property tests (pgregory.net/
// rapid) share.
package proptest

import (
	"flag"
	"os"
	"strconv"
	"testing"
)

// Limit makes rapid run checks random cases unless -rapid.checks or
// RAPID_CHECKS says otherwise, and keeps failures from writing rapid's fail
// files into testdata (the failure message names the seed). Call it at the
// start of a property test.
func Limit(t *testing.T, checks int) {
	t.Helper()
	set := map[string]bool{}
	flag.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if _, ok := os.LookupEnv("RAPID_CHECKS"); !ok && !set["rapid.checks"] {
		if err := flag.Set("rapid.checks", strconv.Itoa(checks)); err != nil {
			t.Fatal(err)
		}
	}
	if _, ok := os.LookupEnv("RAPID_NOFAILFILE"); !ok && !set["rapid.failfile"] && !set["rapid.nofailfile"] {
		if err := flag.Set("rapid.nofailfile", "true"); err != nil {
			t.Fatal(err)
		}
	}
}
