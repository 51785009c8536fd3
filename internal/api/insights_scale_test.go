package api

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/overture-cjo/overture/internal/catalog"
	"github.com/overture-cjo/overture/internal/core"
	"github.com/overture-cjo/overture/internal/machine"
	"github.com/overture-cjo/overture/internal/postgres"
	"github.com/overture-cjo/overture/internal/sqlite"
	"github.com/overture-cjo/overture/internal/storetest"
)

// benchJourney is the journey of the scale test's population.
const benchJourney = "analytics-bench"

// TestInsightsScale measures GET /v1/journeys/{id}/paths and /drivers
// over a store holding OVERTURE_BENCH_ANALYTICS_EVENTS events (e.g.
// 10000000): a synthetic population (storetest.Population: 20 events per
// customer, interleaved in the log, one journey instance each) written
// through Append and ApplyBatch, on SQLite and PostgreSQL
// (OVERTURE_BENCH_ANALYTICS_STORES=sqlite,postgres). Each query runs once
// to warm up, then three times; the test logs the median and checks the
// answers (the planted driver first).
//
// Generating takes minutes per million events. To keep the data for
// another run, set OVERTURE_BENCH_ANALYTICS_DIR (SQLite is kept in
// DIR/sqlite-N) and OVERTURE_BENCH_ANALYTICS_KEEP=1 (PostgreSQL keeps the
// schema analytics_bench_N); a later run with the same N reuses them.
// OVERTURE_BENCH_ANALYTICS_SAMPLE=N asks every query for a sample of N.
// Without the variable it runs small (20,000 events), as part of the
// test suite: the same queries and checks, at no cost worth measuring.
func TestInsightsScale(t *testing.T) {
	v := os.Getenv("OVERTURE_BENCH_ANALYTICS_EVENTS")
	if v == "" {
		v = "20000"
	}
	events, err := strconv.Atoi(v)
	if err != nil || events < 1000 {
		t.Fatalf("OVERTURE_BENCH_ANALYTICS_EVENTS=%q: want a number of events, at least 1000", v)
	}
	stores := "sqlite,postgres"
	if s := os.Getenv("OVERTURE_BENCH_ANALYTICS_STORES"); s != "" {
		stores = s
	}
	keep := os.Getenv("OVERTURE_BENCH_ANALYTICS_KEEP") == "1"
	for _, name := range strings.Split(stores, ",") {
		t.Run(name, func(t *testing.T) {
			var st core.Store
			var pgURL string
			switch name {
			case "sqlite":
				dir := t.TempDir()
				if d := os.Getenv("OVERTURE_BENCH_ANALYTICS_DIR"); d != "" {
					dir = filepath.Join(d, "sqlite-"+v)
				}
				s, err := sqlite.Open(context.Background(), dir)
				if err != nil {
					t.Fatal(err)
				}
				st = s
			case "postgres":
				pgURL = benchSchema(t, "analytics_bench_"+v, keep)
				s, err := postgres.Open(context.Background(), pgURL)
				if err != nil {
					t.Fatal(err)
				}
				st = s
			default:
				t.Fatalf("store %q: want sqlite or postgres", name)
			}
			defer st.Close()
			insightsScale(t, st, name, pgURL, events)
		})
	}
}

// benchSchema returns a connection string for schema name (created if
// need be; dropped at the end unless keep; a random name unless keep).
func benchSchema(t *testing.T, name string, keep bool) string {
	base := os.Getenv("OVERTURE_TEST_POSTGRES_URL")
	if base == "" {
		base = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
	}
	if !keep {
		var b [6]byte
		_, _ = rand.Read(b[:])
		name += "_" + hex.EncodeToString(b[:])
	}
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatalf("PostgreSQL at %s: %v", base, err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE SCHEMA IF NOT EXISTS "+name); err != nil {
		t.Fatal(err)
	}
	if !keep {
		t.Cleanup(func() {
			c, err := pgx.Connect(context.Background(), base)
			if err == nil {
				_, _ = c.Exec(context.Background(), "DROP SCHEMA "+name+" CASCADE")
				c.Close(context.Background())
			}
		})
	}
	sep := "?"
	if strings.Contains(base, "?") {
		sep = "&"
	}
	return base + sep + "search_path=" + name
}

