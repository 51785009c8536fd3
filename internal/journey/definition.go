package journey

import (
	"time"

	"cel.dev/cel-go/cel"
)

// Known categories. Any [a-z_]+ is accepted; these are the ones the contact
// policy knows by name (a service journey mutes marketing, for example).
const (
	CategoryService       = "service"
	CategoryTransactional = "transactional"
	CategoryMarketing     = "marketing"
	CategoryFraud         = "fraud"
	CategoryOnboarding    = "onboarding"
	CategoryRetention     = "retention"
)

// Defaults for fields a file may leave out.
const (
	DefaultPriority       = 50
	DefaultMaxConcurrent  = 1
	DefaultWebhookTimeout = 10 * time.Second
	DefaultWebhookMethod  = "POST"
)

// What a journey's outranked sends do (Definition.WhenOutranked), and the
// channel and offer a send step may leave to decisioning.
const (
	OutrankedDelay = "delay"
	OutrankedDrop  = "drop"
	ChannelBest    = "best"
	OfferBest      = "best"
)

// Definition is one journey file, validated.
type Definition struct {
	File        string // the file it was loaded from
	ID          string
	Name        string
	Description string
	Category    string
	Priority    int // 0..100
	// WhenOutranked is what the contact policy does with this journey's
	// sends when a higher-priority journey reached the customer within its
	// priority window: OutrankedDelay (the default) or OutrankedDrop.
	WhenOutranked string
	Entry         Entry
	Holdout       int      // percent 0..100
	Variables     []Assign // captured into `journey` at entry, in file order
	Goal          *Goal    // nil if none
	Exit          []Exit   // criteria that end an instance at any step
	Start         string   // the first step
	Steps         map[string]*Step
	StepOrder     []string // step names in file order

	idPos  Pos
	enters []ref // enter_journey targets, checked across the directory
}

type ref struct {
	id   string
	pos  Pos
	path string
}

// Entry says when a customer enters.
type Entry struct {
	Trigger       Trigger
	Reentry       Reentry
	MaxConcurrent int // >= 1
}

// Trigger is the event that starts a journey, with an optional condition.
// A journey triggered by an audience starts on its audience_entered event
// (On "enter") or on the audience_refreshed event every member gets at
// each refresh (On "refresh"); Event is then that event's name.
type Trigger struct {
	Event     string
	Audience  string // "" unless triggered by an audience
	On        string // TriggerOnEnter or TriggerOnRefresh, with Audience
	Condition *Expr  // nil if none
	Pos       Pos    // where the trigger is written
}

// When an audience trigger starts a journey.
const (
	TriggerOnEnter   = "enter"
	TriggerOnRefresh = "refresh"
)

// Reentry modes.
const (
	ReentryNever  = "never"
	ReentryAlways = "always"
	ReentryAfter  = "after"
)

// Reentry is the re-entry rule: never, always, or after a duration since
// the last entry.
type Reentry struct {
	Mode  string // ReentryNever, ReentryAlways or ReentryAfter
	After time.Duration
}

// Goal is the conversion event of a journey.
type Goal struct {
	Event     string
	Condition *Expr         // nil if none
	Within    time.Duration // 0: no window
}

// Exit is an exit criterion: an event (with an optional condition), or a
// condition alone.
type Exit struct {
	Event     string
	Condition *Expr
}

// Step types.
const (
	StepSend          = "send"
	StepWait          = "wait"
	StepWaitFor       = "wait_for"
	StepBranch        = "branch"
	StepSplit         = "split"
	StepUpdateProfile = "update_profile"
	StepWebhook       = "webhook"
	StepEnterJourney  = "enter_journey"
	StepExit          = "exit"
)

// Step is one named step. Type decides which of the other fields are set.
type Step struct {
	Name string
	Type string
	Next string // every type but branch, split and exit

	// send
	Channel      string   // a channel, or ChannelBest
	Channels     []string // with ChannelBest: the candidates (nil: the offer's, else all)
	Template     string
	Offer        string        // an offer id, OfferBest, or ""
	ExpiresAfter time.Duration // dropped if not sendable within this long of reaching the step; 0: never
	Deadline     *Expr         // CEL timestamp after which the message is dropped; nil: none

	// wait: Duration, or Until
	Duration time.Duration
	Until    *TimeOfDay

	// wait_for (also Timeout)
	Event     string
	Condition *Expr
	OnEvent   string
	OnTimeout string

	// branch
	Cases   []Case
	Default string

	// split
	Branches []Branch

	// update_profile
	Set []Assign

	// webhook
	URL     string
	Method  string
	Body    *Expr
	Timeout time.Duration // wait_for and webhook
	Capture []Assign
	OnError string

	// enter_journey
	Journey string

	// exit
	Reason string
}

// TimeOfDay is a wait's "until": a time of day in the customer's timezone,
// on the given weekdays (any day if empty).
type TimeOfDay struct {
	Hour, Minute int
	Weekdays     []time.Weekday
}

// Case is one branch case.
type Case struct {
	When *Expr
	Next string
}

// Branch is one split branch.
type Branch struct {
	Weight int
	Next   string
}

// Assign is a name and the CEL expression that computes its value.
type Assign struct {
	Name string
	Expr *Expr
}

// Expr is a compiled, type-checked CEL expression.
type Expr struct {
	Source  string
	Pos     Pos
	Path    string
	program cel.Program
}

// Program returns the expression's program (cost-limited).
func (e *Expr) Program() cel.Program { return e.program }

// Targets returns the names of the steps s can go to, in a fixed order.
func (s *Step) Targets() []string {
	var t []string
	add := func(n string) {
		if n != "" {
			t = append(t, n)
		}
	}
	add(s.Next)
	for _, c := range s.Cases {
		add(c.Next)
	}
	add(s.Default)
	for _, b := range s.Branches {
		add(b.Next)
	}
	add(s.OnEvent)
	add(s.OnTimeout)
	add(s.OnError)
	return t
}
