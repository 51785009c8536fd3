package main

import (
	"errors"
	"flag"
	"fmt"
	"github.com/overture-cjo/overture/internal/audience"
	"github.com/overture-cjo/overture/internal/computed"
	"io"
	"os"
	"strings"
	"time"

	"github.com/overture-cjo/overture/internal/core"
	"github.com/overture-cjo/overture/internal/decide"
	"github.com/overture-cjo/overture/internal/journey"
	"github.com/overture-cjo/overture/internal/machine"
	"github.com/overture-cjo/overture/internal/message"
	"github.com/overture-cjo/overture/internal/policy"
	"github.com/overture-cjo/overture/internal/simulate"
)

const simulateUsage = `Usage:
  overture simulate --definitions DIR --events FILE.jsonl [--start TIME] [--until TIME|DURATION] [--webhooks FILE.json] [--json]

Runs the journeys in DIR (as "overture validate" loads them, all active)
over a file of events on a virtual clock, with the server's step machine,
and prints what each customer went through: one trace line per step, then
a summary. Nothing is stored or sent; waits are fast-forwarded.

The computed traits of DIR/traits are kept per customer on the virtual
clock, and the audiences of DIR/audiences are re-evaluated as the server
does: realtime ones after each change, each at its cron schedule's times.
Joining or leaving one prints a line ("TIME audience_entered ID") and plays
the audience event at once, so audience-triggered journeys run too.

The events file holds one JSON object per line in Segment's message shape
(type, event, userId or anonymousId, properties, traits, context,
timestamp); type defaults to track. Instead of a timestamp a line may give
"at", an offset from --start ("0s", "90m", "2d"). Blank lines and lines
starting with # are skipped. A customer's timezone comes from an event's
context.timezone (an IANA name such as "America/New_York").

Flags:
  --definitions DIR    journey definitions (*.yaml, *.yml, *.json directly in DIR;
                       computed traits in DIR/traits, audiences in DIR/audiences)
  --events FILE        the events, JSON lines ("-" for standard input)
  --start TIME         what "at" offsets count from, RFC 3339
                       (default: now, truncated to the minute)
  --until TIME         stop there: later events are not simulated and timers
                       due later stay pending; RFC 3339, or a duration after
                       --start such as 30d (default: the last event + 366d)
  --webhooks FILE      canned webhook replies, a JSON object of step name ->
                       {"status": 200, "body": {...}} or {"err": "..."}; ""
                       answers any other step (default: status 200, body {})
  --json               print the result as one JSON document

Exit status: 0 when the simulation ran, 1 when the definitions, events or
webhooks file are invalid (each problem printed as FILE:LINE: ...), 2 on a
usage error.
`

