package core

import (
	"context"
	"time"
)

// Store is Overture's durable state: the event log, the identity index,
// profiles, write keys and the quarantine. Implementations: internal/sqlite
// and internal/postgres; both pass internal/storetest.
type Store interface {
	// Append writes events to the durable log and sets each one's Seq
	// (increasing). It returns only once the events are on disk.
	Append(ctx context.Context, events []*Event) error
	// ReadLog returns up to limit logged events with Seq > afterSeq, in Seq
	// order.
	ReadLog(ctx context.Context, afterSeq int64, limit int) ([]*Event, error)
	// Checkpoint returns the saved replay point: every logged event with
	// Seq <= it has been applied. 0 if none was saved.
	Checkpoint(ctx context.Context) (int64, error)
	// SaveCheckpoint records a new replay point and lets the log drop
	// what lies at or below it.
	SaveCheckpoint(ctx context.Context, seq int64) error
	// Quarantine stores items rejected from an otherwise valid batch,
	// durably, and sets their IDs.
	Quarantine(ctx context.Context, items []*QuarantineItem) error
	// ListQuarantine lists rejected items with ID > afterID, oldest first.
	ListQuarantine(ctx context.Context, afterID int64, limit int) ([]*QuarantineItem, error)

	// LookupIdentities returns the profile each bound key points at.
	LookupIdentities(ctx context.Context, keys []string) (map[string]string, error)
	// IdentitiesOf returns all identifiers of each profile.
	IdentitiesOf(ctx context.Context, profileIDs []string) (map[string][]Identifier, error)
	// CommitIdentities applies identity changes in order, atomically.
	CommitIdentities(ctx context.Context, ops []IdentityOp) error
	// PendingMerges lists merges recorded by CommitIdentities whose
	// profiles have not been combined yet, oldest first.
	PendingMerges(ctx context.Context) ([]Merge, error)

	// LoadProfiles returns the stored profiles among ids (absent ones are
	// missing from the map), tombstones included.
	LoadProfiles(ctx context.Context, ids []string) (map[string]*Profile, error)
	// ApplyBatch is a partition worker's transaction. It drops the events
	// whose (SourceID, MessageID) was already applied at or after
	// b.DedupeSince (duplicates, and events replayed after a crash), adds
	// the others to their profile's timeline, calls fn with them (in
	// order), and writes what fn returns, all atomically. It returns the
	// number of duplicates dropped.
	ApplyBatch(ctx context.Context, b *ApplyBatch, fn func(fresh []*Event) (*PartitionCommit, error)) (int, error)
	// Seen returns which of keys were applied at or after since (the
	// dedupe entries ApplyBatch writes). The router uses it so that a
	// duplicate does not touch the identity index either.
	Seen(ctx context.Context, keys []MessageKey, since time.Time) (map[MessageKey]bool, error)
	// PruneDedupe forgets message ids first applied before t.
	PruneDedupe(ctx context.Context, before time.Time) (int64, error)

	// GetProfile returns a profile, following merge tombstones to the
	// survivor; ENOTFOUND if there is none.
	GetProfile(ctx context.Context, id string) (*Profile, error)
	// ListEvents returns a profile's timeline events with Seq < beforeSeq
	// (0: from the newest), newest first.
	ListEvents(ctx context.Context, profileID string, beforeSeq int64, limit int) ([]*Event, error)
	// EraseProfile deletes a profile, the profiles merged into it, their
	// identifiers, timeline events, journey instances and outbox entries.
	EraseProfile(ctx context.Context, id string) (Erasure, error)

	// CreateKey stores a new write key.
	CreateKey(ctx context.Context, k *WriteKey) error
	// ListKeys lists write keys, revoked ones included.
	ListKeys(ctx context.Context) ([]*WriteKey, error)
	// RevokeKey revokes a key by id; ENOTFOUND if there is none.
	RevokeKey(ctx context.Context, id string, at time.Time) error
	// KeyByHash finds a key by the SHA-256 of its secret; ENOTFOUND if none.
	KeyByHash(ctx context.Context, hash string) (*WriteKey, error)

	// SaveJourney stores a journey version: if source's hash equals the
	// newest version's, nothing changes and it returns that version with
	// created false; otherwise it adds version newest+1 (1 for a new
	// journey, whose state starts active).
	SaveJourney(ctx context.Context, id, source string, now time.Time) (v *JourneyVersion, created bool, err error)
	// Journeys returns every journey with all its versions, by id.
	Journeys(ctx context.Context) ([]*JourneyRecord, error)
	// SetJourneyState sets a journey's state; ENOTFOUND if there is none.
	SetJourneyState(ctx context.Context, id, state string, now time.Time) error

	// LoadInstances returns the active instances of each profile among
	// ids, oldest first (profiles with none are missing from the map).
	LoadInstances(ctx context.Context, profileIDs []string) (map[string][]*Instance, error)
	// InstancesOf returns a profile's instances, active and done, newest
	// first, at most limit.
	InstancesOf(ctx context.Context, profileID string, limit int) ([]*Instance, error)
	// DueTimers returns the timers of active instances due in (after,
	// through], earliest first, at most limit.
	DueTimers(ctx context.Context, after, through time.Time, limit int) ([]TimerRef, error)
	// WaitingCounts counts active instances by journey, version and step.
	WaitingCounts(ctx context.Context) ([]StepCount, error)
	// ClaimOutbox claims up to c.Limit messages due by c.Now on c.Channels
	// for c.Owner until c.Until, oldest due first, and returns them with
	// status OutboxSending. Due means queued, or retrying with NextAt at or
	// before Now, or sending under a claim that expired.
	ClaimOutbox(ctx context.Context, c OutboxClaim) ([]*OutboxEntry, error)
	// FinishOutbox records what became of claimed messages: each result's
	// attempt (if any) is logged, and the message takes the result's state.
	FinishOutbox(ctx context.Context, results []OutboxResult) error
	// ReleaseOutbox returns owner's claimed messages to the queue, as a
	// restarted dispatcher does for what it held when it stopped.
	ReleaseOutbox(ctx context.Context, owner string, now time.Time) (int, error)
	// RetryOutbox queues a dead message again, due now, with its attempt
	// count reset; a message that is not dead is an ECONFLICT error, an
	// unknown id ENOTFOUND.
	RetryOutbox(ctx context.Context, id int64, now time.Time) (*OutboxEntry, error)
	// ListOutbox lists messages matching f, oldest first.
	ListOutbox(ctx context.Context, f OutboxFilter) ([]*OutboxEntry, error)
	// OutboxAttempts returns the attempts of each message among ids, in
	// order (messages with none are missing from the map).
	OutboxAttempts(ctx context.Context, ids []int64) (map[int64][]OutboxAttempt, error)
	// EventsBySeq returns the stored events among seqs (erased or unknown
	// ones are missing from the map).
	EventsBySeq(ctx context.Context, seqs []int64) (map[int64]*Event, error)
	// ListDecisions returns a profile's arbitration decisions with ID <
	// beforeID (0: from the newest), newest first.
	ListDecisions(ctx context.Context, profileID string, beforeID int64, limit int) ([]*Decision, error)
	// ModelStats returns every learned model counter.
	ModelStats(ctx context.Context) ([]ModelStat, error)

	// ProfileEvents returns, for each profile among ids, its timeline
	// events stamped at or after since, in Seq order (profiles with none
	// are missing from the map). Backfills of computed traits read it.
	ProfileEvents(ctx context.Context, ids []string, since time.Time) (map[string][]*Event, error)
	// ScanProfiles returns up to limit live profiles (not merge
	// tombstones) with ID > afterID, in ID order.
	ScanProfiles(ctx context.Context, afterID string, limit int) ([]*Profile, error)
	// CountProfiles counts live profiles.
	CountProfiles(ctx context.Context) (int64, error)

	// SaveDefinition stores a version of a definition of kind (KindTrait,
	// KindAudience) as SaveJourney does for journeys: unchanged source
	// returns the newest version with created false. Saving one that was
	// deleted makes it active again.
	SaveDefinition(ctx context.Context, kind, id, source string, now time.Time) (v *DefinitionVersion, created bool, err error)
	// Definitions returns the newest version of every definition of kind,
	// deleted ones included, by id.
	Definitions(ctx context.Context, kind string) ([]*DefinitionVersion, error)
	// DeleteDefinition marks a definition deleted; ENOTFOUND if there is
	// none.
	DeleteDefinition(ctx context.Context, kind, id string, now time.Time) error

	// AudienceMembers lists an audience's members with profile ID >
	// afterID, in ID order.
	AudienceMembers(ctx context.Context, audience, afterID string, limit int) ([]Member, error)
	// AudienceSizes counts the members of every audience with any.
	AudienceSizes(ctx context.Context) (map[string]int64, error)
	// SaveRefresh records a finished refresh and sets its ID.
	SaveRefresh(ctx context.Context, r *Refresh) error
	// Refreshes lists an audience's refreshes, newest first.
	Refreshes(ctx context.Context, audience string, limit int) ([]*Refresh, error)
	// PendingEmits returns committed events the engine has still to
	// append to the log (PartitionCommit.Emits) with ID > afterID, oldest
	// first.
	PendingEmits(ctx context.Context, afterID int64, limit int) ([]*Emit, error)
	// DeleteEmits forgets emits once their events are in the log.
	DeleteEmits(ctx context.Context, ids []int64) error

	// JourneyStats returns a journey's analytics counters (the sums of
	// PartitionCommit.JourneyStats) as q selects, in key order.
	JourneyStats(ctx context.Context, q JourneyStatsQuery) ([]JourneyStat, error)
	// SampleInstances returns up to q.Limit of the instances q selects,
	// sorted by ID, and how many it selects in all. When there are more,
	// the sample is the instances first in the order of a hash of each
	// instance: unrelated to entry time, profile or outcome, and the same
	// on every call while the instances stay.
	SampleInstances(ctx context.Context, q InstanceSample) ([]SampledInstance, int64, error)
	// WindowEvents returns, for each window (one per profile), the
	// labels and times of the profile's timeline events in it, in Seq
	// order (profiles with none are missing from the map).
	WindowEvents(ctx context.Context, windows []EventWindow) (map[string][]TimelineEvent, error)

	// Close releases the store.
	Close() error
}

