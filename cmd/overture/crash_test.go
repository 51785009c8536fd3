package main

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestCrashRecovery ingests concurrently into the real binary, kills it
// with SIGKILL mid-stream, restarts it on the same data, re-sends some
// acknowledged events (as a client retrying would), kills it again while it
// may still be replaying, restarts once more, and checks that every
// acknowledged event is on its profile's timeline exactly once and that the
// profiles are complete, merges included.
func TestCrashRecovery(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { crashRecovery(t) })
	t.Run("postgres", func(t *testing.T) { crashRecovery(t, "OVERTURE_STORE="+postgresSchema(t)) })
}

func crashRecovery(t *testing.T, env ...string) {
	data := t.TempDir()
	addr := freeAddr(t)
	s := startServer(t, data, addr, env...)

	type user struct {
		anon, id   string
		acked      []string // messageIds acknowledged
		identified bool     // the identify merging anon into id was acknowledged
	}
	const workers = 8
	var (
		mu      sync.Mutex
		users   []*user
		ackedN  atomic.Int64
		batches []string // acknowledged bodies, for re-sending
	)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := 0; ctx.Err() == nil; k++ {
				u := &user{anon: fmt.Sprintf("anon-%d-%d", w, k), id: fmt.Sprintf("user-%d-%d", w, k)}
				mu.Lock()
				users = append(users, u)
				mu.Unlock()
				send := func(path string, items []string, ids []string) bool {
					body := items[0]
					if path == "/v1/batch" {
						body = `{"batch":[` + strings.Join(items, ",") + `]}`
					}
					st, err := postJSON(ctx, s.url+path, body)
					if err != nil || st != 200 {
						return false
					}
					mu.Lock()
					u.acked = append(u.acked, ids...)
					if len(batches) < 200 && path == "/v1/batch" {
						batches = append(batches, body)
					}
					mu.Unlock()
					ackedN.Add(int64(len(ids)))
					return true
				}
				var items, ids []string
				for j := 0; j < 5; j++ {
					id := fmt.Sprintf("%s-v%d", u.anon, j)
					items = append(items, fmt.Sprintf(`{"type":"track","anonymousId":%q,"event":"Viewed","messageId":%q}`, u.anon, id))
					ids = append(ids, id)
				}
				if !send("/v1/batch", items, ids) {
					continue
				}
				idn := u.id + "-identify"
				if !send("/v1/identify", []string{fmt.Sprintf(`{"userId":%q,"anonymousId":%q,"messageId":%q,"traits":{"plan":"gold"}}`, u.id, u.anon, idn)}, []string{idn}) {
					continue
				}
				u.identified = true
				items, ids = nil, nil
				for j := 0; j < 10; j++ {
					id := fmt.Sprintf("%s-b%d", u.id, j)
					items = append(items, fmt.Sprintf(`{"type":"track","userId":%q,"event":"Bought","messageId":%q}`, u.id, id))
					ids = append(ids, id)
				}
				send("/v1/batch", items, ids)
			}
		}()
	}
	deadline := time.Now().Add(30 * time.Second)
	for ackedN.Load() < 4000 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	s.kill() // SIGKILL while the workers are still sending
	cancel()
	wg.Wait()
	if ackedN.Load() < 1000 {
		t.Fatalf("only %d events acknowledged before the kill\n%s", ackedN.Load(), s.output())
	}

	// Restart, re-send some acknowledged batches as a retrying client
	// would, and kill it again while it may still be replaying.
	s1 := startServer(t, data, addr, env...)
	for _, b := range batches[:min(50, len(batches))] {
		if st, err := postJSON(context.Background(), s1.url+"/v1/batch", b); err != nil || st != 200 {
			t.Fatalf("re-send: %d %v", st, err)
		}
	}
	s1.kill()

	s2 := startServer(t, data, addr, env...)
	for _, b := range batches[min(50, len(batches)):min(100, len(batches))] {
		if st, err := postJSON(context.Background(), s2.url+"/v1/batch", b); err != nil || st != 200 {
			t.Fatalf("re-send: %d %v", st, err)
		}
	}
	s2.waitIdle(t, 60*time.Second)

	checked := 0
	for _, u := range users {
		if len(u.acked) == 0 {
			continue
		}
		lookup := u.anon
		if u.identified {
			lookup = u.id
		}
		var profile map[string]any
		var events []map[string]any
		if u.identified {
			profile, events = s2.timeline(t, lookup)
		} else {
			profile, events = s2.timelineByAnon(t, lookup)
		}
		seen := map[string]int{}
		for _, e := range events {
			seen[e["messageId"].(string)]++
		}
		for id, n := range seen {
			if n != 1 {
				t.Fatalf("%s: messageId %s is on the timeline %d times", lookup, id, n)
			}
		}
		for _, id := range u.acked {
			if seen[id] != 1 {
				t.Fatalf("%s: acknowledged event %s is missing (timeline has %d events)", lookup, id, len(events))
			}
		}
		counts := profile["counts"].(map[string]any)
		total := 0.0
		for _, n := range counts {
			total += n.(float64)
		}
		if int(profile["events"].(float64)) != len(events) || int(total) != len(events) {
			t.Fatalf("%s: profile says %v events (counts %v), timeline has %d", lookup, profile["events"], counts, len(events))
		}
		if u.identified && profile["traits"].(map[string]any)["plan"] == nil {
			t.Fatalf("%s: identify trait missing: %v", lookup, profile)
		}
		checked++
	}
	t.Logf("%d events acknowledged before SIGKILL; %d profiles checked", ackedN.Load(), checked)
}

func (s *server) timelineByAnon(t *testing.T, anon string) (map[string]any, []map[string]any) {
	t.Helper()
	var p map[string]any
	if st := s.admin(t, "/v1/profiles?anonymousId="+anon, &p); st != 200 {
		t.Fatalf("profile of %s: %d %v", anon, st, p)
	}
	var page struct {
		Events []map[string]any `json:"events"`
	}
	s.admin(t, fmt.Sprintf("/v1/profiles/%s/events?limit=500", p["id"]), &page)
	return p, page.Events
}
