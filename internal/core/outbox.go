package core

import "time"

// OutboxEntry is a message a send step queued, committed with the step,
// and what delivery has made of it since. Key is unique: a step's message
// is queued at most once per instance and visit.
type OutboxEntry struct {
	ID         int64     `json:"id"`
	Key        string    `json:"key"` // <instance>:<step number>; the idempotency key
	InstanceID string    `json:"instanceId"`
	ProfileID  string    `json:"profileId"`
	JourneyID  string    `json:"journeyId"`
	Version    int       `json:"version"`
	Step       string    `json:"step"`
	Channel    string    `json:"channel"`
	Template   string    `json:"template"`
	Offer      string    `json:"offer,omitempty"`
	Vars       string    `json:"vars,omitempty"`     // the instance variables as JSON, for the template
	EventSeq   int64     `json:"eventSeq,omitempty"` // the event that started the instance, for the template's `event`
	CreatedAt  time.Time `json:"createdAt"`

	Status     string     `json:"status"`              // one of the Outbox* states
	Attempts   int        `json:"attemptCount"`        // delivery attempts since it was queued or re-driven
	NextAt     time.Time  `json:"nextAt,omitzero"`     // retrying: not before then
	LastError  string     `json:"lastError,omitempty"` // why the last attempt failed, or why it is dead
	Connector  string     `json:"connector,omitempty"` // the connector of the last attempt
	ProviderID string     `json:"providerId,omitempty"`
	SentAt     *time.Time `json:"sentAt,omitempty"`
}

// Outbox message states.
const (
	OutboxQueued   = "queued"   // waiting for its first attempt
	OutboxSending  = "sending"  // claimed by a dispatcher
	OutboxRetrying = "retrying" // an attempt failed; another follows at NextAt
	OutboxSent     = "sent"     // the provider accepted it
	OutboxDead     = "dead"     // given up on (a dead letter); RetryOutbox re-drives it
)

// OutboxClaim asks for due messages on some channels.
type OutboxClaim struct {
	Channels []string
	Owner    string    // who claims them (a node name)
	Now      time.Time // due at or before this
	Until    time.Time // the claim lapses then
	Limit    int
}

// OutboxAttempt is one try at delivering a message.
type OutboxAttempt struct {
	N          int           `json:"n"` // 1 for the first attempt (again after a re-drive)
	At         time.Time     `json:"at"`
	Connector  string        `json:"connector"`
	Outcome    string        `json:"outcome"` // sent, retrying or dead: the state it left the message in
	Error      string        `json:"error,omitempty"`
	Code       string        `json:"code,omitempty"` // the provider's error code or HTTP status
	Duration   time.Duration `json:"durationNs"`
	ProviderID string        `json:"providerId,omitempty"`
}

// OutboxResult is the state a claimed message moves to. Attempt is nil
// when no attempt was made (the message is handed back, e.g. because its
// connector's circuit is open).
type OutboxResult struct {
	ID         int64
	Status     string // queued, retrying, sent or dead
	Attempts   int    // the message's attempt count now
	NextAt     time.Time
	Error      string
	Connector  string
	ProviderID string
	SentAt     time.Time // for sent
	Attempt    *OutboxAttempt
}

// OutboxFilter selects messages to list.
type OutboxFilter struct {
	ProfileID string // "" for all
	Status    string // "" for all
	AfterID   int64
	Limit     int
}
