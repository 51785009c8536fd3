package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/overture-cjo/overture/internal/computed"
	"github.com/overture-cjo/overture/internal/core"
	"github.com/overture-cjo/overture/internal/loadgen"
)

// crashTraits are the computed traits of the crash test, one per
// aggregate, over a 2h window.
var crashTraits = []string{
	`{"name": "buys", "aggregate": "count", "event": "Buy", "window": "2h"}`,
	`{"name": "spend", "aggregate": "sum", "event": "Buy", "property": "properties.amount", "window": "2h"}`,
	`{"name": "top", "aggregate": "max", "event": "Buy", "property": "properties.amount", "window": "2h"}`,
	`{"name": "low", "aggregate": "min", "event": "Buy", "property": "properties.amount", "window": "2h"}`,
	`{"name": "last_sku", "aggregate": "last", "event": "Buy", "property": "properties.sku", "window": "2h"}`,
	`{"name": "skus", "aggregate": "distinct_count", "event": "Buy", "property": "properties.sku", "window": "2h"}`,
	`{"name": "first_buy", "aggregate": "first_time", "event": "Buy", "window": "2h"}`,
	`{"name": "last_buy", "aggregate": "last_time", "event": "Buy", "window": "2h"}`,
}

// putTrait applies one computed trait through the API.
func putTrait(t *testing.T, s *server, src string) {
	t.Helper()
	var def struct{ Name string }
	if err := json.Unmarshal([]byte(src), &def); err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("PUT", s.url+"/v1/traits/"+def.Name, strings.NewReader(src))
	req.Header.Set("Authorization", "Bearer "+e2eAdmin)
	req.Header.Set("Content-Type", "application/json")
	if st, err := httpDo(req); err != nil || (st != 200 && st != 201) {
		t.Fatalf("PUT trait %s: %d %v", def.Name, st, err)
	}
}

// traitSet compiles trait definitions as the server does.
func traitSet(t *testing.T, srcs []string) *computed.Set {
	t.Helper()
	var list []*computed.Trait
	for _, src := range srcs {
		tr, err := computed.ParseTrait("trait", []byte(src))
		if err != nil {
			t.Fatal(err)
		}
		list = append(list, tr)
	}
	set, err := computed.NewSet(list)
	if err != nil {
		t.Fatal(err)
	}
	return set
}

// recount checks a customer's computed traits, as the server reports them,
// against a count over the raw events of the customer's timeline.
func recount(t *testing.T, s *server, set *computed.Set, user string, now time.Time) map[string]any {
	t.Helper()
	var profile struct {
		ID             string         `json:"id"`
		ComputedTraits map[string]any `json:"computedTraits"`
	}
	if st := s.admin(t, "/v1/profiles?userId="+user, &profile); st != 200 {
		t.Fatalf("profile of %s: %d", user, st)
	}
	_, raw := s.timeline(t, user)
	var evs []*core.Event
	for _, m := range raw {
		b, _ := json.Marshal(m)
		var e core.Event
		if err := json.Unmarshal(b, &e); err != nil {
			t.Fatal(err)
		}
		if e.SourceID != core.InternalSource {
			evs = append(evs, &e)
		}
	}
	st := &core.Computed{}
	set.Backfill(st, evs, now)
	want := set.Values(st, now)
	got := profile.ComputedTraits
	// Compare as JSON sees both.
	wb, _ := json.Marshal(want)
	var wantJSON map[string]any
	_ = json.Unmarshal(wb, &wantJSON)
	if !reflect.DeepEqual(got, wantJSON) {
		t.Errorf("%s (%d events): computed traits\n got %v\nwant %v", user, len(evs), got, wantJSON)
	}
	return got
}

// TestComputedTraitsCrashRecovery sends events with out-of-order
// timestamps (up to 40 minutes early or late, and some hours late, which
// never count) while the server is SIGKILLed twice, and checks that every
// customer's computed traits equal a recount from the raw events of its
// timeline: no event counted twice after the replay, none lost.
func TestComputedTraitsCrashRecovery(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { traitsCrash(t) })
	t.Run("postgres", func(t *testing.T) { traitsCrash(t, "OVERTURE_STORE="+postgresSchema(t)) })
}

