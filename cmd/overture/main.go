// Command overture is the Overture customer journey orchestration engine:
// one binary that serves the API, manages write keys and benchmarks
// ingestion. Run "overture help" for the commands.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	_ "time/tzdata" // journeys wait for times of day in customers' timezones, even where the system has no zoneinfo

	"github.com/overture-cjo/overture/internal/core"
	"github.com/overture-cjo/overture/internal/postgres"
	"github.com/overture-cjo/overture/internal/sqlite"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "0.1.0-dev"

const usage = `overture: customer journey orchestration engine

Usage:
  overture <command> [flags]

Commands:
  serve     run the server (ingestion API, admin API, metrics)
  keys      manage ingestion write keys: create, list, revoke
  bench     load generators: bench ingest
  validate  check a directory of journey definitions: validate DIR
  apply     send a directory of journey definitions to a server: apply DIR
  report    print a journey's analytics from a server: report JOURNEY
  simulate  run journeys over a file of events on a virtual clock
  test      run journey test files (*.test.yaml): test DIR
  version   print the version

Run "overture <command> --help" for a command's flags.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		var xe *exitError
		if errors.As(err, &xe) {
			if xe.err != nil {
				fmt.Fprintln(os.Stderr, "overture:", xe.err)
			}
			os.Exit(xe.code)
		}
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "overture:", err)
		}
		os.Exit(2)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errors.New("no command given")
	}
	switch args[0] {
	case "serve":
		return serveCommand(ctx, args[1:], stderr)
	case "keys":
		return keysCommand(ctx, args[1:], stdout, stderr)
	case "validate":
		return validateCommand(args[1:], stdout, stderr)
	case "apply":
		return applyCommand(ctx, args[1:], stdout, stderr)
	case "report":
		return reportCommand(ctx, args[1:], stdout, stderr)
	case "bench":
		return benchCommand(ctx, args[1:], stdout, stderr)
	case "simulate":
		return simulateCommand(args[1:], core.RealClock{}, stdout, stderr)
	case "test":
		return testCommand(args[1:], stdout, stderr)
	case "version", "--version", "-v":
		fmt.Fprintln(stdout, "overture", version)
		return nil
	case "help", "--help", "-h":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("unknown command %q", args[0])
}

// exitError ends the process with code instead of the usual 2 (which
// stays for usage errors), printing err if it is not nil.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit status %d", e.code)
	}
	return e.err.Error()
}

func (e *exitError) Unwrap() error { return e.err }

// envOr returns the environment variable's value, or def.
func envOr(name, def string) string {
	if v, ok := os.LookupEnv(name); ok && v != "" {
		return v
	}
	return def
}

// storeFlags are the flags that pick a store, shared by several commands.
type storeFlags struct {
	data  string
	store string
}

func (f *storeFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.data, "data", envOr("OVERTURE_DATA", "./overture-data"), "data directory (env OVERTURE_DATA)")
	fs.StringVar(&f.store, "store", envOr("OVERTURE_STORE", "sqlite"), `"sqlite" (a database and event log under --data) or a postgres:// URL (env OVERTURE_STORE)`)
}

// open opens the selected store. withLog=false opens an embedded store
// without its event log, so the command can run beside a server.
func (f *storeFlags) open(ctx context.Context, withLog bool) (core.Store, error) {
	switch {
	case f.store == "" || f.store == "sqlite":
		if withLog {
			return sqlite.Open(ctx, f.data)
		}
		return sqlite.OpenWithoutLog(ctx, f.data)
	case strings.HasPrefix(f.store, "postgres://") || strings.HasPrefix(f.store, "postgresql://"):
		return postgres.Open(ctx, f.store)
	}
	return nil, fmt.Errorf("--store %q: want sqlite or a postgres:// URL", f.store)
}