func insightsScale(t *testing.T, st core.Store, name, pgURL string, events int) {
	ctx := context.Background()
	defer debug.SetGCPercent(debug.SetGCPercent(400)) // as overture serve runs (--gc-percent)
	pop := &storetest.Population{
		Journey: benchJourney, Customers: events / 20, EventsPerCustomer: 20,
		Start: time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC), CallPlanted: 0.35, CallBase: 0.06, Batch: 20000,
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	clock := core.RealClock{}
	js, err := catalog.Open(ctx, st, clock, log, func(*machine.Catalog) {})
	if err != nil {
		t.Fatal(err)
	}
	if js.Catalog().Newest(benchJourney) == nil {
		began := time.Now()
		next := 0
		pop.Progress = func(written int) {
			if written >= next {
				t.Logf("%s: %d events written in %s", name, written, time.Since(began).Round(time.Second))
				next += 1000000
			}
		}
		n := pop.Generate(t, st)
		elapsed := time.Since(began)
		if pgURL != "" {
			// What autovacuum does in time: statistics for the planner
			// and the visibility map for index-only scans.
			conn, err := pgx.Connect(ctx, pgURL)
			if err != nil {
				t.Fatal(err)
			}
			_, err = conn.Exec(ctx, `VACUUM (ANALYZE) events, journey_instances, profiles`)
			conn.Close(ctx)
			if err != nil {
				t.Fatal(err)
			}
		}
		t.Logf("%s: generated %d events (%d customers) in %s: %.0f events/s", name, n, pop.Customers, elapsed.Round(time.Second),
			float64(n)/elapsed.Seconds())
		// The journey is saved last: its presence marks a complete run.
		if _, err := js.Apply(ctx, benchJourney, benchJourney+".yaml", []byte(fmt.Sprintf(storetest.PopulationJourney, benchJourney))); err != nil {
			t.Fatal(err)
		}
	} else {
		t.Logf("%s: reusing the population of %d events", name, events)
	}

	srv := &Server{Store: st, Clock: clock, Logger: log, AdminToken: testAdmin, Journeys: js}
	mux := http.NewServeMux()
	mux.Handle("GET /v1/journeys/{id}/paths", srv.admin(srv.journeyPaths))
	mux.Handle("GET /v1/journeys/{id}/drivers", srv.admin(srv.journeyDrivers))
	hs := httptest.NewServer(mux)
	defer hs.Close()
	get := func(path string) ([]byte, time.Duration) {
		req, _ := http.NewRequest("GET", hs.URL+path, nil)
		req.Header.Set("Authorization", "Bearer "+testAdmin)
		began := time.Now()
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		took := time.Since(began)
		if resp.StatusCode != 200 {
			t.Fatalf("%s: %d %s", path, resp.StatusCode, b)
		}
		return b, took
	}
	for _, q := range []string{
		"/paths",
		"/paths?end=event:contact_center_call",
		"/drivers",
		"/drivers?outcome=event:contact_center_call",
	} {
		path := "/v1/journeys/" + benchJourney + q
		if n := os.Getenv("OVERTURE_BENCH_ANALYTICS_SAMPLE"); n != "" {
			path += map[bool]string{true: "&", false: "?"}[strings.Contains(q, "?")] + "sample=" + n
		}
		body, first := get(path)
		var times []time.Duration
		for range 3 {
			_, d := get(path)
			times = append(times, d)
		}
		slices.Sort(times)
		var head struct {
			InsightSample
			Sequences    int `json:"sequences"`
			Observations int `json:"observations"`
			Top          []struct {
				Steps []string `json:"steps"`
				Count int      `json:"count"`
			} `json:"top"`
			Drivers []struct {
				Features     []string `json:"features"`
				RelativeRisk float64  `json:"relativeRisk"`
			} `json:"drivers"`
		}
		_ = json.Unmarshal(body, &head)
		var top string
		if len(head.Top) > 0 {
			top = fmt.Sprintf("top path %v ×%d", head.Top[0].Steps, head.Top[0].Count)
		}
		if len(head.Drivers) > 0 {
			top = fmt.Sprintf("top driver %v RR %.2f", head.Drivers[0].Features, head.Drivers[0].RelativeRisk)
		}
		if q == "/drivers?outcome=event:contact_center_call" {
			// The population's planted cause: iOS (or its library, the
			// same customers) and a document upload.
			if len(head.Drivers) == 0 || !slices.Contains(head.Drivers[0].Features, "event.document_upload=true") || len(head.Drivers[0].Features) != 2 {
				t.Errorf("%s: the planted driver is not first: %s", name, top)
			}
		}
		if head.Population == 0 || head.SampleSize == 0 {
			t.Errorf("%s %s: population %d, sample %d", name, q, head.Population, head.SampleSize)
		}
		t.Logf("%s %-45s population %d, sample %d: first %4dms, median of 3 %4dms (%v); %s", name, q, head.Population, head.SampleSize,
			first.Milliseconds(), times[1].Milliseconds(), times, top)
	}
}