func traitsCrash(t *testing.T, env ...string) {
	data := t.TempDir()
	addr := freeAddr(t)
	s := startServer(t, data, addr, env...)
	for _, src := range crashTraits {
		putTrait(t, s, src)
	}
	const users, perUser = 60, 40
	rng := rand.New(rand.NewPCG(7, 11))
	var events []string
	now := time.Now().UTC()
	counting := 0 // events stamped in the window and not in the future
	for i := 0; i < users*perUser; i++ {
		skew := time.Duration(rng.IntN(80)-40) * time.Minute
		if rng.IntN(10) == 0 {
			skew = -time.Duration(3+rng.IntN(5)) * time.Hour // behind the window: never counts
		}
		if skew <= 0 && skew > -2*time.Hour {
			counting++
		}
		events = append(events, fmt.Sprintf(`{"type":"track","userId":"tu%d","event":"Buy","messageId":"buy-%d","timestamp":%q,"properties":{"amount":%d.25,"sku":"s%d"}}`,
			rng.IntN(users), i, now.Add(skew).Format(time.RFC3339Nano), rng.IntN(200), rng.IntN(30)))
	}
	send := func(s *server, evs []string) {
		t.Helper()
		for i := 0; i < len(evs); i += 50 {
			body := `{"batch":[` + strings.Join(evs[i:min(i+50, len(evs))], ",") + `]}`
			if st, err := postJSON(context.Background(), s.url+"/v1/batch", body); err != nil || st != 200 {
				t.Fatalf("batch: %d %v", st, err)
			}
		}
	}
	third := len(events) / 3
	send(s, events[:third])
	s.kill() // mid-apply: acknowledged events are in the log
	s = startServer(t, data, addr, env...)
	send(s, events[third:2*third])
	s.kill()
	s = startServer(t, data, addr, env...)
	send(s, events[:2*third]) // client retries: duplicates change nothing
	send(s, events[2*third:])
	s.waitIdle(t, 60*time.Second)

	set := traitSet(t, crashTraits)
	buys := 0.0
	for u := 0; u < users; u++ {
		got := recount(t, s, set, "tu"+strconv.Itoa(u), time.Now())
		n, _ := got["buys"].(float64)
		buys += n
	}
	// Events stamped a little in the future count once their bucket
	// (113 s wide) begins: a small margin.
	if want := float64(counting); buys < want || buys > want*1.1 {
		t.Errorf("%v buys counted in all, want about %v", buys, want)
	}
}

// TestBackfillWhileIngesting stores OVERTURE_BACKFILL_EVENTS events
// (default 1,000,000) over 100,000 customers, then adds two computed
// traits while another stream of events is being ingested, waits for the
// backfill to finish (reporting its progress), and checks sampled
// customers' traits against a recount from their raw events.
func TestBackfillWhileIngesting(t *testing.T) {
	total := 1_000_000
	if v := os.Getenv("OVERTURE_BACKFILL_EVENTS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1000 {
			t.Fatalf("OVERTURE_BACKFILL_EVENTS=%q: want a number >= 1000", v)
		}
		total = n
	}
	users := max(1000, total/10)
	data := t.TempDir()
	addr := freeAddr(t)
	s := startServer(t, data, addr, "OVERTURE_STORE="+postgresSchema(t))
	ctx := context.Background()
	ingest := func(events, seed int) *loadgen.IngestReport {
		rep, err := loadgen.RunIngest(ctx, loadgen.IngestConfig{URL: s.url, WriteKey: e2eKey, Events: events, Batch: 250,
			Concurrency: 8, Users: users, Seed: int64(seed)})
		if err != nil {
			t.Fatal(err)
		}
		if rep.Errors > 0 || rep.EventsRejected > 0 || rep.EventsAcked != events {
			t.Fatalf("ingest: %d of %d events acknowledged, %d rejected, %d errors: %s", rep.EventsAcked, events, rep.EventsRejected, rep.Errors, rep.FirstError)
		}
		return rep
	}
	start := time.Now()
	ingest(total, 1)
	s.waitIdle(t, 15*time.Minute)
	t.Logf("stored %d events over %d customers in %s", total, users, time.Since(start).Round(time.Millisecond))

	traits := []string{
		`{"name": "views_30d", "aggregate": "count", "event": "Product Viewed", "window": "30d"}`,
		`{"name": "spend_30d", "aggregate": "sum", "event": "Order Completed", "property": "properties.revenue", "window": "30d"}`,
	}
	var wg sync.WaitGroup
	wg.Add(1)
	during := max(10000, total/10)
	go func() { defer wg.Done(); ingest(during, 2) }() // ingestion goes on during the backfill
	start = time.Now()
	for _, src := range traits {
		putTrait(t, s, src)
	}
	var progress struct {
		Backfill *struct {
			Running bool
			Total   int64
			Scanned int64
			Touched int64
			Error   string
		}
	}
	var seen []string
	for {
		s.admin(t, "/v1/traits", &progress)
		if b := progress.Backfill; b != nil {
			seen = append(seen, fmt.Sprintf("%d/%d", b.Scanned, b.Total))
			if !b.Running {
				if b.Error != "" {
					t.Fatalf("backfill: %s", b.Error)
				}
				break
			}
		}
		if time.Since(start) > 5*time.Minute {
			t.Fatalf("backfill not done after 5 minutes: %v %+v", seen, progress.Backfill)
		}
		time.Sleep(200 * time.Millisecond)
	}
	took := time.Since(start)
	wg.Wait()
	s.waitIdle(t, 5*time.Minute)
	t.Logf("backfilled %d customers (%d events) in %s while %d more events were ingested; progress seen: %d reports, last %s",
		progress.Backfill.Touched, total, took.Round(time.Millisecond), during, len(seen), seen[len(seen)-1])
	if progress.Backfill.Scanned < int64(users)*99/100 { // a random customer may get no event
		t.Errorf("backfill scanned %d profiles, want >= %d", progress.Backfill.Scanned, users)
	}
	set := traitSet(t, traits)
	rng := rand.New(rand.NewPCG(3, 5))
	for range 25 {
		recount(t, s, set, "u-"+strconv.Itoa(rng.IntN(users)), time.Now())
	}
}
