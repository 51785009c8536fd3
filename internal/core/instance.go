package core

import "time"

// Instance statuses.
const (
	InstanceActive = "active" // running or waiting on a timer, an event or a webhook reply
	InstanceDone   = "done"   // ended: see EndReason
)

// Instance is one customer's run through one version of a journey. The
// step machine (internal/machine) is the only code that changes it; stores
// keep it whole, with the fields they index (status, due, journey, step)
// also in columns.
type Instance struct {
	ID        string         `json:"id"` // <journey>:<profile>:<entry number>, unique
	ProfileID string         `json:"profileId"`
	JourneyID string         `json:"journeyId"`
	Version   int            `json:"version"`
	Status    string         `json:"status"`
	Step      string         `json:"step"`         // current step; "" once done
	Due       time.Time      `json:"due,omitzero"` // when its timer fires; zero if none
	Holdout   bool           `json:"holdout"`      // in the control group: measured, never messaged
	EnteredAt time.Time      `json:"enteredAt"`
	UpdatedAt time.Time      `json:"updatedAt"`
	GoalAt    time.Time      `json:"goalAt,omitzero"`  // when the goal was reached
	EndedAt   time.Time      `json:"endedAt,omitzero"` // when it ended
	EndReason string         `json:"endReason,omitempty"`
	Vars      map[string]any `json:"vars,omitempty"`    // the `journey` variables, JSON values
	Steps     int            `json:"steps"`             // steps run so far; numbers each visit for idempotency keys
	Trigger   int64          `json:"trigger,omitempty"` // Seq of the event that started it (a message's `event`)
	// Held is set while the instance waits at a send step that the
	// contact policy delayed: since when, and the rule.
	Held    *Held        `json:"held,omitempty"`
	History []StepRecord `json:"history"`
}

// Held is a send the contact policy delayed: it is decided again at the
// instance's Due, or (a suppression hold) as soon as another of the
// customer's instances ends.
type Held struct {
	Since    time.Time `json:"since"`             // when the step was reached
	Deadline time.Time `json:"deadline,omitzero"` // dropped if not sendable by then
	Rule     string    `json:"rule"`              // the rule that delayed it last
	Attempts int       `json:"attempts"`          // decisions made so far
}

// Waiting reports whether the instance is active and has a timer set.
func (in *Instance) Waiting() bool { return in.Status == InstanceActive && !in.Due.IsZero() }

// StepRecord is one line of an instance's history, and of a simulation
// trace: what happened, when, at which step, and why.
type StepRecord struct {
	At     time.Time `json:"at"`
	Step   string    `json:"step,omitempty"`
	Kind   string    `json:"kind"`             // see the Record* constants
	Detail string    `json:"detail,omitempty"` // e.g. the channel and template, or the condition that decided
	Next   string    `json:"next,omitempty"`   // the step it moved to
}

// Kinds of StepRecord.
const (
	RecordEntered    = "entered"     // the instance started
	RecordNotEntered = "not_entered" // a trigger matched but an entry rule refused it (trace only)
	RecordSend       = "send"        // a message was queued (outbox)
	RecordSuppress   = "suppressed"  // a send that was not queued, and why (holdout, contact policy)
	RecordDelay      = "delayed"     // the contact policy delayed a send until Detail
	RecordWait       = "wait"        // waiting until Detail
	RecordWaitFor    = "wait_for"    // waiting for an event, or a timeout
	RecordResumed    = "resumed"     // a wait ended (timer, event, timeout)
	RecordBranch     = "branch"      // a branch or split chose Next
	RecordUpdate     = "update"      // profile traits set
	RecordWebhook    = "webhook"     // a webhook was called, or replied
	RecordEnter      = "enter"       // enter_journey entered another journey
	RecordGoal       = "goal"        // the goal was reached
	RecordExit       = "exit"        // the instance ended (Detail says why)
	RecordError      = "error"       // a condition or value failed to evaluate
)

// Journey states.
const (
	JourneyActive   = "active"   // new customers enter
	JourneyPaused   = "paused"   // no new entries; running instances go on
	JourneyArchived = "archived" // like paused, and it cannot be resumed
)

// JourneyVersion is one applied version of a journey definition.
type JourneyVersion struct {
	ID        string    `json:"id"`
	Version   int       `json:"version"`
	Source    string    `json:"source"` // the file as applied (YAML or JSON)
	Hash      string    `json:"hash"`   // SHA-256 of Source, hex
	CreatedAt time.Time `json:"createdAt"`
}

// JourneyRecord is a journey: its state and all its versions.
type JourneyRecord struct {
	ID        string            `json:"id"`
	State     string            `json:"state"`
	UpdatedAt time.Time         `json:"updatedAt"`
	Versions  []*JourneyVersion `json:"versions"` // oldest first
}

// StepCount is how many active instances of a journey version are at a
// step now.
type StepCount struct {
	JourneyID string `json:"journeyId"`
	Version   int    `json:"version"`
	Step      string `json:"step"`
	Count     int64  `json:"count"`
}

// TimerRef is a waiting instance's timer, as the timer loader reads it.
type TimerRef struct {
	InstanceID string
	ProfileID  string
	Due        time.Time
}
