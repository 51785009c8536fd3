package engine_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/overture-cjo/overture/internal/core"
	"github.com/overture-cjo/overture/internal/engine"
	"github.com/overture-cjo/overture/internal/journey"
	"github.com/overture-cjo/overture/internal/machine"
	"github.com/overture-cjo/overture/internal/sqlite"
)

// shiftedClock is the real clock moved by an offset, so timers written
// before the benchmark starts fall due while it runs.
type shiftedClock struct{ offset atomic.Int64 }

func (c *shiftedClock) Now() time.Time {
	return time.Now().UTC().Add(time.Duration(c.offset.Load()))
}

// BenchmarkWaitingTimers writes OVERTURE_BENCH_TIMERS (default 1,000,000)
// instances waiting on timers into a SQLite store, the first
// OVERTURE_BENCH_FIRE of them (default all) due at OVERTURE_BENCH_TIMER_RATE
// (default 20,000) per second and the rest 100 days later, starts the
// engine on the real clock, and reports the process' RSS while they wait
// and fire, the timers fired per second, and how late they fired. Each
// timer runs a send step (an outbox entry) and ends its instance. Run it
// with
//
//	go test -run XXX -bench WaitingTimers -benchtime 1x ./internal/engine
func BenchmarkWaitingTimers(b *testing.B) {
	n := envInt("OVERTURE_BENCH_TIMERS", 1_000_000)
	rate := envInt("OVERTURE_BENCH_TIMER_RATE", 20_000)
	fire := min(envInt("OVERTURE_BENCH_FIRE", n), n)
	src := `
id: t
name: Timer benchmark
category: service
entry: {trigger: {event: Never}}
start: wait
steps:
  wait: {type: wait, duration: 1h, next: send}
  send: {type: send, channel: email, template: reminder, next: done}
  done: {type: exit}
`
	d, err := journey.Parse("t.yaml", []byte(src))
	if err != nil {
		b.Fatal(err)
	}
	cat, _ := machine.FromDefinitions([]*journey.Definition{d})
	ctx := context.Background()
	dir := b.TempDir()
	st, err := sqlite.Open(ctx, dir)
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()

	// Dues are laid out from base, one every 1/rate s.
	base := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	step := time.Second / time.Duration(rate)
	dueOf := func(j int) time.Time {
		if j < fire {
			return base.Add(time.Duration(j) * step)
		}
		return base.Add(100*24*time.Hour + time.Duration(j)*time.Millisecond)
	}
	t0 := time.Now()
	const chunk = 10_000
	for i := 0; i < n; i += chunk {
		var ins []*core.Instance
		for j := i; j < min(i+chunk, n); j++ {
			p := fmt.Sprintf("p%07d", j)
			ins = append(ins, &core.Instance{
				ID: "t:" + p + ":1", ProfileID: p, JourneyID: "t", Version: 1, Status: core.InstanceActive,
				Step: "wait", Due: dueOf(j), EnteredAt: base.Add(-time.Hour), UpdatedAt: base.Add(-time.Hour),
				Steps: 1, History: []core.StepRecord{{At: base.Add(-time.Hour), Kind: core.RecordEntered, Next: "wait"}},
			})
		}
		if _, err := st.ApplyBatch(ctx, &core.ApplyBatch{}, func([]*core.Event) (*core.PartitionCommit, error) {
			return &core.PartitionCommit{Instances: ins}, nil
		}); err != nil {
			b.Fatal(err)
		}
	}
	b.Logf("wrote %d waiting instances in %s; store %s", n, time.Since(t0).Round(time.Millisecond), dirSize(dir))

	clock := &shiftedClock{}
	start := time.Now().Add(3 * time.Second) // the first timer is due 3 s after the engine starts
	clock.offset.Store(int64(base.Sub(start)))
	eng := engine.New(st, engine.Options{Clock: clock, Logger: slog.New(slog.DiscardHandler)})
	eng.SetCatalog(cat)
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	b.ResetTimer()
	go func() { done <- eng.Run(rctx) }()
	rss := rssBytes()
	b.Logf("anonymous RSS with the engine started, %d instances waiting: %s (file pages mapped: %s)", n, mib(rss), mib(rssFile()))
	peak, peakFile := rss, rssFile()
	deadline := start.Add(time.Duration(fire)*step + 10*time.Minute)
	for eng.Stats().TimersFired < int64(fire) && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
		peak = max(peak, rssBytes())
		peakFile = max(peakFile, rssFile())
	}
	elapsed := time.Since(start)
	b.StopTimer()
	if path := os.Getenv("OVERTURE_BENCH_HEAPPROFILE"); path != "" {
		if f, err := os.Create(path); err == nil {
			_ = pprof.WriteHeapProfile(f)
			f.Close()
		}
	}
	cancel()
	<-done
	s := eng.Stats()
	if s.TimersFired < int64(fire) || s.Messages < int64(fire) {
		b.Fatalf("fired %d timers and queued %d messages, want %d", s.TimersFired, s.Messages, fire)
	}
	b.ReportMetric(float64(fire)/elapsed.Seconds(), "timers/s")
	b.ReportMetric(float64(s.Lateness.P50)/1e6, "p50-late-ms")
	b.ReportMetric(float64(s.Lateness.P99)/1e6, "p99-late-ms")
	b.ReportMetric(float64(s.Lateness.Max)/1e6, "max-late-ms")
	b.ReportMetric(float64(peak)/(1<<20), "peak-anon-RSS-MiB")
	b.Logf("%d of %d waiting timers due over %s fired by %s: lateness p50 <= %s, p99 <= %s, max %s; buckets %v; peak anonymous RSS %s, file pages %s",
		fire, n, time.Duration(fire)*step, elapsed.Round(time.Millisecond), s.Lateness.P50, s.Lateness.P99, s.Lateness.Max.Round(time.Millisecond), s.Lateness.Buckets, mib(peak), mib(peakFile))
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// rssBytes reads this process's anonymous resident memory (heap, stacks,
// SQLite's page cache): RssAnon. The store's file pages that SQLite maps
// (mmap_size) are RssFile, page cache the kernel can drop; rssFile reads it.
func rssBytes() int64 { return procStatus("RssAnon:") }

func rssFile() int64 { return procStatus("RssFile:") }

func procStatus(key string) int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, key) {
			f := strings.Fields(line)
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb << 10
		}
	}
	return 0
}

func mib(n int64) string { return fmt.Sprintf("%.0f MiB", float64(n)/(1<<20)) }

func dirSize(dir string) string {
	var total int64
	_ = filepath.Walk(dir, func(_ string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			total += fi.Size()
		}
		return nil
	})
	return mib(total)
}