// MessageKey identifies a message for dedupe: its source and messageId.
type MessageKey struct {
	SourceID  string
	MessageID string
}

// ApplyBatch is the input of Store.ApplyBatch: logged events whose
// ProfileID the router has set, in Seq order.
type ApplyBatch struct {
	Events      []*Event
	DedupeSince time.Time
}

// IdentityOp is one change to the identity index: a binding, or a merge
// that repoints every identifier of From to Into and records the merge as
// pending until the partition worker combines the profiles.
type IdentityOp struct {
	Bind      *Identifier
	ProfileID string // Bind's profile
	Merge     *Merge
}

// Merge says profile From was merged into profile Into.
type Merge struct {
	From string `json:"from"`
	Into string `json:"into"`
}

// PartitionCommit is what a partition worker writes with its batch:
// profiles to upsert and merges it completed: From's timeline moves to Into,
// tombstones forwarding to From now forward to Into, and the pending merge
// of From (whatever Into it was first recorded with) is cleared.
//
// Instances are upserted by ID (a merge also moves From's instances to
// Into); outbox entries are inserted unless their Key exists.
//
// Members changes audience membership rows: Member true upserts
// (audience, profile) with its Since, false deletes it. Emits are stored
// for the engine to append to the event log after the commit (audience
// events); a merge deletes From's membership rows.
type PartitionCommit struct {
	Profiles  []*Profile
	Merges    []Merge
	Instances []*Instance
	Outbox    []*OutboxEntry
	Members   []MemberChange
	Emits     []*Event
	Decisions []*Decision // arbitration outcomes; a key already stored is skipped
	Stats     []ModelStat // deltas added to the learned model counters
	// JourneyStats are deltas added to the journey analytics counters.
	JourneyStats []JourneyStat
}

