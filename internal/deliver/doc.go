// Package deliver is the delivery layer's contract: the Message a send
// step hands over, the Connector that carries it to a provider, the Error
// that says whether another attempt may succeed, and the YAML Config that
// names the connectors and where their secrets are. It makes no network
// calls: each provider has its own subpackage (smtp, twilio, fcm, webhook,
// logsend), package connectors opens them all from a Config, and
// delivertest holds the checks every Connector must pass.
//
// # The delivery contract
//
// Delivery is at-least-once in attempts and once in effect where the
// provider honours the idempotency key.
//
//   - Message.Key is derived from (instance, step, version) and is the same
//     on every attempt at one message, before and after a crash.
//   - A Connector makes exactly one attempt per Send and never retries by
//     itself: the dispatcher owns retries, backoff, rate limits, circuit
//     breaking and dead letters. Send returns a nil error only when the
//     provider accepted the message.
//   - A failed Send returns a *Error: Retryable says whether another
//     attempt may succeed, RetryAfter how long the provider asked to wait.
//     An error that is not a *Error is treated as retryable (see Classify).
//   - Because the dispatcher records a message as sent only after Send
//     returns, a crash or a lost answer between the provider accepting it
//     and that bookkeeping makes the dispatcher send it again. Each
//     connector passes Key to the provider so that a provider that honours
//     it lets the repeat have no effect: the I-Twilio-Idempotency-Token
//     header for Twilio-compatible APIs; webhooks' webhook-id and
//     Idempotency-Key headers, which receivers are asked to deduplicate
//     on; for email, a Message-ID derived from Key (and X-Overture-Key), on
//     which some mail systems and clients collapse duplicates; for push, an
//     overture_key data field the app can deduplicate on (FCM itself has no
//     idempotency key). Where the provider does not deduplicate, a repeat
//     can reach the customer twice: that is the at-least-once part.
package deliver
