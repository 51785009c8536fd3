package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/overture-cjo/overture/internal/api"
	"github.com/overture-cjo/overture/internal/catalog"
	"github.com/overture-cjo/overture/internal/core"
	"github.com/overture-cjo/overture/internal/engine"
	"github.com/overture-cjo/overture/internal/ingest"
	"github.com/overture-cjo/overture/internal/message"
	"github.com/overture-cjo/overture/internal/outbox"
	"github.com/overture-cjo/overture/internal/simulate"
	"github.com/overture-cjo/overture/internal/webhook"
)

func serveCommand(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var sf storeFlags
	sf.register(fs)
	addr := fs.String("addr", envOr("OVERTURE_ADDR", "127.0.0.1:8420"), "listen address (env OVERTURE_ADDR)")
	adminToken := fs.String("admin-token", envOr("OVERTURE_ADMIN_TOKEN", ""), "admin API bearer token (env OVERTURE_ADMIN_TOKEN); if empty, one is created in <data>/admin-token")
	writeKeys := fs.String("write-keys", envOr("OVERTURE_WRITE_KEYS", ""), "comma-separated ingestion write keys accepted besides those made with 'overture keys create' (env OVERTURE_WRITE_KEYS)")
	partitions := fs.Int("partitions", 4, "partition workers")
	dedupe := fs.Duration("dedupe-window", envDuration("OVERTURE_DEDUPE_WINDOW", 7*24*time.Hour), "messageId dedupe window (env OVERTURE_DEDUPE_WINDOW)")
	gcPercent := fs.Int("gc-percent", envInt("OVERTURE_GC_PERCENT", 400), "Go GC target percentage (env OVERTURE_GC_PERCENT); higher trades memory for CPU. A soft memory limit of a quarter of the machine's memory (or cgroup limit), at least 2 GiB, applies unless GOMEMLIMIT is set")
	logLevel := fs.String("log-level", envOr("OVERTURE_LOG_LEVEL", "info"), "debug, info, warn or error (env OVERTURE_LOG_LEVEL)")
	var df deliveryFlags
	fs.StringVar(&df.connectors, "connectors", envOr("OVERTURE_CONNECTORS", ""), "delivery connectors file (YAML; env OVERTURE_CONNECTORS); if empty, every message is written to the log instead of sent")
	fs.StringVar(&df.publicURL, "public-url", envOr("OVERTURE_PUBLIC_URL", ""), "the server's base URL as customers and providers reach it (env OVERTURE_PUBLIC_URL); turns on open and click tracking and delivery receipts, signed with OVERTURE_TRACKING_SECRET or <data>/tracking-secret")
	fs.StringVar(&df.node, "node", envOr("OVERTURE_NODE", hostname()), "this node's name, under which it claims messages to deliver (env OVERTURE_NODE)")
	channelCosts := fs.String("channel-costs", envOr("OVERTURE_CHANNEL_COSTS", ""), "unit cost of a message per channel, for the cost in journey analytics, e.g. email=0.0004,sms=0.0079 (env OVERTURE_CHANNEL_COSTS)")
	fs.DurationVar(&df.backoff, "retry-backoff", envDuration("OVERTURE_RETRY_BACKOFF", time.Second), "delay before a failed message's first retry, doubling per attempt up to 1h, half of it random (env OVERTURE_RETRY_BACKOFF)")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: overture serve [flags]\n\nRuns the ingestion API, the admin API and /metrics.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		return fmt.Errorf("--log-level: %w", err)
	}
	costs, err := api.ParseChannelCosts(*channelCosts)
	if err != nil {
		return fmt.Errorf("--channel-costs: %w", err)
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	slog.SetDefault(log)
	// The hot path allocates per event; collecting less often buys CPU on
	// small machines. The memory limit keeps a high GOGC from growing the
	// heap without bound.
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(*gcPercent)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(memoryLimit())
	}

	if err := os.MkdirAll(sf.data, 0o755); err != nil {
		return fmt.Errorf("data directory: %w", err)
	}
	token := *adminToken
	if token == "" {
		var err error
		if token, err = adminTokenFile(filepath.Join(sf.data, "admin-token")); err != nil {
			return err
		}
		log.Info("admin token read from file", "path", filepath.Join(sf.data, "admin-token"))
	}

	store, err := sf.open(ctx, true)
	if err != nil {
		return err
	}
	defer store.Close()

	clock := core.RealClock{}
	var disp *outbox.Dispatcher // made below, before anything runs
	var com *ingest.Committer
	eng := engine.New(store, engine.Options{
		Partitions: *partitions, DedupeWindow: *dedupe, Clock: clock, Logger: log,
		Zone: simulate.LoadZone, Webhooks: &webhook.Caller{}, OnOutbox: func() { disp.Notify() },
		Emit: func(ctx context.Context, evs []*core.Event) error { return com.Submit(ctx, evs) },
	})
	com = ingest.NewCommitter(store, eng.Offer)
	journeys, err := catalog.Open(ctx, store, clock, log, eng.SetCatalog)
	if err != nil {
		return fmt.Errorf("journeys: %w", err)
	}
	derived, err := catalog.OpenDerived(ctx, store, clock, log, eng.SetTraits, eng.SetAudiences)
	if err != nil {
		return fmt.Errorf("traits and audiences: %w", err)
	}
	decisioning, err := catalog.OpenDecisioning(ctx, store, clock, log, catalog.DecisionHooks{Policy: eng.SetPolicy, Offers: eng.SetOffers,
		Templates: func(set *message.Set) { eng.SetTemplateChannels(set.Channels) }})
	if err != nil {
		return fmt.Errorf("decisioning: %w", err)
	}
	signer, err := openTracking(df.publicURL, sf.data)
	if err != nil {
		return err
	}
	var trk outbox.Tracker
	if signer != nil {
		trk = tracker{signer}
	}
	if disp, err = openDispatcher(df, store, clock, log, eng, decisioning, trk); err != nil {
		return err
	}
	srv := &api.Server{
		Store: store, Committer: com, Engine: eng, Clock: clock, Logger: log, AdminToken: token,
		Decoder:  &ingest.Decoder{Now: clock.Now, NewID: newMessageID},
		Keys:     api.NewKeyring(store, clock, strings.Split(*writeKeys, ",")),
		Metrics:  api.NewMetrics(eng, com, clock),
		Journeys: journeys,
		Derived:  derived,

		Decisioning: decisioning,
		Outbox:      disp,
		Tracking:    signer,
		// Inbound SMS (STOP) is checked with the Twilio account's token.
		TwilioAuthToken: os.Getenv("OVERTURE_TWILIO_AUTH_TOKEN"),
		ChannelCosts:    costs,
	}
	srv.Metrics.WatchDelivery(disp.Stats)

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	hs := &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 60 * time.Second, IdleTimeout: 120 * time.Second}

	engCtx, stopEngine := context.WithCancel(context.WithoutCancel(ctx))
	comCtx, stopCommitter := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	engErr := make(chan error, 1)
	wg.Add(3)
	go func() { defer wg.Done(); com.Run(comCtx) }()
	go func() { defer wg.Done(); engErr <- eng.Run(engCtx) }()
	go func() { defer wg.Done(); disp.Run(engCtx) }()

	httpErr := make(chan error, 1)
	go func() { httpErr <- hs.Serve(ln) }()
	log.Info("overture serving", "addr", ln.Addr().String(), "store", storeName(sf), "data", sf.data, "version", version)

	var runErr error
	select {
	case <-ctx.Done():
	case err := <-httpErr:
		runErr = err
	case err := <-engErr:
		runErr = fmt.Errorf("engine stopped: %w", err)
	}
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = hs.Shutdown(sctx) // finish in-flight requests (they wait for their commit)
	stopCommitter()
	stopEngine()
	wg.Wait()
	if errors.Is(runErr, http.ErrServerClosed) {
		runErr = nil
	}
	return runErr
}

