package machine

import (
	"encoding/json"
	"fmt"
	"hash/fnv"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/overture-cjo/overture/internal/core"
	"github.com/overture-cjo/overture/internal/decide"
	"github.com/overture-cjo/overture/internal/journey"
	"github.com/overture-cjo/overture/internal/policy"
)

// MaxStepsPerInput bounds how many steps one input may run for one
// instance, so a loop of branches without a wait cannot spin forever; an
// instance that hits it ends with reason "step limit".
const MaxStepsPerInput = 100

// MaxEnterDepth bounds how deep enter_journey steps may nest in one input
// (a enters b, which enters c, ...), so journeys that enter each other
// with reentry: always cannot recurse without end; a deeper enter_journey
// step does not enter, and says so.
const MaxEnterDepth = 8

// MaxHistory is how many records an instance keeps; older ones (but the
// entry) are dropped first.
const MaxHistory = 500

// Customer is one person's state as the machine sees it: the profile (which
// update_profile steps change in place) and their active instances, oldest
// first. The machine updates Instances as instances start and end.
type Customer struct {
	Profile   *core.Profile
	Instances []*core.Instance
	Computed  func() map[string]any // the computed traits' values now, for profile.computed; nil: none
}

// Record is a trace line: a StepRecord with the instance it belongs to.
type Record struct {
	Profile  string
	Journey  string
	Version  int
	Instance string
	core.StepRecord
}

// Entry returns the instance's entry number: 1 for the customer's first
// entry into the journey, 2 for the second, ...
func (r Record) Entry() int {
	if r.Instance == "" {
		return 0
	}
	n, _ := strconv.Atoi(r.Instance[strings.LastIndexByte(r.Instance, ':')+1:])
	return n
}