// ModelStat is one learned counter: trials and successes of Key (an offer,
// a channel) in Bucket (a context bucket, or "") of Model (ModelOffer,
// ModelChannel). In a PartitionCommit it is a delta.
type ModelStat struct {
	Model     string `json:"model"`
	Key       string `json:"key"`
	Bucket    string `json:"bucket"`
	Trials    int64  `json:"trials"`
	Successes int64  `json:"successes"`
}

// Models whose counters the store keeps.
const (
	ModelOffer   = "offer"   // impressions and conversions per offer and context bucket
	ModelChannel = "channel" // deliveries and engagements per channel (bucket "")
)

// MemberChange is one profile entering (Member) or leaving an audience.
type MemberChange struct {
	Audience  string
	ProfileID string
	Member    bool
	Since     time.Time
}

// Member is one row of an audience's membership.
type Member struct {
	ProfileID string    `json:"profileId"`
	Since     time.Time `json:"since"`
}

// Definition kinds kept by SaveDefinition (journeys have their own
// tables).
const (
	KindTrait       = "trait"
	KindAudience    = "audience"
	KindPolicy      = "policy"      // the contact policy (one, id PolicyID)
	KindOffer       = "offer"       // next-best-action offers
	KindInteraction = "interaction" // touchpoint interaction policies
	KindTemplate    = "template"    // message templates
)

