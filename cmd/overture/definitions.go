package main

import (
	"errors"
	"fmt"
	"io"
	"path/filepath"

	"github.com/overture-cjo/overture/internal/audience"
	"github.com/overture-cjo/overture/internal/computed"
	"github.com/overture-cjo/overture/internal/journey"
)

// loadDerived loads the computed traits (DIR/traits) and audiences
// (DIR/audiences) of a definitions directory whose journeys are defs and,
// if journeysOK (defs are all of them), checks what spans them: each
// in_journey of an audience names a journey, and a journey's audience
// trigger an audience. Problems come back as one journey.ErrorList.
func loadDerived(dir string, defs []*journey.Definition, journeysOK bool) (*computed.Set, []*audience.Audience, error) {
	var errs journey.ErrorList
	traits, err := computed.Load(filepath.Join(dir, "traits"))
	if l := (journey.ErrorList)(nil); errors.As(err, &l) {
		errs = append(errs, l...)
	} else if err != nil {
		return nil, nil, err
	}
	auds, err := audience.Load(filepath.Join(dir, "audiences"))
	if l := (journey.ErrorList)(nil); errors.As(err, &l) {
		errs = append(errs, l...)
	} else if err != nil {
		return nil, nil, err
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
		return nil, nil, errs
	}
	return traits, auds, nil
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
