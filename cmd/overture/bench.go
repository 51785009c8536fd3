package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"time"

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

  overture bench decide --url URL [--token T] [--rate R] [--duration D | --requests N] [--users U] [--decide-share S] [--connections C] [--seed S] [--json] [--json-file F]

Sends an open-loop mix of POST /v1/decide and GET /v1/profiles/user_id:u-N/context
requests (admin bearer token --token, else OVERTURE_ADMIN_TOKEN) at R requests/s
for D (or N requests), whatever the server's response times: request i is
scheduled at i/R, and its latency runs from that time, so queueing for one of
the C keep-alive connections counts. A share S of the requests are decide
requests; customers are u-0 to u-(U-1), picked uniformly, as created by
"bench ingest --profiles"; touchpoints are picked at random, all from --seed.
Reports p50/p90/p99/p99.9/max per endpoint, the achieved rate, how many
requests started over 1 ms late, and whether --target-p99 was met (see
scripts/bench-decide.sh).

  overture bench sink --addr ADDR

Runs a webhook receiver for delivery benchmarks: it answers every POST 204,
counts them and their distinct webhook-id headers, and answers GET /stats
with {received, distinct, bytes, first, last, perSecond}. Point a webhook
connector's url at it (see scripts/bench-deliver.sh). Runs until killed.
`

func benchCommand(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "decide" {
		return benchDecide(ctx, args[1:], stdout, stderr)
	}
	if len(args) > 0 && args[0] == "sink" {
		return benchSink(ctx, args[1:], stdout, stderr)
	}
	if len(args) == 0 || args[0] != "ingest" {
		fmt.Fprint(stderr, benchUsage)
		if len(args) > 0 && (args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
			return nil
		}
		return fmt.Errorf("bench: want the subcommand ingest, decide or sink")
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

// benchDecide runs "overture bench decide".
func benchDecide(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bench decide", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cfg loadgen.DecideConfig
	fs.StringVar(&cfg.URL, "url", "http://127.0.0.1:8420", "server base URL")
	fs.StringVar(&cfg.Token, "token", envOr("OVERTURE_ADMIN_TOKEN", ""), "admin token (env OVERTURE_ADMIN_TOKEN)")
	fs.Float64Var(&cfg.Rate, "rate", loadgen.DefaultDecideRate, "requests scheduled per second")
	fs.DurationVar(&cfg.Duration, "duration", 20*time.Second, "how long requests are scheduled for")
	fs.IntVar(&cfg.Requests, "requests", 0, "requests to schedule instead of rate × duration (0: use --duration)")
	fs.IntVar(&cfg.Users, "users", loadgen.DefaultDecideUsers, "customers u-0 to u-(users-1)")
	fs.Float64Var(&cfg.DecideShare, "decide-share", loadgen.DefaultDecideShare, "share of POST /v1/decide requests; the rest are GET context")
	fs.IntVar(&cfg.Connections, "connections", loadgen.DefaultDecideConnections, "keep-alive connections")
	fs.IntVar(&cfg.OfferLimit, "offer-limit", loadgen.DefaultOfferLimit, "offers.limit of decide requests")
	fs.Int64Var(&cfg.Seed, "seed", 1, "request seed")
	fs.DurationVar(&cfg.Timeout, "timeout", loadgen.DefaultDecideTimeout, "per-request timeout")
	fs.DurationVar(&cfg.TargetP99, "target-p99", loadgen.DefaultTargetP99, "p99 latency target the report is judged by")
	fs.StringVar(&cfg.Client, "client", loadgen.ClientRaw, "HTTP client: raw or nethttp (https:// always uses nethttp)")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	jsonFile := fs.String("json-file", "", "also write the JSON report to this file")
	fs.Usage = func() { fmt.Fprint(stderr, benchUsage, "\nFlags:\n"); fs.PrintDefaults() }
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return fmt.Errorf("bench decide: unexpected argument %q", fs.Arg(0))
	}
	rep, err := loadgen.RunDecide(ctx, cfg)
	if err != nil {
		return err
	}
	if *jsonFile != "" {
		b, err := json.MarshalIndent(rep, "", "  ")
		if err != nil {
			return err
		}
		if err := os.WriteFile(*jsonFile, append(b, '\n'), 0o644); err != nil {
			return fmt.Errorf("bench decide: %w", err)
		}
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	fmt.Fprintln(stdout, rep.String())
	return nil
}

// benchSink runs "overture bench sink".
func benchSink(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bench sink", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:8497", "listen address")
	fs.Usage = func() { fmt.Fprint(stderr, benchUsage, "\nFlags:\n"); fs.PrintDefaults() }
	if err := fs.Parse(args); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	hs := &http.Server{Handler: loadgen.NewSink(), ReadHeaderTimeout: 10 * time.Second}
	go func() { <-ctx.Done(); _ = hs.Close() }()
	fmt.Fprintf(stdout, "sink listening on %s\n", ln.Addr())
	if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
