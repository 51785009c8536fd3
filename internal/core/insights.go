package core

import "time"

// InstanceSample selects the journey instances that path and driver
// analysis read (Store.SampleInstances).
type InstanceSample struct {
	Journey string
	Version int // 0: every version
	// From and To bound the entry time: From <= EnteredAt < To; a zero
	// time leaves that side open.
	From, To time.Time
	// Limit is the most instances returned; 0 or less: all of them.
	Limit int
}

// SampledInstance is what analysis reads of a journey instance: who, which
// version, when it started (and from which event), and how it ended.
type SampledInstance struct {
	ID        string
	ProfileID string
	Version   int
	Trigger   int64 // Seq of the event that started it; 0 if none
	Holdout   bool
	EnteredAt time.Time
	GoalAt    time.Time // zero unless the goal was reached
	EndedAt   time.Time // zero while active
	EndReason string
}

// EventWindow selects part of a profile's timeline: the events with Seq
// >= FromSeq stamped at or before Until, the first Limit of them in Seq
// order (Store.WindowEvents).
type EventWindow struct {
	ProfileID string
	FromSeq   int64
	Until     time.Time
	Limit     int // 0: no limit
}

// TimelineEvent is a timeline event as analysis reads it: its position in
// the log, its label (core.Event.Label) and its timestamp.
type TimelineEvent struct {
	Seq       int64
	Label     string
	Timestamp time.Time
}