// String formats the record as one trace line (without the profile). A
// second or later entry into a journey shows its number ("cart@1#2"), so
// the lines of concurrent instances can be told apart.
func (r Record) String() string {
	if r.Journey == "" { // an audience entered or left: "TIME KIND AUDIENCE"
		return fmt.Sprintf("%s %s %s", r.At.UTC().Format(time.RFC3339), r.Kind, r.Detail)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s@%d", r.At.UTC().Format(time.RFC3339), r.Journey, r.Version)
	if n := r.Entry(); n > 1 {
		fmt.Fprintf(&b, "#%d", n)
	}
	if r.Step != "" {
		b.WriteString(" " + r.Step)
	}
	b.WriteString(" " + r.Kind)
	if r.Detail != "" {
		b.WriteString(" " + r.Detail)
	}
	if r.Next != "" {
		b.WriteString(" -> " + r.Next)
	}
	return b.String()
}

// Webhook is a call a webhook step asks for. Its reply comes back as a
// Reply input; if none comes by the instance's Due, the timer takes the
// step's on_error branch.
type Webhook struct {
	InstanceID string
	ProfileID  string
	Step       string
	Seq        int // the instance's step number when it called
	URL        string
	Method     string
	Body       []byte // JSON; nil for none
	Timeout    time.Duration
}

// Reply is a webhook's outcome.
type Reply struct {
	InstanceID string
	Seq        int
	Status     int    // HTTP status; 0 if the call failed
	Body       []byte // the reply's body
	Err        string // why the call failed, if it did
}

// Output collects what inputs produced. Callers reuse it with Reset.
type Output struct {
	Changed       []*core.Instance // instances whose state changed, ended ones included, each once
	Outbox        []*core.OutboxEntry
	Decisions     []*core.Decision   // arbitration outcomes of send steps, in order
	Stats         []core.ModelStat   // deltas of the learned models (offer impressions and conversions, channel engagement)
	JourneyStats  []core.JourneyStat // deltas of the journey analytics counters, one per fact (see analytics.go)
	Webhooks      []Webhook
	Trace         []Record
	ProfileChange bool // the profile changed: an update_profile step, or a journey entry
	Transitions   int  // steps run

	changed map[*core.Instance]bool
	ended   int // instances ended so far (release looks at it)
}

// Reset empties the output for reuse.
func (o *Output) Reset() {
	*o = Output{changed: o.changed, Changed: o.Changed[:0], Outbox: o.Outbox[:0], Decisions: o.Decisions[:0], Stats: o.Stats[:0], JourneyStats: o.JourneyStats[:0], Webhooks: o.Webhooks[:0], Trace: o.Trace[:0]}
	clear(o.changed)
}

func (o *Output) touch(in *core.Instance) {
	if o.changed == nil {
		o.changed = map[*core.Instance]bool{}
	}
	if !o.changed[in] {
		o.changed[in] = true
		o.Changed = append(o.Changed, in)
	}
}

// Machine runs journeys for customers. It holds no per-customer state; it
// is safe for concurrent use by different customers' inputs.
type Machine struct {
	cat      *Catalog
	zone     func(name string) *time.Location
	deciders Deciders
}

// Deciders is what send steps consult besides the journey.
type Deciders struct {
	Policy *policy.Policy // the contact policy; nil lets every send through
	// Offers are the offers `offer: best` ranks and whose impressions and
	// conversions are learned; nil or empty: none (a send's offer is
	// passed on as written).
	Offers *decide.Set
	// Model holds the offers' posteriors (shared; the caller adds
	// Output.Stats to it after each commit). Nil: the priors only.
	Model *decide.Model
	// Population returns everyone's engagement per channel, for
	// `channel: best`; nil: none known.
	Population func() map[string]decide.Engagement
	// TemplateChannels returns the channels a message template has
	// content for (nil: unknown, no restriction): `channel: best` chooses
	// among those only. Nil: no templates known.
	TemplateChannels func(template string) []string
}

// With returns a machine like m that consults d.
func (m *Machine) With(d Deciders) *Machine {
	n := *m
	n.deciders = d
	return &n
}

// New returns a machine over a catalog. zone maps a timezone name to a
// location (nil if unknown); nil means UTC for everyone.
func New(cat *Catalog, zone func(string) *time.Location) *Machine {
	if zone == nil {
		zone = func(string) *time.Location { return nil }
	}
	return &Machine{cat: cat, zone: zone}
}

// Catalog returns the machine's catalog.
func (m *Machine) Catalog() *Catalog { return m.cat }

// run is one instance's context while an input is handled.
type run struct {
	m   *Machine
	c   *Customer
	in  *core.Instance
	j   *Journey
	sc  *scope
	out *Output
}

func (r *run) record(step, kind, detail, next string) {
	rec := core.StepRecord{At: r.sc.now, Step: step, Kind: kind, Detail: detail, Next: next}
	if len(r.in.History) >= MaxHistory {
		// A new array: callers may share the old one with a saved copy.
		h := make([]core.StepRecord, 0, MaxHistory)
		h = append(h, r.in.History[0])
		r.in.History = append(h, r.in.History[2:]...)
	}
	r.in.History = append(r.in.History, rec)
	r.in.UpdatedAt = r.sc.now
	r.out.touch(r.in)
	r.out.Trace = append(r.out.Trace, Record{Profile: r.c.Profile.ID, Journey: r.in.JourneyID, Version: r.in.Version, Instance: r.in.ID, StepRecord: rec})
}

// Event offers an event to the customer's active instances (goal, exit
// criteria, wait_for), then to every active journey's trigger.
func (m *Machine) Event(c *Customer, ev *core.Event, now time.Time, out *Output) {
	defer m.released(c, now, out, out.ended)
	m.learn(c, ev, now, out)
	m.countMessage(ev, out)
	sc := &scope{ev: ev, pr: c.Profile, computed: c.Computed, now: now}
	name := ev.Label()
	for _, in := range append([]*core.Instance(nil), c.Instances...) {
		r := m.runFor(c, in, sc, out)
		if r == nil {
			continue
		}
		d := r.j.Def
		if g := d.Goal; g != nil && g.Event == name && (g.Within == 0 || !now.After(in.EnteredAt.Add(g.Within))) {
			if r.cond(g.Condition, "") {
				in.GoalAt = now
				r.countGoal()
				r.record("", core.RecordGoal, name, "")
				r.end("goal")
				continue
			}
		}
		if r.exits(name) {
			continue
		}
		if st := d.Steps[in.Step]; st != nil && st.Type == journey.StepWaitFor && !in.Due.IsZero() && st.Event == name {
			if r.cond(st.Condition, in.Step) {
				r.resume(st, "event "+name, st.OnEvent)
			}
		}
	}
	sc.vars = nil
	for _, j := range m.cat.triggers[name] {
		t := j.Def.Entry.Trigger
		if t.Audience != "" && audienceOf(ev) != t.Audience {
			continue
		}
		sc.vars = nil
		ok, err := sc.test(t.Condition)
		if err != nil {
			m.refused(c, j, now, out, "trigger condition failed: "+err.Error())
			continue
		}
		if !ok {
			continue
		}
		if ok, why := m.admit(c, j, now); ok {
			m.start(c, j, sc, out, "trigger "+name, false)
		} else {
			m.refused(c, j, now, out, why)
		}
	}
}

// audienceOf returns the audience an audience event is about.
func audienceOf(ev *core.Event) string {
	var p struct {
		Audience string `json:"audience"`
	}
	_ = json.Unmarshal(ev.Properties, &p)
	return p.Audience
}

// Timer handles an instance's timer falling due. A timer that no longer
// matches the instance (it moved on, or ended) is ignored. The timer's due
// time is the input's time, so a late timer schedules what follows as if it
// had fired on time.
func (m *Machine) Timer(c *Customer, instanceID string, due time.Time, out *Output) {
	defer m.released(c, due, out, out.ended)
	in := find(c, instanceID)
	if in == nil || in.Due.IsZero() || !in.Due.Equal(due) {
		return
	}
	r := m.resumable(c, in, due, out)
	if r == nil {
		return
	}
	st := r.j.Def.Steps[in.Step]
	switch st.Type {
	case journey.StepWait:
		r.resume(st, "timer", st.Next)
	case journey.StepWaitFor:
		r.resume(st, "timeout", st.OnTimeout)
	case journey.StepWebhook:
		r.resume(st, "timeout after "+st.Timeout.String(), st.OnError)
	case journey.StepSend:
		r.retry()
	}
}

// Reply handles a webhook's reply. A reply for a call the instance is no
// longer waiting on (it timed out, or ended) is ignored.
func (m *Machine) Reply(c *Customer, rep Reply, now time.Time, out *Output) {
	defer m.released(c, now, out, out.ended)
	in := find(c, rep.InstanceID)
	if in == nil || in.Due.IsZero() || in.Steps != rep.Seq {
		return
	}
	r := m.resumable(c, in, now, out)
	if r == nil {
		return
	}
	sc := r.sc
	st := r.j.Def.Steps[in.Step]
	if st.Type != journey.StepWebhook {
		return
	}
	if rep.Err != "" || rep.Status < 200 || rep.Status > 299 {
		why := rep.Err
		if why == "" {
			why = "status " + strconv.Itoa(rep.Status)
		}
		r.resume(st, why, st.OnError)
		return
	}
	var body any
	if len(rep.Body) > 0 && json.Unmarshal(rep.Body, &body) != nil {
		body = string(rep.Body)
	}
	sc.response = map[string]any{"status": float64(rep.Status), "body": body}
	r.assign(st.Capture, in.Step)
	sc.response = nil
	r.resume(st, "status "+strconv.Itoa(rep.Status), st.Next)
}

// resumable prepares a waiting instance for a timer or a reply at now: nil
// if its version is unknown, or if a condition-only exit criterion ended
// it.
func (m *Machine) resumable(c *Customer, in *core.Instance, now time.Time, out *Output) *run {
	r := m.runFor(c, in, &scope{pr: c.Profile, computed: c.Computed, now: now}, out)
	if r == nil || r.exits("") {
		return nil
	}
	return r
}

func find(c *Customer, id string) *core.Instance {
	for _, in := range c.Instances {
		if in.ID == id {
			return in
		}
	}
	return nil
}

func (m *Machine) runFor(c *Customer, in *core.Instance, sc *scope, out *Output) *run {
	j := m.cat.Version(in.JourneyID, in.Version)
	if j == nil {
		return nil // a version this machine does not know: leave it be
	}
	sc.vars = in.Vars
	return &run{m: m, c: c, in: in, j: j, sc: sc, out: out}
}

// admit reports whether c may enter j at now under its re-entry and
// max_concurrent rules, and if not, why.
// refused records, in the trace only (there is no instance to keep it),
// that a trigger matched but the customer did not enter, and why.
func (m *Machine) refused(c *Customer, j *Journey, now time.Time, out *Output, why string) {
	out.Trace = append(out.Trace, Record{Profile: c.Profile.ID, Journey: j.Def.ID, Version: j.Version,
		StepRecord: core.StepRecord{At: now, Kind: core.RecordNotEntered, Detail: why}})
}

func (m *Machine) admit(c *Customer, j *Journey, now time.Time) (bool, string) {
	d := j.Def
	if e, ok := c.Profile.Entered[d.ID]; ok && e.Count > 0 {
		switch d.Entry.Reentry.Mode {
		case journey.ReentryNever:
			return false, "already entered"
		case journey.ReentryAfter:
			if now.Before(e.Last.Add(d.Entry.Reentry.After)) {
				return false, "re-entry after " + journey.FormatDuration(d.Entry.Reentry.After)
			}
		}
	}
	active := 0
	for _, in := range c.Instances {
		if in.JourneyID == d.ID {
			active++
		}
	}
	if active >= d.Entry.MaxConcurrent {
		return false, "at most " + strconv.Itoa(d.Entry.MaxConcurrent) + " at once"
	}
	return true, ""
}

// start starts an instance of j for c (admit said it may) and runs it
// until it waits or ends. The instance is in the holdout group if the
// customer draws into j's, or if holdout is set (entered from a held-out
// instance: the control group stays unmessaged down the whole chain).
func (m *Machine) start(c *Customer, j *Journey, sc *scope, out *Output, why string, holdout bool) {
	d := j.Def
	now := sc.now
	n := c.Profile.Enter(d.ID, now)
	out.ProfileChange = true // its entry counts changed
	in := &core.Instance{
		ID:        d.ID + ":" + c.Profile.ID + ":" + strconv.Itoa(n),
		ProfileID: c.Profile.ID,
		JourneyID: d.ID,
		Version:   j.Version,
		Status:    core.InstanceActive,
		Step:      d.Start,
		Holdout:   holdout || draw(c.Profile.ID, d.ID, "") < d.Holdout,
		EnteredAt: now,
		UpdatedAt: now,
	}
	if sc.ev != nil {
		in.Trigger = sc.ev.Seq
	}
	c.Instances = append(c.Instances, in)
	sc.vars = nil
	r := &run{m: m, c: c, in: in, j: j, sc: sc, out: out}
	detail := why
	if in.Holdout {
		detail += " (holdout)"
	}
	r.record("", core.RecordEntered, detail, d.Start)
	r.count("", core.StatEntered, arm(in))
	if len(d.Variables) > 0 {
		in.Vars = map[string]any{}
		sc.vars = in.Vars
		r.assign(d.Variables, "")
	}
	r.advance(d.Start)
}

// draw is a stable number in [0, 100) for a customer, journey and salt:
// the holdout draw, and a split's choice.
func draw(profile, journeyID, salt string) int {
	h := fnv.New64a()
	h.Write([]byte(profile))
	h.Write([]byte{0})
	h.Write([]byte(journeyID))
	h.Write([]byte{0})
	h.Write([]byte(salt))
	return int(h.Sum64() % 100)
}

// cond evaluates a condition for the instance; an error is recorded and
// counts as false.
func (r *run) cond(e *journey.Expr, step string) bool {
	ok, err := r.sc.test(e)
	if err != nil {
		r.record(step, core.RecordError, err.Error(), "")
		return false
	}
	return ok
}

// exits checks the exit criteria against an event name ("" for a timer:
// only condition-only criteria apply) and ends the instance if one holds.
func (r *run) exits(name string) bool {
	for i, x := range r.j.Def.Exit {
		if x.Event != "" && x.Event != name {
			continue
		}
		if x.Event == "" && x.Condition == nil {
			continue
		}
		if !r.cond(x.Condition, "") {
			continue
		}
		why := "exit[" + strconv.Itoa(i) + "]"
		if x.Event != "" {
			why += " event " + x.Event
		}
		if x.Condition != nil {
			why += " when " + x.Condition.Source
		}
		r.end(why)
		return true
	}
	return false
}

// resume ends a wait at st and goes on to next.
func (r *run) resume(st *journey.Step, why, next string) {
	r.in.Due = time.Time{}
	r.record(st.Name, core.RecordResumed, why, next)
	r.advance(next)
}

// end finishes the instance.
func (r *run) end(reason string) { r.endAt("", reason) }

// endAt finishes the instance, recording the step that ended it.
func (r *run) endAt(step, reason string) {
	in := r.in
	r.count(in.Step, core.StatExited, reason)
	in.Status = core.InstanceDone
	in.Step = ""
	in.Due = time.Time{}
	in.EndedAt = r.sc.now
	in.EndReason = reason
	in.Held = nil
	r.out.ended++
	r.record(step, core.RecordExit, reason, "")
	for i, x := range r.c.Instances {
		if x == in {
			// A new slice: the old array may be shared with a saved copy,
			// and an empty result must not keep the ended instance alive.
			rest := make([]*core.Instance, 0, len(r.c.Instances)-1)
			rest = append(rest, r.c.Instances[:i]...)
			r.c.Instances = append(rest, r.c.Instances[i+1:]...)
			if len(r.c.Instances) == 0 {
				r.c.Instances = nil
			}
			break
		}
	}
}

// assign evaluates assignments into the instance's variables.
func (r *run) assign(as []journey.Assign, step string) {
	for _, a := range as {
		v, err := r.sc.value(a.Expr)
		if err != nil {
			r.record(step, core.RecordError, err.Error(), "")
			continue
		}
		if r.in.Vars == nil {
			r.in.Vars = map[string]any{}
			r.sc.vars = r.in.Vars
		}
		r.in.Vars[a.Name] = v
	}
}

// advance runs steps from name until the instance waits or ends.
func (r *run) advance(name string) {
	for n := 0; ; n++ {
		if n == MaxStepsPerInput {
			r.end("step limit")
			return
		}
		st := r.j.Def.Steps[name]
		if st == nil {
			r.end("no step " + strconv.Quote(name))
			return
		}
		r.in.Step = name
		r.in.Steps++
		r.count(name, core.StatReached, "")
		r.out.Transitions++
		next, wait := r.step(st)
		if wait || r.in.Status == core.InstanceDone {
			return
		}
		name = next
	}
}

// step runs one step; it returns the next step, or wait true if the
// instance now waits at st.
func (r *run) step(st *journey.Step) (next string, wait bool) {
	sc, in := r.sc, r.in
	switch st.Type {
	case journey.StepSend:
		return r.send(st)

	case journey.StepWait:
		due := sc.now.Add(st.Duration)
		if st.Until != nil {
			due = r.until(st.Until)
		}
		in.Due = due
		r.record(st.Name, core.RecordWait, "until "+due.UTC().Format(time.RFC3339), "")
		return "", true

	case journey.StepWaitFor:
		in.Due = sc.now.Add(st.Timeout)
		r.record(st.Name, core.RecordWaitFor, st.Event+" until "+in.Due.UTC().Format(time.RFC3339), "")
		return "", true

	case journey.StepBranch:
		for i, c := range st.Cases {
			if r.cond(c.When, st.Name) {
				r.record(st.Name, core.RecordBranch, "case "+strconv.Itoa(i)+" "+c.When.Source, c.Next)
				return c.Next, false
			}
		}
		r.record(st.Name, core.RecordBranch, "default", st.Default)
		return st.Default, false

	case journey.StepSplit:
		total := 0
		for _, b := range st.Branches {
			total += b.Weight
		}
		pick := 0
		if total > 0 {
			x := draw(in.ProfileID, in.JourneyID, st.Name) * total / 100
			for i, b := range st.Branches {
				if x < b.Weight {
					pick = i
					break
				}
				x -= b.Weight
			}
		}
		b := st.Branches[pick]
		r.record(st.Name, core.RecordBranch, fmt.Sprintf("split %d (weight %d of %d)", pick, b.Weight, total), b.Next)
		return b.Next, false

	case journey.StepUpdateProfile:
		var set []string
		for _, a := range st.Set {
			v, err := sc.value(a.Expr)
			if err != nil {
				r.record(st.Name, core.RecordError, err.Error(), "")
				continue
			}
			raw, _ := json.Marshal(v)
			r.c.Profile.SetTrait(a.Name, raw, sc.now)
			set = append(set, a.Name+"="+string(raw))
		}
		sc.profileChanged()
		r.out.ProfileChange = true
		r.record(st.Name, core.RecordUpdate, strings.Join(set, " "), st.Next)
		return st.Next, false

	case journey.StepWebhook:
		var body []byte
		if st.Body != nil {
			v, err := sc.value(st.Body)
			if err != nil {
				r.record(st.Name, core.RecordError, err.Error(), "")
				return st.OnError, false
			}
			body, _ = json.Marshal(v)
		}
		in.Due = sc.now.Add(st.Timeout)
		r.out.Webhooks = append(r.out.Webhooks, Webhook{InstanceID: in.ID, ProfileID: in.ProfileID, Step: st.Name, Seq: in.Steps, URL: st.URL, Method: st.Method, Body: body, Timeout: st.Timeout})
		r.record(st.Name, core.RecordWebhook, st.Method+" "+st.URL, "")
		return "", true

	case journey.StepEnterJourney:
		detail := st.Journey
		target := r.m.cat.Newest(st.Journey)
		switch {
		case target == nil:
			detail += ": not loaded"
		case r.m.cat.State(st.Journey) != core.JourneyActive:
			detail += ": " + r.m.cat.State(st.Journey)
		case sc.depth >= MaxEnterDepth:
			detail += ": not entered (more than " + strconv.Itoa(MaxEnterDepth) + " journeys deep)"
		default:
			ok, why := r.m.admit(r.c, target, sc.now)
			if !ok {
				detail += ": not entered (" + why + ")"
				break
			}
			// Record the hand-over first, so the trace reads in causal
			// order; the entered journey runs in a scope of its own (its
			// own variables) but shares the profile, which it may change.
			r.record(st.Name, core.RecordEnter, detail+": entered", st.Next)
			inner := &scope{ev: sc.ev, evMap: sc.evMap, pr: sc.pr, prMap: sc.prMap, computed: sc.computed, now: sc.now, depth: sc.depth + 1}
			r.m.start(r.c, target, inner, r.out, "from "+in.JourneyID, in.Holdout)
			sc.prMap = inner.prMap
			return st.Next, false
		}
		r.record(st.Name, core.RecordEnter, detail, st.Next)
		return st.Next, false

	case journey.StepExit:
		reason := st.Reason
		if reason == "" {
			reason = "exit step"
		}
		r.endAt(st.Name, reason)
		return "", false
	}
	r.end("unknown step type " + st.Type)
	return "", false
}

// until is the next time of day (on an allowed weekday) after now in the
// customer's timezone (UTC if unknown).
func (r *run) until(t *journey.TimeOfDay) time.Time {
	loc := r.m.zone(r.c.Profile.TimezoneName())
	if loc == nil {
		loc = time.UTC
	}
	now := r.sc.now.In(loc)
	for d := 0; d <= 7; d++ {
		day := now.AddDate(0, 0, d)
		at := time.Date(day.Year(), day.Month(), day.Day(), t.Hour, t.Minute, 0, 0, loc)
		if !at.After(now) {
			continue
		}
		if len(t.Weekdays) == 0 || containsDay(t.Weekdays, at.Weekday()) {
			return at.UTC()
		}
	}
	return now.AddDate(0, 0, 7).UTC() // not reached: some day in a week matches
}

func containsDay(ds []time.Weekday, d time.Weekday) bool {
	for _, x := range ds {
		if x == d {
			return true
		}
	}
	return false
}

// SortRecords orders trace records by time, then profile, keeping the
// order of records with equal keys.
func SortRecords(rs []Record) {
	sort.SliceStable(rs, func(a, b int) bool {
		if !rs[a].At.Equal(rs[b].At) {
			return rs[a].At.Before(rs[b].At)
		}
		return rs[a].Profile < rs[b].Profile
	})
}