// PolicyID is the id the contact policy is stored under.
const PolicyID = "default"

// DefinitionVersion is one stored version of a trait or audience
// definition.
type DefinitionVersion struct {
	Kind      string    `json:"kind"`
	ID        string    `json:"id"`
	Version   int       `json:"version"`
	Source    string    `json:"source"`
	Hash      string    `json:"hash"` // SHA-256 of Source, hex
	CreatedAt time.Time `json:"createdAt"`
	Deleted   bool      `json:"deleted"`
}

// Refresh is one finished refresh of an audience.
type Refresh struct {
	ID         int64     `json:"id"`
	Audience   string    `json:"audience"`
	Version    int       `json:"version"`
	Trigger    string    `json:"trigger"` // "schedule", "api" or "start"
	StartedAt  time.Time `json:"startedAt"`
	FinishedAt time.Time `json:"finishedAt"`
	Scanned    int64     `json:"scanned"` // profiles evaluated
	Size       int64     `json:"size"`    // members after the refresh
	Entered    int64     `json:"entered"`
	Exited     int64     `json:"exited"`
}

// Emit is an event committed by a partition, waiting to be appended to
// the event log.
type Emit struct {
	ID    int64
	Event *Event
}

// Erasure is what EraseProfile deleted.
type Erasure struct {
	Profiles    []string `json:"profiles"`
	Identifiers int64    `json:"identifiers"`
	Events      int64    `json:"events"`
}

// WriteKey is an ingestion key: a source of events.
type WriteKey struct {
	ID        string     `json:"id"`
	Name      string     `json:"name"`
	Hash      string     `json:"-"`      // SHA-256 of the secret, hex
	Prefix    string     `json:"prefix"` // the secret's first characters, to recognise it
	CreatedAt time.Time  `json:"createdAt"`
	RevokedAt *time.Time `json:"revokedAt,omitempty"`
}

// QuarantineItem is an item rejected from an otherwise valid batch.
type QuarantineItem struct {
	ID         int64     `json:"id"`
	SourceID   string    `json:"sourceId"`
	ReceivedAt time.Time `json:"receivedAt"`
	Index      int       `json:"index"`
	Code       string    `json:"code"`
	Field      string    `json:"field"`
	Message    string    `json:"message"`
	Payload    string    `json:"payload"`
}
