package postgres_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/overture-cjo/overture/internal/core"
	"github.com/overture-cjo/overture/internal/postgres"
	"github.com/overture-cjo/overture/internal/storetest"
)

// defaultURL reaches the server a Debian postgresql package installs, as
// its superuser, with trust authentication on 127.0.0.1 (as in CI). The
// postgres database always exists there; each test works in a schema of
// its own.
const defaultURL = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// serverURL is the server the tests use: OVERTURE_TEST_POSTGRES_URL, or
// defaultURL. The tests never skip: a server that cannot be reached fails
// them.
func serverURL() string {
	if u := os.Getenv("OVERTURE_TEST_POSTGRES_URL"); u != "" {
		return u
	}
	return defaultURL
}

var passwordRE = regexp.MustCompile(`password=\S*`)

// redacted hides a password in a connection string.
func redacted(s string) string {
	if u, err := url.Parse(s); err == nil && u.Scheme != "" {
		return u.Redacted()
	}
	return passwordRE.ReplaceAllString(s, "password=xxxxx")
}

// newSchema creates an empty schema with a random name, dropped when the
// test ends, and returns a connection string whose search_path selects it.
func newSchema(tb testing.TB) string {
	tb.Helper()
	base := serverURL()
	name := "storetest_" + randomHex(8)
	admin := func(sql string) error {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, base)
		if err != nil {
			return fmt.Errorf("connect to PostgreSQL at %s (set OVERTURE_TEST_POSTGRES_URL to choose another server): %w", redacted(base), err)
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, sql); err != nil {
			return fmt.Errorf("%s on %s: %w", sql, redacted(base), err)
		}
		return nil
	}
	ident := pgx.Identifier{name}.Sanitize()
	if err := admin("CREATE SCHEMA " + ident); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := admin("DROP SCHEMA " + ident + " CASCADE"); err != nil {
			tb.Error(err)
		}
	})
	return withSearchPath(tb, base, name)
}

// withSearchPath adds search_path=schema to a URL or keyword/value string.
func withSearchPath(tb testing.TB, conn, schema string) string {
	tb.Helper()
	if !strings.Contains(conn, "://") {
		return conn + " search_path=" + schema
	}
	u, err := url.Parse(conn)
	if err != nil {
		tb.Fatalf("parse %s: %v", redacted(conn), err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func open(tb testing.TB, url string) *postgres.Store {
	tb.Helper()
	s, err := postgres.Open(context.Background(), url)
	if err != nil {
		tb.Fatalf("open %s: %v", redacted(url), err)
	}
	return s
}

func TestStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) core.Store {
		return open(t, newSchema(t))
	})
}

