package main

import (
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/overture-cjo/overture/internal/journey"
)

const validateUsage = `Usage:
  overture validate DIR

Loads every journey definition (*.yaml, *.yml, *.json) directly in DIR and
checks it: against the JSON Schema (schema/journey.schema.json), the step
graph (targets exist, every step reachable from start), ids unique and
enter_journey targets present in DIR, durations, and every CEL expression
(compiled and type-checked). Prints "ok: N journeys", or every problem as
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
	defs, err := journey.Load(dir)
	var list journey.ErrorList
	if errors.As(err, &list) {
		for _, e := range list {
			fmt.Fprintln(stderr, e)
		}
		return &exitError{code: 1, err: fmt.Errorf("validate: %d problem(s) in %s", len(list), dir)}
	}
	if err != nil {
		return fmt.Errorf("validate: %w", err)
	}
	fmt.Fprintf(stdout, "ok: %d journeys\n", len(defs))
	return nil
}
