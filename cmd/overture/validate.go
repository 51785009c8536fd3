package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/overture-cjo/overture/internal/journey"
)

const validateUsage = `Usage:
  overture validate DIR

Loads every journey definition (*.yaml, *.yml, *.json) directly in DIR and
checks it: against the JSON Schema (schema/journey.schema.json), the step
graph (targets exist, every step reachable from start), ids unique and
enter_journey targets present in DIR, durations, and every CEL expression
(compiled and type-checked).

Then loads the audience definitions in DIR/audiences, if there is such a
directory, and checks them: fields (schema/audience.schema.json), ids
unique, cron schedules, the condition (compiled and type-checked) and that
each in_journey("ID") names a journey in DIR.

Then the contact policy, the one file in DIR/policy if there is one
(consent, quiet hours, frequency caps, suppression, priority window); the
offers in DIR/offers (schema/offer.schema.json, eligibility and context
CEL; a send step's named offer must be one); and the interaction policies
in DIR/interactions (schema/interaction.schema.json; in_journey and
in_step must name journeys and steps in DIR); and the message templates
in DIR/templates (schema/template.schema.json, Liquid): each is rendered
with sample data in strict mode, so an unknown variable or filter is an
error, and, when there are templates, every send step's template must be
one with content for its channel.

Prints "ok: N journeys, M audiences, K computed traits, and the contact
policy's file (or "no contact policy"), or every problem as
FILE:LINE:COLUMN: FIELD: MESSAGE, one per line, and exits 1 (2 for a usage
error).
`

func validateCommand(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("validate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, validateUsage) }
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return errors.New("validate: want one directory")
	}
	dir := fs.Arg(0)
	var problems journey.ErrorList
	defs, err := journey.Load(dir)
	journeysOK := err == nil
	if !errors.As(err, &problems) && err != nil {
		return fmt.Errorf("validate: %w", err)
	}
	ex, err := loadDerived(dir, defs, journeysOK)
	var list journey.ErrorList
	if errors.As(err, &list) {
		problems = append(problems, list...)
	} else if err != nil {
		return fmt.Errorf("validate: %w", err)
	}
	if len(problems) > 0 {
		slices.SortStableFunc(problems, func(a, b *journey.Error) int {
			if c := strings.Compare(a.File, b.File); c != 0 {
				return c
			}
			if a.Line != b.Line {
				return a.Line - b.Line
			}
			return a.Column - b.Column
		})
		for _, e := range problems {
			fmt.Fprintln(stderr, e)
		}
		return &exitError{code: 1, err: fmt.Errorf("validate: %d problem(s) in %s", len(problems), dir)}
	}
	policyNote := "no contact policy"
	if ex.policy != nil {
		policyNote = "contact policy " + ex.policyFile
	}
	fmt.Fprintf(stdout, "ok: %d journeys, %d audiences, %d computed traits, %d offers, %d interaction policies, %d templates, %s\n",
		len(defs), len(ex.audiences), len(ex.traits.Traits), len(ex.offers), len(ex.interactions), len(ex.templates), policyNote)
	return nil
}
