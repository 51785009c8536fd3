package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/overture-cjo/overture/internal/audience"
	"github.com/overture-cjo/overture/internal/computed"
	"github.com/overture-cjo/overture/internal/journey"
	"github.com/overture-cjo/overture/internal/policy"
)

// extras are the definitions of a directory besides its journeys.
type extras struct {
	traits     *computed.Set
	audiences  []*audience.Audience
	policy     *policy.Policy // nil: none
	policyFile string         // where it came from
}

// loadDerived loads the computed traits (DIR/traits), audiences
// (DIR/audiences) and contact policy (the one file in DIR/policy) of a
// definitions directory whose journeys are defs and, if journeysOK (defs
// are all of them), checks what spans them: each in_journey of an
// audience names a journey, and a journey's audience trigger an audience.
// Problems come back as one journey.ErrorList.
func loadDerived(dir string, defs []*journey.Definition, journeysOK bool) (*extras, error) {
	var errs journey.ErrorList
	collect := func(err error) error {
		if l := (journey.ErrorList)(nil); errors.As(err, &l) {
			errs = append(errs, l...)
			return nil
		}
		return err
	}
	traits, err := computed.Load(filepath.Join(dir, "traits"))
	if err := collect(err); err != nil {
		return nil, err
	}
	auds, err := audience.Load(filepath.Join(dir, "audiences"))
	if err := collect(err); err != nil {
		return nil, err
	}
	pol, polFile, err := loadPolicy(filepath.Join(dir, "policy"))
	if err := collect(err); err != nil {
		return nil, err
	}
	if journeysOK {
		journeys, known := map[string]bool{}, map[string]bool{}
		for _, d := range defs {
			journeys[d.ID] = true
		}
		for _, a := range auds {
			known[a.ID] = true
			errs = append(errs, a.CheckJourneys(func(id string) bool { return journeys[id] })...)
		}
		for _, d := range defs {
			if id := d.Entry.Trigger.Audience; id != "" && !known[id] {
				errs = append(errs, &journey.Error{Pos: d.Entry.Trigger.Pos, Path: "entry.trigger.audience",
					Message: fmt.Sprintf("no audience %q in %s", id, filepath.Join(dir, "audiences"))})
			}
		}
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return &extras{traits: traits, audiences: auds, policy: pol, policyFile: polFile}, nil
}

// loadPolicy parses the contact policy in dir: its one definition file
// (nil if dir does not exist or holds none).
func loadPolicy(dir string) (*policy.Policy, string, error) {
	files, err := journey.DefinitionFiles(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, "", nil
	}
	if err != nil || len(files) == 0 {
		return nil, "", err
	}
	if len(files) > 1 {
		return nil, "", journey.ErrorList{&journey.Error{Pos: journey.Pos{File: files[1], Line: 1, Column: 1},
			Message: fmt.Sprintf("a second contact policy (the first is %s): the policy directory holds one file", files[0])}}
	}
	src, err := os.ReadFile(files[0])
	if err != nil {
		return nil, "", err
	}
	p, err := policy.Parse(files[0], src)
	return p, files[0], err
}

// printProblems prints the problems in err, if it is a journey.ErrorList,
// to stderr one per line (as "overture validate" prints them) and returns
// how many there were: 0 if err is not an ErrorList.
func printProblems(stderr io.Writer, err error) int {
	var list journey.ErrorList
	if !errors.As(err, &list) {
		return 0
	}
	for _, e := range list {
		fmt.Fprintln(stderr, e)
	}
	return len(list)
}