func storeName(sf storeFlags) string {
	if strings.Contains(sf.store, "://") {
		return "postgres"
	}
	return "sqlite"
}

func envInt(name string, def int) int {
	if v := os.Getenv(name); v != "" {
		if n, err := strconv.Atoi(v); err == nil {
			return n
		}
	}
	return def
}

func envDuration(name string, def time.Duration) time.Duration {
	if v := os.Getenv(name); v != "" {
		if d, err := time.ParseDuration(v); err == nil {
			return d
		}
	}
	return def
}

// adminTokenFile reads the admin token from path, creating it on first use.
func adminTokenFile(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err == nil && len(strings.TrimSpace(string(b))) > 0 {
		return strings.TrimSpace(string(b)), nil
	}
	if err != nil && !os.IsNotExist(err) {
		return "", fmt.Errorf("admin token: %w", err)
	}
	tok := api.NewAdminToken()
	if err := os.WriteFile(path, []byte(tok+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("admin token: %w", err)
	}
	return tok, nil
}

// newMessageID makes a messageId for messages that arrive without one.
func newMessageID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return "ovt-" + hex.EncodeToString(b[:])
}

// memoryLimit is the default soft memory limit: a quarter of the memory
// the process may use (the machine's, or its cgroup's if lower), at least
// 2 GiB. With a high GOGC the heap grows to the limit before collecting,
// so a limit close to the live heap (a million cached profiles and
// identities take about 1 GiB) makes the collector run back to back.
func memoryLimit() int64 {
	const floor = 2 << 30
	total := int64(0)
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		var kb int64
		if _, err := fmt.Sscanf(string(b), "MemTotal: %d kB", &kb); err == nil {
			total = kb << 10
		}
	}
	if b, err := os.ReadFile("/sys/fs/cgroup/memory.max"); err == nil {
		if n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64); err == nil && (total == 0 || n < total) {
			total = n
		}
	}
	return max(floor, total/4)
}
