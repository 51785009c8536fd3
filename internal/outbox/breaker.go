package outbox

import (
	"sync"
	"time"
)

// breaker is a circuit breaker on the dispatcher's clock: after failures
// retryable failures in a row it opens for cooldown; then one probe is let
// through, whose success closes it and whose failure opens it again.
type breaker struct {
	failures int
	cooldown time.Duration

	mu      sync.Mutex
	run     int       // retryable failures in a row
	openAt  time.Time // when it opened; zero while closed
	probing bool      // a probe is in flight (half-open)
}

// Breaker states, as Stats shows them.
const (
	BreakerClosed   = "closed"
	BreakerOpen     = "open"
	BreakerHalfOpen = "half-open"
)

// allow reports whether an attempt may be made at now, and if not, how
// long until the breaker lets a probe through.
func (b *breaker) allow(now time.Time) (bool, time.Duration) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.openAt.IsZero() {
		return true, 0
	}
	if wait := b.openAt.Add(b.cooldown).Sub(now); wait > 0 {
		return false, wait
	}
	if b.probing {
		return false, b.cooldown / 10
	}
	b.probing = true
	return true, 0
}

// blocked returns how long no attempt can be made at now (0: it can).
func (b *breaker) blocked(now time.Time) time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.openAt.IsZero() {
		return 0
	}
	if wait := b.openAt.Add(b.cooldown).Sub(now); wait > 0 {
		return wait
	}
	if b.probing {
		return b.cooldown / 10
	}
	return 0
}

// success records an attempt the provider answered (accepted, or refused
// for a reason of the message's own): it closes the breaker.
func (b *breaker) success() {
	b.mu.Lock()
	b.run, b.openAt, b.probing = 0, time.Time{}, false
	b.mu.Unlock()
}

// failure records a retryable failure at now.
func (b *breaker) failure(now time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.run++
	if b.probing || b.openAt.IsZero() && b.run >= b.failures {
		b.openAt, b.probing = now, false
	}
}

// state names the breaker's state at now.
func (b *breaker) state(now time.Time) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch {
	case b.openAt.IsZero():
		return BreakerClosed
	case b.probing || !now.Before(b.openAt.Add(b.cooldown)):
		return BreakerHalfOpen
	}
	return BreakerOpen
}
