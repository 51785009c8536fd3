package outbox

import (
	"testing"
	"time"
)

// TestBreaker walks the circuit breaker through its states on a clock the
// test moves: closed until the third failure in a row, open for the
// cooldown, then one probe at a time; a failed probe opens it again, a
// successful one closes it.
func TestBreaker(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	b := &breaker{failures: 3, cooldown: 30 * time.Second}
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	step := func(what string, ok bool, want string, now time.Time) {
		t.Helper()
		if got, _ := b.allow(now); got != ok {
			t.Fatalf("%s: allow = %v, want %v", what, got, ok)
		}
		if got := b.state(now); got != want {
			t.Fatalf("%s: state %s, want %s", what, got, want)
		}
	}
	b.failure(at(0))
	b.failure(at(1 * time.Second))
	b.success() // a success resets the run
	b.failure(at(2 * time.Second))
	b.failure(at(3 * time.Second))
	step("two failures in a row", true, BreakerClosed, at(3*time.Second))
	b.failure(at(4 * time.Second))
	step("three failures in a row", false, BreakerOpen, at(5*time.Second))
	if _, wait := b.allow(at(10 * time.Second)); wait != 24*time.Second {
		t.Errorf("wait while open = %v, want 24s", wait)
	}
	if d := b.blocked(at(10 * time.Second)); d != 24*time.Second {
		t.Errorf("blocked = %v, want 24s", d)
	}
	step("the cooldown is over: one probe", true, BreakerHalfOpen, at(34*time.Second))
	step("a second caller while the probe is out", false, BreakerHalfOpen, at(34*time.Second))
	b.failure(at(35 * time.Second))
	step("the probe failed: open again", false, BreakerOpen, at(36*time.Second))
	step("cooldown again: a probe", true, BreakerHalfOpen, at(65*time.Second))
	b.success()
	step("the probe succeeded: closed", true, BreakerClosed, at(66*time.Second))
	if d := b.blocked(at(66 * time.Second)); d != 0 {
		t.Errorf("blocked when closed = %v", d)
	}
}

// TestBackoff: the delay doubles per attempt from Backoff up to
// MaxBackoff, half of it fixed and half random.
func TestBackoff(t *testing.T) {
	for _, c := range []struct {
		n      int
		jitter float64
		want   time.Duration
	}{
		{1, 0, 500 * time.Millisecond}, {1, 0.999999, 999999500 * time.Nanosecond},
		{2, 0, time.Second}, {4, 0.5, 6 * time.Second}, {20, 0, 30 * time.Minute}, {40, 1, time.Hour},
	} {
		d := &Dispatcher{opt: Options{Backoff: time.Second, MaxBackoff: time.Hour, Jitter: func() float64 { return c.jitter }}}
		if got := d.backoff(c.n); got != c.want {
			t.Errorf("backoff(%d) with jitter %v = %v, want %v", c.n, c.jitter, got, c.want)
		}
	}
}