func simulateCommand(args []string, clock core.Clock, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("simulate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, simulateUsage) }
	var defsDir, eventsFile, startFlag, untilFlag, hooksFile string
	var asJSON bool
	fs.StringVar(&defsDir, "definitions", "", "")
	fs.StringVar(&eventsFile, "events", "", "")
	fs.StringVar(&startFlag, "start", "", "")
	fs.StringVar(&untilFlag, "until", "", "")
	fs.StringVar(&hooksFile, "webhooks", "", "")
	fs.BoolVar(&asJSON, "json", false, "")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if fs.NArg() != 0 {
		fs.Usage()
		return fmt.Errorf("simulate: unexpected argument %q", fs.Arg(0))
	}
	if defsDir == "" || eventsFile == "" {
		fs.Usage()
		return errors.New("simulate: --definitions and --events are required")
	}
	start := clock.Now().UTC().Truncate(time.Minute)
	if startFlag != "" {
		t, err := time.Parse(time.RFC3339Nano, startFlag)
		if err != nil {
			return fmt.Errorf("simulate: --start %q: want an RFC 3339 time such as 2026-03-02T09:00:00Z", startFlag)
		}
		start = t.UTC()
	}
	var until time.Time
	if untilFlag != "" {
		var err error
		if until, err = parseUntil(untilFlag, start); err != nil {
			return fmt.Errorf("simulate: --until %w", err)
		}
	}

	ds, err := loadCatalog(defsDir, stderr)
	if err != nil {
		return &exitError{code: 1, err: fmt.Errorf("simulate: %w", err)}
	}
	events, err := readEventsFile(eventsFile, start)
	if err != nil {
		return &exitError{code: 1, err: fmt.Errorf("simulate: %w", err)}
	}
	opts := ds.options(simulate.Options{Until: until, Zone: simulate.LoadZone})
	if hooksFile != "" {
		b, err := os.ReadFile(hooksFile)
		if err != nil {
			return &exitError{code: 1, err: fmt.Errorf("simulate: %w", err)}
		}
		if opts.Webhooks, err = simulate.ParseWebhooks(b); err != nil {
			return &exitError{code: 1, err: fmt.Errorf("simulate: %s: %w", hooksFile, err)}
		}
	}
	res := simulate.Run(ds.cat, events, opts)
	if asJSON {
		return simulate.WriteJSON(stdout, res)
	}
	return simulate.WriteText(stdout, res)
}

// parseUntil reads --until (or a test file's until): an RFC 3339 time, or
// a duration after start.
func parseUntil(s string, start time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.UTC(), nil
	}
	d, err := journey.ParseDuration(strings.TrimPrefix(s, "+"))
	if err != nil {
		return time.Time{}, fmt.Errorf("%q: want an RFC 3339 time, or a duration after the start such as 30d", s)
	}
	return start.Add(d), nil
}

// loadCatalog loads a directory of journey definitions into a simulator's
// catalog. Definition problems are printed to stderr one per line, as
// "overture validate" prints them, and summed up in the error.
func loadCatalog(dir string, stderr io.Writer) (*definitionSet, error) {
	defs, err := journey.Load(dir)
	if err == nil && len(defs) == 0 {
		return nil, fmt.Errorf("no journey definitions in %s", dir)
	}
	var ex *extras
	if err == nil {
		ex, err = loadDerived(dir, defs, true)
	}
	if n := printProblems(stderr, err); n > 0 {
		return nil, fmt.Errorf("%d problem(s) in %s", n, dir)
	}
	if err != nil {
		return nil, err
	}
	ds := &definitionSet{traits: ex.traits, policy: ex.policy}
	if ds.offers, err = decide.NewSet(ex.offers); err != nil {
		return nil, err
	}
	if len(ex.templates) > 0 {
		if ds.templates, err = message.NewSet(ex.templates); err != nil {
			return nil, err
		}
	}
	if ds.cat, err = machine.FromDefinitions(defs); err != nil {
		return nil, err
	}
	if ds.audiences, err = audience.NewSet(ex.audiences); err != nil {
		return nil, err
	}
	return ds, nil
}

// definitionSet is what a definitions directory holds: journeys, computed
// traits (DIR/traits), audiences (DIR/audiences) and the contact policy
// (DIR/policy).
type definitionSet struct {
	cat       *machine.Catalog
	traits    *computed.Set
	audiences *audience.Set
	policy    *policy.Policy
	offers    *decide.Set
	templates *message.Set // nil: none in DIR/templates
}

// options returns simulation options running the set's traits and
// audiences.
func (ds *definitionSet) options(o simulate.Options) simulate.Options {
	o.Traits, o.Audiences, o.Policy, o.Offers = ds.traits, ds.audiences, ds.policy, ds.offers
	if ds.templates != nil {
		o.TemplateChannels = ds.templates.Channels
	}
	return o
}

// readEventsFile reads a JSON lines events file ("-": standard input).
func readEventsFile(name string, start time.Time) ([]simulate.Input, error) {
	if name == "-" {
		return simulate.ReadEvents("stdin", os.Stdin, start)
	}
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return simulate.ReadEvents(name, f, start)
}
