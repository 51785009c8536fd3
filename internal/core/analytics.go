package core

import (
	"cmp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// JourneyStat is one journey analytics counter: N of Metric at Step (""
// for the journey as a whole) of a journey version, for one value of the
// metric's dimension (an arm, a rule, a reason, a channel and offer, a
// duration bucket; "" if none), on Day (a UTC date as YYYYMMDD) for the
// daily metrics (see DailyStat) and 0 for the others. In a PartitionCommit
// it is a delta: the step machine emits one per fact, the store adds them
// up in the partition's transaction, so a replayed input counts nothing
// twice.
type JourneyStat struct {
	Journey string `json:"journey"`
	Version int    `json:"version"`
	Step    string `json:"step"`
	Metric  string `json:"metric"`
	Dim     string `json:"dim"`
	Day     int    `json:"day"`
	N       int64  `json:"n"`
}

// Journey analytics metrics, each with its step and dimension.
const (
	// StatEntered: an instance started. Step "", Dim its arm. Daily.
	StatEntered = "entered"
	// StatReached: a step was run (a visit; a loop visits again). Dim "".
	StatReached = "reached"
	// StatSent: a send decision let a message through. Dim
	// MessageDim(channel, offer). Daily.
	StatSent = "sent"
	// StatDelayed: a send decision delayed a message. Dim the rule.
	StatDelayed = "delayed"
	// StatSuppressed: a send decision dropped a message. Dim the rule
	// ("holdout" for the control group). Daily.
	StatSuppressed = "suppressed"
	// StatExited: an instance ended at Step (where it was). Dim the end
	// reason ("goal", an exit step's reason, "exit[0] event ...").
	StatExited = "exited"
	// StatGoal: an instance reached the goal (within the goal's window:
	// the machine only counts a goal there) while at Step. Dim its arm.
	// Daily.
	StatGoal = "goal"
	// StatTimeToGoal: the time from entry to the goal. Step "", Dim
	// "<arm>:<bucket>", the bucket of analytics.Bucket.
	StatTimeToGoal = "time_to_goal"
	// StatConverted: an instance that was sent a message at Step on a
	// channel with an offer reached the goal (once per instance, step,
	// channel and offer). Dim MessageDim(channel, offer).
	StatConverted = "converted"
	// StatDelivered, StatOpened, StatClicked, StatFailed: a message
	// event (message_delivered, ...) about a message sent at Step. Dim
	// MessageDim(channel, offer).
	StatDelivered = "delivered"
	StatOpened    = "opened"
	StatClicked   = "clicked"
	StatFailed    = "failed"
)

// Arms of a journey with a holdout: the treated and the control group.
const (
	ArmTreatment = "treatment"
	ArmControl   = "control"
)

// DailyStat reports whether a metric is counted per day.
func DailyStat(metric string) bool {
	switch metric {
	case StatEntered, StatSent, StatSuppressed, StatGoal:
		return true
	}
	return false
}

// StatDay returns t's UTC date as YYYYMMDD, the Day of daily counters.
func StatDay(t time.Time) int {
	y, m, d := t.UTC().Date()
	return y*10000 + int(m)*100 + d
}

// StatDate returns the midnight UTC a StatDay stands for.
func StatDate(day int) time.Time {
	return time.Date(day/10000, time.Month(day/100%100), day%100, 0, 0, 0, 0, time.UTC)
}

// MessageDim is the dimension of message metrics: "channel/offer", or
// "channel/" without an offer.
func MessageDim(channel, offer string) string {
	if offer == "" {
		if d, ok := channelDims[channel]; ok {
			return d // no allocation for the usual send
		}
	}
	return channel + "/" + offer
}

// channelDims holds MessageDim(c, "") of the known channels.
var channelDims = func() map[string]string {
	m := make(map[string]string, len(Channels))
	for _, c := range Channels {
		m[c] = c + "/"
	}
	return m
}()

// SplitMessageDim undoes MessageDim.
func SplitMessageDim(dim string) (channel, offer string) {
	channel, offer, _ = strings.Cut(dim, "/")
	return channel, offer
}

// TimeToGoalDim is the dimension of a StatTimeToGoal counter.
func TimeToGoalDim(arm string, bucket int) string { return arm + ":" + strconv.Itoa(bucket) }

// SplitTimeToGoalDim undoes TimeToGoalDim.
func SplitTimeToGoalDim(dim string) (arm string, bucket int, ok bool) {
	arm, b, found := strings.Cut(dim, ":")
	n, err := strconv.Atoi(b)
	if !found || err != nil || n < 0 {
		return "", 0, false
	}
	return arm, n, true
}

// CompareJourneyStats orders counters by their key: journey, version,
// step, metric, dimension, day.
func CompareJourneyStats(a, b JourneyStat) int {
	return cmp.Or(strings.Compare(a.Journey, b.Journey), cmp.Compare(a.Version, b.Version), strings.Compare(a.Step, b.Step),
		strings.Compare(a.Metric, b.Metric), strings.Compare(a.Dim, b.Dim), cmp.Compare(a.Day, b.Day))
}

// SumJourneyStats adds up the deltas of each counter and returns the sums
// in key order (the order stores lock rows in), zero sums left out.
func SumJourneyStats(stats []JourneyStat) []JourneyStat {
	if len(stats) == 0 {
		return nil
	}
	type key struct {
		journey, step, metric, dim string
		version, day               int
	}
	at := make(map[key]int, len(stats))
	sum := make([]JourneyStat, 0, len(stats))
	for _, st := range stats {
		k := key{st.Journey, st.Step, st.Metric, st.Dim, st.Version, st.Day}
		if i, ok := at[k]; ok {
			sum[i].N += st.N
			continue
		}
		at[k] = len(sum)
		sum = append(sum, st)
	}
	sum = slices.DeleteFunc(sum, func(st JourneyStat) bool { return st.N == 0 })
	slices.SortFunc(sum, CompareJourneyStats)
	return sum
}

// JourneyStatsQuery selects journey counters (Store.JourneyStats).
type JourneyStatsQuery struct {
	Journey string
	Version int // 0: every version
	// Daily false: every counter, summed over its days (Day 0). Daily
	// true: the daily counters with From <= Day <= To (0: unbounded),
	// per day, summed over steps (Step "").
	Daily    bool
	From, To int
}
