package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"

	"github.com/overture-cjo/overture/internal/loadgen"
)

const benchUsage = `Usage:
  overture bench ingest --url URL --events N --batch B --concurrency C [--write-key K] [--users U] [--gzip] [--client raw|nethttp] [--journeys|--profiles] [--json]

Sends N events to a running server: with --batch 1 as single POST /v1/track
requests, otherwise as POST /v1/batch requests of B events; reports events/s
and the p50/p90/p99 acknowledgement latency. Requests are built before the
clock starts. The default raw client is a minimal HTTP/1.1 client that costs
little CPU per request, leaving the machine to the server; --client nethttp
uses Go's net/http instead (always used for https:// URLs). --journeys sends
the reference journey's load (see scripts/bench-journeys.sh); --profiles sends
one identify per new customer (see scripts/bench-audiences.sh).
`

func benchCommand(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "ingest" {
		fmt.Fprint(stderr, benchUsage)
		if len(args) > 0 && (args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
			return nil
		}
		return fmt.Errorf("bench: want the subcommand ingest")
	}
	fs := flag.NewFlagSet("bench ingest", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cfg loadgen.IngestConfig
	fs.StringVar(&cfg.URL, "url", "http://127.0.0.1:8420", "server base URL")
	fs.StringVar(&cfg.WriteKey, "write-key", envOr("OVERTURE_WRITE_KEY", ""), "write key (env OVERTURE_WRITE_KEY)")
	fs.IntVar(&cfg.Events, "events", 100000, "events to send")
	fs.IntVar(&cfg.Batch, "batch", 100, "events per request (1: /v1/track, more: /v1/batch)")
	fs.IntVar(&cfg.Concurrency, "concurrency", 16, "concurrent connections")
	fs.IntVar(&cfg.Users, "users", 10000, "distinct userIds")
	fs.BoolVar(&cfg.Gzip, "gzip", false, "gzip request bodies")
	fs.Int64Var(&cfg.Seed, "seed", 1, "payload seed")
	fs.StringVar(&cfg.Client, "client", loadgen.ClientRaw, "HTTP client: raw or nethttp (https:// always uses nethttp)")
	fs.BoolVar(&cfg.Profiles, "profiles", false, "audience load: event n identifies its own customer u-n with traits score (n mod 100), email and plan")
	fs.BoolVar(&cfg.Journeys, "journeys", false, "reference journey load: each event starts a journey for its own customer (Checkout Started), every fifth is the previous customer's goal (Order Completed)")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	fs.Usage = func() { fmt.Fprint(stderr, benchUsage, "\nFlags:\n"); fs.PrintDefaults() }
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	rep, err := loadgen.RunIngest(ctx, cfg)
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	fmt.Fprintln(stdout, rep.String())
	return nil
}
