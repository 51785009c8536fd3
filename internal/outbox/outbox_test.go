package outbox_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/overture-cjo/overture/internal/core"
	"github.com/overture-cjo/overture/internal/deliver"
	"github.com/overture-cjo/overture/internal/outbox"
	"github.com/overture-cjo/overture/internal/sqlite"
)

// fake is a connector whose answers a test scripts: answer is called with
// the message and the attempt number for its key (1, 2...).
type fake struct {
	name     string
	channels []string
	answer   func(m *deliver.Message, n int) error

	mu    sync.Mutex
	tries map[string]int
	sent  []string // keys accepted, in order
	at    map[string][]time.Time
}

func newFake(name string, channels []string, answer func(m *deliver.Message, n int) error) *fake {
	return &fake{name: name, channels: channels, answer: answer, tries: map[string]int{}, at: map[string][]time.Time{}}
}

func (f *fake) Name() string       { return f.name }
func (f *fake) Channels() []string { return f.channels }
func (f *fake) Send(ctx context.Context, m *deliver.Message) (deliver.Result, error) {
	f.mu.Lock()
	f.tries[m.Key]++
	n := f.tries[m.Key]
	f.at[m.Key] = append(f.at[m.Key], time.Now())
	f.mu.Unlock()
	var err error
	if f.answer != nil {
		err = f.answer(m, n)
	}
	if err != nil {
		return deliver.Result{}, err
	}
	f.mu.Lock()
	f.sent = append(f.sent, m.Key)
	f.mu.Unlock()
	return deliver.Result{ProviderID: "P-" + m.Key, Status: "accepted"}, nil
}

func (f *fake) sentKeys() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.sent...)
}

func (f *fake) attempts(key string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.tries[key]
}

// plain prepares every message as it is, addressed to "to".
type plain struct{}

func (plain) Prepare(ctx context.Context, es []*core.OutboxEntry) ([]outbox.Prepared, error) {
	out := make([]outbox.Prepared, len(es))
	for i, e := range es {
		out[i].Msg = &deliver.Message{Key: e.Key, Channel: e.Channel, To: "to", Body: e.Template}
	}
	return out, nil
}

type harness struct {
	t     *testing.T
	store core.Store
	d     *outbox.Dispatcher
	stop  func()
}