// TestOpenConcurrently: processes starting at once migrate the schema once,
// and opening a migrated schema changes nothing.
func TestOpenConcurrently(t *testing.T) {
	url := newSchema(t)
	const n = 4
	stores := make([]*postgres.Store, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { stores[i], errs[i] = postgres.Open(t.Context(), url) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("open %d: %v", i, err)
		}
		stores[i].Close()
	}
	s := open(t, url)
	defer s.Close()
	conn, err := pgx.Connect(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var versions []int
	rows, _ := conn.Query(t.Context(), `SELECT version FROM schema_migrations ORDER BY version`)
	if versions, err = pgx.CollectRows(rows, pgx.RowTo[int]); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(versions, []int{1, 2, 3, 4, 5, 6, 7}) {
		t.Errorf("schema_migrations = %v, want [1 2 3 4 5 6 7]", versions)
	}
}

// TestOpenMissingSchema: a search_path naming no schema is an error, not
// tables created somewhere else.
func TestOpenMissingSchema(t *testing.T) {
	url := withSearchPath(t, serverURL(), "storetest_missing_"+randomHex(8))
	s, err := postgres.Open(t.Context(), url)
	if err == nil {
		s.Close()
		t.Fatal("opened a store in a schema that does not exist")
	}
}

// TestSynchronousCommit: a server whose commits do not wait for the WAL
// flush (here, a startup option) cannot make Append acknowledge events that
// are not on disk; a connection string that asks for it explicitly wins.
func TestSynchronousCommit(t *testing.T) {
	base := newSchema(t)
	with := func(param, value string) string {
		t.Helper()
		if !strings.Contains(base, "://") {
			return base + " " + param + "='" + value + "'"
		}
		u, err := url.Parse(base)
		if err != nil {
			t.Fatal(err)
		}
		q := u.Query()
		q.Set(param, value)
		u.RawQuery = strings.ReplaceAll(q.Encode(), "+", "%20") // pgx reads + as itself
		return u.String()
	}
	for _, tt := range []struct{ url, want string }{
		{with("options", "-c synchronous_commit=off"), "on"},
		{with("synchronous_commit", "off"), "off"},
		{base, "on"},
	} {
		s := open(t, tt.url)
		got, err := postgres.SynchronousCommit(t.Context(), s)
		s.Close()
		if err != nil || got != tt.want {
			t.Errorf("%s: synchronous_commit = %q, %v; want %q", redacted(tt.url), got, err, tt.want)
		}
	}
}

const batchSize = 1000

// benchEvents returns n events shaped like a web SDK's track calls, spread
// over profiles profiles, with seqs from seq+1.
func benchEvents(n, profiles int, seq int64, now time.Time) []*core.Event {
	props := json.RawMessage(`{"orderId":"ord_7f3a9c","total":129.9,"currency":"EUR","items":[{"sku":"SKU-1042","qty":1,"price":79.9},{"sku":"SKU-2210","qty":2,"price":25}],"coupon":"SPRING"}`)
	ctx := json.RawMessage(`{"ip":"203.0.113.24","locale":"fr-FR","timezone":"Europe/Paris","userAgent":"Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15","page":{"path":"/checkout/complete","url":"https://shop.example.com/checkout/complete"}}`)
	out := make([]*core.Event, n)
	for i := range out {
		seq++
		out[i] = &core.Event{
			Seq: seq, SourceID: "src_web", MessageID: fmt.Sprintf("msg-%d-%s", seq, randomHex(4)), Type: core.TypeTrack,
			Event: "Order Completed", UserID: fmt.Sprintf("user-%d", i%profiles), AnonymousID: randomHex(8),
			Timestamp: now, ReceivedAt: now, Properties: props, Context: ctx,
			ProfileID: fmt.Sprintf("prof-%d", i%profiles),
		}
	}
	return out
}

// BenchmarkAppend logs batches of 1000 events, as the ingest group
// committer does.
func BenchmarkAppend(b *testing.B) {
	s := open(b, newSchema(b))
	defer s.Close()
	now := time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)
	batches := make([][]*core.Event, 8)
	for i := range batches {
		batches[i] = benchEvents(batchSize, 100, 0, now)
	}
	for i := 0; b.Loop(); i++ {
		if err := s.Append(b.Context(), batches[i%len(batches)]); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*batchSize)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkApplyBatch applies batches of 1000 events over 100 profiles and
// writes those profiles, as a partition worker does: all fresh, or all
// duplicates (a replay).
func BenchmarkApplyBatch(b *testing.B) {
	now := time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)
	profiles := make([]*core.Profile, 100)
	for i := range profiles {
		p := core.NewProfile(fmt.Sprintf("prof-%d", i), now)
		p.Traits = map[string]core.Trait{"email": {Value: json.RawMessage(`"someone@example.com"`), At: now}, "plan": {Value: json.RawMessage(`"pro"`), At: now}}
		p.Counts = map[string]int64{"Order Completed": 10}
		p.Events = 10
		profiles[i] = p
	}
	fn := func([]*core.Event) (*core.PartitionCommit, error) {
		return &core.PartitionCommit{Profiles: profiles}, nil
	}
	since := now.Add(-time.Hour)
	b.Run("fresh", func(b *testing.B) {
		s := open(b, newSchema(b))
		defer s.Close()
		seq := int64(0)
		for b.Loop() {
			b.StopTimer()
			events := benchEvents(batchSize, len(profiles), seq, now)
			seq += batchSize
			b.StartTimer()
			dups, err := s.ApplyBatch(b.Context(), &core.ApplyBatch{Events: events, DedupeSince: since}, fn)
			if err != nil || dups != 0 {
				b.Fatalf("apply: %d duplicates, %v", dups, err)
			}
		}
		b.ReportMetric(float64(b.N*batchSize)/b.Elapsed().Seconds(), "events/s")
	})
	b.Run("duplicates", func(b *testing.B) {
		s := open(b, newSchema(b))
		defer s.Close()
		events := benchEvents(batchSize, len(profiles), 0, now)
		if _, err := s.ApplyBatch(b.Context(), &core.ApplyBatch{Events: events, DedupeSince: since}, fn); err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			dups, err := s.ApplyBatch(b.Context(), &core.ApplyBatch{Events: events, DedupeSince: since}, fn)
			if err != nil || dups != batchSize {
				b.Fatalf("apply: %d duplicates, %v", dups, err)
			}
		}
		b.ReportMetric(float64(b.N*batchSize)/b.Elapsed().Seconds(), "events/s")
	})
}

// TestUpgrade: a schema made before the journey, audience and decision tables existed
// (only migration 1 applied) gains them on Open, and keeps its data.
func TestUpgrade(t *testing.T) {
	url := newSchema(t)
	body, err := os.ReadFile("migrations/0001_init.sql")
	if err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	for _, q := range []string{
		`CREATE TABLE schema_migrations (version integer PRIMARY KEY)`,
		string(body),
		`INSERT INTO schema_migrations (version) VALUES (1)`,
		`INSERT INTO meta (key, value) VALUES ('checkpoint', '42')`,
	} {
		if _, err := conn.Exec(t.Context(), q); err != nil {
			t.Fatalf("set up version 1: %v", err)
		}
	}
	s := open(t, url)
	defer s.Close()
	rows, _ := conn.Query(t.Context(), `SELECT version FROM schema_migrations ORDER BY version`)
	versions, err := pgx.CollectRows(rows, pgx.RowTo[int])
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(versions, []int{1, 2, 3, 4, 5, 6, 7}) {
		t.Errorf("schema_migrations = %v, want [1 2 3 4 5 6 7]", versions)
	}
	if cp, err := s.Checkpoint(t.Context()); err != nil || cp != 42 {
		t.Errorf("checkpoint after upgrade = %d, %v; want 42", cp, err)
	}
	if _, created, err := s.SaveJourney(t.Context(), "welcome", "id: welcome\n", time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)); err != nil || !created {
		t.Errorf("save journey after upgrade: created %v, %v", created, err)
	}
	if _, created, err := s.SaveDefinition(t.Context(), core.KindAudience, "vip", "id: vip\n", time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)); err != nil || !created {
		t.Errorf("save audience after upgrade: created %v, %v", created, err)
	}
}

// BenchmarkApplyInstances: see storetest.BenchApplyInstances.
func BenchmarkApplyInstances(b *testing.B) {
	s := open(b, newSchema(b))
	defer s.Close()
	storetest.BenchApplyInstances(b, s)
}

// BenchmarkApplyAudiences: see storetest.BenchApplyAudiences.
func BenchmarkApplyAudiences(b *testing.B) {
	s := open(b, newSchema(b))
	defer s.Close()
	storetest.BenchApplyAudiences(b, s)
}
