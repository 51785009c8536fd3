// Package outbox delivers the messages send steps queued. The partition
// that ran a send step committed its message in the same transaction as
// the step (the transactional outbox); from there the Dispatcher takes it
// to the connector that carries its channel.
//
// # A message's life
//
//	queued ──claim──▶ sending ──accepted──▶ sent
//	   ▲                 │ ──retryable failure──▶ retrying (NextAt) ──claim──▶ sending …
//	   │                 │ ──permanent failure, or attempts used up──▶ dead
//	   └──── re-drive ◀──┴──────────────────────────────────────────── dead
//
// Each connector has a lane: a claimer that takes due messages of the
// lane's channels from the store (ClaimOutbox, under a lease), and a pool
// of workers that render each message (a Preparer), wait for the lane's
// token bucket and circuit breaker, and make one attempt. Results are
// written back in batches (FinishOutbox) by one finisher. A slow or failing
// provider fills only its own lane: other channels, and the engine's
// partitions, which only ever append to the outbox, go on.
//
// # Retries
//
// A retryable failure (a *deliver.Error with Retryable set, or any other
// error) waits an exponential backoff with jitter, Base·2^(n-1) capped at
// Max, half of it random, and at least the provider's Retry-After; the
// lane's other workers also wait out a Retry-After. A permanent failure,
// or the lane's max_attempts used up, makes a dead letter with the reason;
// the store's RetryOutbox re-drives it. Consecutive retryable failures
// open the lane's circuit breaker: no attempt is made (messages are handed
// back unattempted) until its cooldown ends and a probe succeeds.
//
// # Exactly once in effect
//
// A message's Key is derived from its instance (which fixes the journey
// version) and the step's visit number, so it is the same on every attempt,
// before and after a crash. A message is recorded as sent only after the
// connector's Send returns; a crash in between leaves it claimed, and the
// restarted dispatcher hands its own claims back (ReleaseOutbox) and sends
// it again with the same key, which connectors pass to providers that
// honour one (see package deliver). So attempts are at least once, and
// delivery is once in effect where the provider honours the key.
package outbox