func openStore(t *testing.T) core.Store {
	st, err := sqlite.Open(t.Context(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// queue commits messages as a partition would: n per channel given.
func queue(t *testing.T, st core.Store, prefix string, channel string, n int) []string {
	t.Helper()
	var es []*core.OutboxEntry
	var keys []string
	for i := range n {
		k := fmt.Sprintf("%s:%d", prefix, i)
		keys = append(keys, k)
		es = append(es, &core.OutboxEntry{Key: k, InstanceID: prefix, ProfileID: "p", JourneyID: "j", Version: 1, Step: "s",
			Channel: channel, Template: "t", CreatedAt: time.Now().UTC(), Status: core.OutboxQueued})
	}
	if _, err := st.ApplyBatch(t.Context(), &core.ApplyBatch{}, func([]*core.Event) (*core.PartitionCommit, error) {
		return &core.PartitionCommit{Outbox: es}, nil
	}); err != nil {
		t.Fatal(err)
	}
	return keys
}

func start(t *testing.T, st core.Store, prep outbox.Preparer, routes []outbox.Route, opt outbox.Options) *harness {
	t.Helper()
	if opt.Poll == 0 {
		opt.Poll = 20 * time.Millisecond
	}
	if opt.Backoff == 0 {
		opt.Backoff = 10 * time.Millisecond
	}
	d, err := outbox.New(st, core.RealClock{}, slog.New(slog.DiscardHandler), prep, routes, opt)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { d.Run(ctx); close(done) }()
	d.Notify()
	h := &harness{t: t, store: st, d: d, stop: func() { cancel(); <-done }}
	t.Cleanup(h.stop)
	return h
}

// waitFor polls until cond holds or 10 s pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func messages(t *testing.T, st core.Store, status string) map[string]*core.OutboxEntry {
	t.Helper()
	es, err := st.ListOutbox(t.Context(), core.OutboxFilter{Status: status, Limit: -1})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*core.OutboxEntry{}
	for _, e := range es {
		out[e.Key] = e
	}
	return out
}

func route(c deliver.Connector, cfg deliver.ConnectorConfig) outbox.Route {
	cfg.Name = c.Name()
	return outbox.Route{Connector: c, Config: cfg}
}

// TestDelivers: every queued message is sent once, recorded as sent with
// its one attempt and the provider's id.
func TestDelivers(t *testing.T) {
	st := openStore(t)
	keys := queue(t, st, "a", "email", 700)
	f := newFake("mail", []string{"email"}, nil)
	start(t, st, plain{}, []outbox.Route{route(f, deliver.ConnectorConfig{Concurrency: 8})}, outbox.Options{})
	waitFor(t, "700 sent", func() bool { return len(messages(t, st, core.OutboxSent)) == 700 })
	sent := f.sentKeys()
	seen := map[string]int{}
	for _, k := range sent {
		seen[k]++
	}
	for _, k := range keys {
		if seen[k] != 1 {
			t.Fatalf("%s sent %d times", k, seen[k])
		}
	}
	m := messages(t, st, core.OutboxSent)["a:0"]
	if m.Attempts != 1 || m.ProviderID != "P-a:0" || m.Connector != "mail" || m.SentAt == nil {
		t.Errorf("sent message: %+v", m)
	}
	att, err := st.OutboxAttempts(t.Context(), []int64{m.ID})
	if err != nil || len(att[m.ID]) != 1 || att[m.ID][0].Outcome != core.OutboxSent {
		t.Errorf("attempts %+v %v", att, err)
	}
}

// TestRetries: retryable failures are retried with growing delays and
// at least the provider's Retry-After; the third attempt succeeds.
func TestRetries(t *testing.T) {
	st := openStore(t)
	queue(t, st, "r", "sms", 1)
	f := newFake("sms", []string{"sms"}, func(m *deliver.Message, n int) error {
		switch n {
		case 1:
			return &deliver.Error{Connector: "sms", Retryable: true, Status: 503, Reason: "down"}
		case 2:
			return &deliver.Error{Connector: "sms", Retryable: true, Status: 429, RetryAfter: 300 * time.Millisecond, Reason: "slow down"}
		}
		return nil
	})
	start(t, st, plain{}, []outbox.Route{route(f, deliver.ConnectorConfig{})}, outbox.Options{})
	waitFor(t, "sent", func() bool { return len(messages(t, st, core.OutboxSent)) == 1 })
	f.mu.Lock()
	at := f.at["r:0"]
	f.mu.Unlock()
	if len(at) != 3 {
		t.Fatalf("%d attempts, want 3", len(at))
	}
	if gap := at[2].Sub(at[1]); gap < 300*time.Millisecond {
		t.Errorf("third attempt %v after the second, before the Retry-After of 300ms", gap)
	}
	if gap := at[1].Sub(at[0]); gap < 5*time.Millisecond {
		t.Errorf("second attempt %v after the first: no backoff", gap)
	}
	m := messages(t, st, core.OutboxSent)["r:0"]
	att, _ := st.OutboxAttempts(t.Context(), []int64{m.ID})
	var outcomes, codes []string
	for _, a := range att[m.ID] {
		outcomes, codes = append(outcomes, a.Outcome), append(codes, a.Code)
	}
	if fmt.Sprint(outcomes) != "[retrying retrying sent]" || fmt.Sprint(codes) != "[503 429 ]" {
		t.Errorf("attempts: outcomes %v, codes %v", outcomes, codes)
	}
}

// TestDeadLetters: a permanent failure is a dead letter at once; a
// retryable one after max_attempts; both say why; a re-driven one is sent.
func TestDeadLetters(t *testing.T) {
	st := openStore(t)
	queue(t, st, "bad", "email", 1)
	queue(t, st, "flaky", "sms", 1)
	var healed sync.Once
	ok := make(chan struct{})
	mail := newFake("mail", []string{"email"}, func(m *deliver.Message, n int) error {
		select {
		case <-ok:
			return nil
		default:
		}
		return deliver.Permanent("mail", "550 no such user")
	})
	sms := newFake("sms", []string{"sms"}, func(m *deliver.Message, n int) error {
		return errors.New("connection reset") // unclassified: retryable
	})
	h := start(t, st, plain{}, []outbox.Route{route(mail, deliver.ConnectorConfig{}), route(sms, deliver.ConnectorConfig{MaxAttempts: 3, Breaker: deliver.BreakerConfig{Failures: 100}})}, outbox.Options{})
	waitFor(t, "two dead letters", func() bool { return len(messages(t, st, core.OutboxDead)) == 2 })
	dead := messages(t, st, core.OutboxDead)
	if d := dead["bad:0"]; d.Attempts != 1 || d.LastError != "mail: 550 no such user" {
		t.Errorf("permanent failure: attempts %d, error %q", d.Attempts, d.LastError)
	}
	if d := dead["flaky:0"]; d.Attempts != 3 || d.LastError != "gave up after 3 attempts: sms: connection reset" || sms.attempts("flaky:0") != 3 {
		t.Errorf("retryable failure: attempts %d (%d made), error %q", d.Attempts, sms.attempts("flaky:0"), d.LastError)
	}
	healed.Do(func() { close(ok) })
	if _, err := st.RetryOutbox(t.Context(), dead["bad:0"].ID, time.Now()); err != nil {
		t.Fatal(err)
	}
	h.d.Notify()
	waitFor(t, "the re-driven message sent", func() bool { return messages(t, st, core.OutboxSent)["bad:0"] != nil })
	if got := mail.attempts("bad:0"); got != 2 {
		t.Errorf("%d attempts at the re-driven message, want 2", got)
	}
}

// TestIsolation: a provider that hangs and one that fails do not hold up
// another connector's channel; the failing one's breaker opens, so it is
// not hammered.
func TestIsolation(t *testing.T) {
	st := openStore(t)
	queue(t, st, "slow", "sms", 50)
	queue(t, st, "down", "push", 50)
	queue(t, st, "fine", "email", 200)
	release := make(chan struct{})
	slow := newFake("slow", []string{"sms"}, func(m *deliver.Message, n int) error { <-release; return nil })
	down := newFake("down", []string{"push"}, func(m *deliver.Message, n int) error {
		return &deliver.Error{Connector: "down", Retryable: true, Status: 502, Reason: "bad gateway"}
	})
	fine := newFake("fine", []string{"email"}, nil)
	startAt := time.Now()
	start(t, st, plain{}, []outbox.Route{
		route(slow, deliver.ConnectorConfig{Concurrency: 2}),
		route(down, deliver.ConnectorConfig{Concurrency: 4, Breaker: deliver.BreakerConfig{Failures: 3, Cooldown: time.Hour}}),
		route(fine, deliver.ConnectorConfig{}),
	}, outbox.Options{})
	waitFor(t, "the healthy channel's 200 messages", func() bool { return len(fine.sentKeys()) == 200 })
	if took := time.Since(startAt); took > 5*time.Second {
		t.Errorf("the healthy channel took %v", took)
	}
	time.Sleep(100 * time.Millisecond)
	total := 0
	for i := range 50 {
		total += down.attempts(fmt.Sprintf("down:%d", i))
	}
	if total > 3+4 { // the failures that open the breaker, and those already in flight
		t.Errorf("%d attempts at a provider whose breaker opened after 3 failures", total)
	}
	close(release)
}

// TestRateLimit: a connector's token bucket spaces its attempts.
func TestRateLimit(t *testing.T) {
	st := openStore(t)
	queue(t, st, "rl", "sms", 21)
	f := newFake("sms", []string{"sms"}, nil)
	begin := time.Now()
	start(t, st, plain{}, []outbox.Route{route(f, deliver.ConnectorConfig{Rate: 50, Burst: 1, Concurrency: 8})}, outbox.Options{})
	waitFor(t, "21 sent", func() bool { return len(f.sentKeys()) == 21 })
	if took := time.Since(begin); took < 380*time.Millisecond {
		t.Errorf("21 messages at 50/s with a burst of 1 took %v, want at least 400ms", took)
	}
}

// TestUnrouted: a message on a channel no connector carries is a dead
// letter that says so.
func TestUnrouted(t *testing.T) {
	st := openStore(t)
	queue(t, st, "v", "voice", 1)
	start(t, st, plain{}, []outbox.Route{route(newFake("mail", []string{"email"}, nil), deliver.ConnectorConfig{})}, outbox.Options{})
	waitFor(t, "a dead letter", func() bool { return len(messages(t, st, core.OutboxDead)) == 1 })
	if got := messages(t, st, core.OutboxDead)["v:0"].LastError; got != `no connector carries channel "voice" (configure one, then re-drive the message)` {
		t.Errorf("reason %q", got)
	}
}

// TestTwoCarriers: two connectors may not carry the same channel.
func TestTwoCarriers(t *testing.T) {
	_, err := outbox.New(openStore(t), core.RealClock{}, slog.New(slog.DiscardHandler), plain{}, []outbox.Route{
		route(newFake("a", []string{"email", "sms"}, nil), deliver.ConnectorConfig{}),
		route(newFake("b", []string{"sms"}, nil), deliver.ConnectorConfig{}),
	}, outbox.Options{})
	if err == nil || err.Error() != `delivery config: channel "sms" is carried by connectors "a" and "b": list channels on one of them without it` {
		t.Errorf("error %v", err)
	}
}

// TestHandsBackClaimsAfterACrash: messages a dispatcher claimed and never
// finished (it died) are sent by the next one under the same owner name,
// with the same keys.
func TestHandsBackClaimsAfterACrash(t *testing.T) {
	st := openStore(t)
	keys := queue(t, st, "c", "email", 3)
	now := time.Now().UTC()
	claimed, err := st.ClaimOutbox(t.Context(), core.OutboxClaim{Channels: []string{"email"}, Owner: "node-1", Now: now, Until: now.Add(time.Hour), Limit: 10})
	if err != nil || len(claimed) != 3 {
		t.Fatalf("claim: %v %v", claimed, err)
	}
	f := newFake("mail", []string{"email"}, nil)
	start(t, st, plain{}, []outbox.Route{route(f, deliver.ConnectorConfig{})}, outbox.Options{Owner: "node-1"})
	waitFor(t, "3 sent", func() bool { return len(f.sentKeys()) == 3 })
	got := f.sentKeys()
	slices.Sort(got)
	if fmt.Sprint(got) != fmt.Sprint(keys) {
		t.Errorf("sent %v, want %v once each", got, keys)
	}
}

// TestGracefulStop: stopping waits for the attempt in flight and records
// it; nothing is left claimed.
func TestGracefulStop(t *testing.T) {
	st := openStore(t)
	queue(t, st, "g", "email", 1)
	entered := make(chan struct{})
	f := newFake("mail", []string{"email"}, func(m *deliver.Message, n int) error {
		close(entered)
		time.Sleep(100 * time.Millisecond)
		return nil
	})
	h := start(t, st, plain{}, []outbox.Route{route(f, deliver.ConnectorConfig{})}, outbox.Options{})
	<-entered
	h.stop()
	if m := messages(t, st, core.OutboxSent)["g:0"]; m == nil {
		t.Fatalf("the attempt in flight at stop was not recorded: %+v", messages(t, st, ""))
	}
}
