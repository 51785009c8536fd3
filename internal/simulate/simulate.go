package simulate

import (
	"bufio"
	"bytes"
	"container/heap"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"sort"
	"strings"
	"time"

	"github.com/overture-cjo/overture/internal/audience"
	"github.com/overture-cjo/overture/internal/computed"
	"github.com/overture-cjo/overture/internal/core"
	"github.com/overture-cjo/overture/internal/decide"
	"github.com/overture-cjo/overture/internal/journey"
	"github.com/overture-cjo/overture/internal/machine"
	"github.com/overture-cjo/overture/internal/policy"
)

// DefaultHorizon is how far past the last event a simulation follows
// timers when Options.Until is zero.
const DefaultHorizon = 366 * 24 * time.Hour

// Options tune a simulation.
type Options struct {
	// Until stops the simulation at this time: later events are not
	// simulated, and timers due later stay pending. Zero means the last
	// event's time plus DefaultHorizon.
	Until time.Time
	// Webhooks answers webhook calls by step name ("" answers any step);
	// a step with no answer gets status 200 and an empty JSON object.
	// Nothing is called over the network.
	Webhooks map[string]machine.Reply
	// Zone maps a timezone name to a location (nil: everyone in UTC).
	Zone func(string) *time.Location
	// Traits are the computed traits kept per customer (nil: none), on
	// the virtual clock.
	Traits *computed.Set
	// Audiences are re-evaluated as the server does: realtime ones after
	// each change to a customer, and each at its scheduled refreshes on
	// the virtual clock. Entering and leaving add trace lines and play
	// audience_entered / audience_exited events at once (nil: none).
	Audiences *audience.Set
	// Policy is the contact policy every send passes (nil: none). Its
	// decisions are in each Customer's Decisions.
	Policy *policy.Policy
	// Offers are ranked by `offer: best` (nil: none); their model and the
	// channels' engagement are learned during the run, from a fresh
	// start, as the server learns them.
	Offers *decide.Set
	// TemplateChannels returns the channels a template has content for
	// (nil: no restriction), for `channel: best`.
	TemplateChannels func(template string) []string
}

// Input is one event to simulate, with where it came from for errors.
type Input struct {
	Event *core.Event
	Line  int
}

// Result is a simulation's outcome.
type Result struct {
	Customers []*Customer // by profile id
	Messages  int         // sends queued (holdout sends are not)
	Pending   int         // timers still pending at the end
}

// Customer is one simulated person: their trace and final state.
type Customer struct {
	ID        string // the profile id: userId, else anonymousId
	Trace     []machine.Record
	Profile   *core.Profile
	Instances []*core.Instance // every instance, in entry order
	Decisions []*core.Decision // arbitration outcomes, in order
}

// ReadEvents reads events, one JSON object per line (Segment's message
// shape: type, event, userId, anonymousId, properties, traits, context,
// messageId, timestamp). Instead of a timestamp a line may give "at", a
// duration after start ("90m", "2d"). Type defaults to track. Errors name
// the line and field. Events come back sorted by time (stable).
func ReadEvents(name string, r io.Reader, start time.Time) ([]Input, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 4<<20)
	var out []Input
	line := 0
	for sc.Scan() {
		line++
		b := bytes.TrimSpace(sc.Bytes())
		if len(b) == 0 || b[0] == '#' {
			continue
		}
		ev, err := decodeEvent(b, start)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", name, line, err)
		}
		if ev.MessageID == "" {
			ev.MessageID = fmt.Sprintf("%s:%d", name, line)
		}
		out = append(out, Input{Event: ev, Line: line})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	sort.SliceStable(out, func(a, b int) bool { return out[a].Event.Timestamp.Before(out[b].Event.Timestamp) })
	return out, nil
}

// ParseEvent decodes one event as ReadEvents does a line: a JSON object in
// Segment's message shape, with "at" (an offset from start) instead of a
// timestamp if wished. Errors start with the field at fault.
func ParseEvent(b []byte, start time.Time) (*core.Event, error) {
	return decodeEvent(b, start)
}

func decodeEvent(b []byte, start time.Time) (*core.Event, error) {
	var w struct {
		core.EventWire
		At        string  `json:"at"`
		Timestamp *string `json:"timestamp"`
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&w); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			field := strings.TrimPrefix(te.Field, "EventWire.")
			return nil, fmt.Errorf("%s: want %s, not %s", field, article(jsonKind(te.Type.Kind())), article(te.Value))
		}
		return nil, fmt.Errorf("not a JSON object: %v", err)
	}
	if dec.More() {
		return nil, fmt.Errorf("more than one JSON value on the line")
	}
	for _, f := range []struct {
		name string
		raw  json.RawMessage
	}{{"properties", w.Properties}, {"traits", w.Traits}, {"context", w.Context}} {
		if len(f.raw) > 0 && f.raw[0] != '{' && string(f.raw) != "null" {
			return nil, fmt.Errorf("%s: want an object", f.name)
		}
	}
	e := w.EventWire.ToEvent()
	switch {
	case w.Timestamp != nil && w.At != "":
		return nil, fmt.Errorf("at: give at or timestamp, not both")
	case w.Timestamp != nil:
		t, err := time.Parse(time.RFC3339Nano, *w.Timestamp)
		if err != nil {
			return nil, fmt.Errorf("timestamp: %q is not an RFC 3339 time", *w.Timestamp)
		}
		e.Timestamp = t.UTC()
	case w.At != "":
		d, err := parseOffset(w.At)
		if err != nil {
			return nil, fmt.Errorf("at: %v", err)
		}
		e.Timestamp = start.Add(d)
	default:
		e.Timestamp = start
	}
	switch e.Type {
	case "":
		e.Type = core.TypeTrack
	case core.TypeTrack, core.TypeIdentify, core.TypePage, core.TypeScreen, core.TypeGroup, core.TypeAlias:
	default:
		return nil, fmt.Errorf("type: %q is not a Segment message type (track, identify, page, screen, group, alias)", e.Type)
	}
	if e.Type == core.TypeTrack && e.Event == "" {
		return nil, fmt.Errorf("event: a track event needs a name")
	}
	if e.UserID == "" && e.AnonymousID == "" {
		return nil, fmt.Errorf("userId: one of userId or anonymousId is required")
	}
	e.ReceivedAt = e.Timestamp
	return &e, nil
}

// article puts "a" or "an" before a JSON kind.
func article(kind string) string {
	if kind == "" {
		return "a value"
	}
	if strings.IndexByte("aeiou", kind[0]) >= 0 {
		return "an " + kind
	}
	return "a " + kind
}

// jsonKind names a Go kind as JSON would.
func jsonKind(k reflect.Kind) string {
	switch k {
	case reflect.String:
		return "string"
	case reflect.Bool:
		return "boolean"
	case reflect.Map, reflect.Struct:
		return "object"
	case reflect.Slice, reflect.Array:
		return "array"
	}
	return "number"
}

// parseOffset parses "0", "90m", "2d", "1d12h".
func parseOffset(s string) (time.Duration, error) {
	if s == "0" || s == "0s" {
		return 0, nil
	}
	return journey.ParseDuration(strings.TrimPrefix(s, "+"))
}

// Run simulates events (sorted by time) against the catalog's journeys.
func Run(cat *machine.Catalog, events []Input, opts Options) *Result {
	s := &sim{model: decide.NewModel(), pop: map[string]decide.Engagement{}, customers: map[string]*state{}, opts: opts, cat: cat}
	s.m = machine.New(cat, opts.Zone).With(machine.Deciders{Policy: opts.Policy, Offers: opts.Offers, Model: s.model,
		Population: func() map[string]decide.Engagement { return s.pop }, TemplateChannels: opts.TemplateChannels})
	until := opts.Until
	if until.IsZero() && len(events) > 0 {
		until = events[len(events)-1].Event.Timestamp.Add(DefaultHorizon)
	}
	if len(events) > 0 && opts.Audiences != nil {
		s.refreshes = map[string]time.Time{}
		for _, a := range opts.Audiences.List() {
			if next := a.Next(events[0].Event.Timestamp.Add(-time.Nanosecond)); !next.IsZero() {
				s.refreshes[a.ID] = next
			}
		}
	}
	for _, in := range events {
		if in.Event.Timestamp.After(until) {
			break // events are sorted: the rest are after until too
		}
		s.fire(in.Event.Timestamp)
		s.event(in.Event)
	}
	s.fire(until)
	res := &Result{Messages: s.messages}
	for _, id := range s.customerIDs() {
		st := s.customers[id]
		res.Customers = append(res.Customers, &Customer{ID: id, Trace: st.trace, Profile: st.c.Profile, Instances: st.all, Decisions: st.decisions})
		for _, in := range st.c.Instances {
			if !in.Due.IsZero() {
				res.Pending++
			}
		}
	}
	return res
}

type sim struct {
	m         *machine.Machine
	model     *decide.Model                // offers' posteriors, learned as the run goes
	pop       map[string]decide.Engagement // channels' engagement, learned likewise
	cat       *machine.Catalog
	refreshes map[string]time.Time // next scheduled refresh per audience
	opts      Options
	customers map[string]*state
	timers    timerHeap
	seq       int
	out       machine.Output
	messages  int
	now       time.Time // the virtual clock
	depth     int       // audience events played inside one another
}

type state struct {
	c         machine.Customer
	trace     []machine.Record
	decisions []*core.Decision
	all       []*core.Instance
	known     map[*core.Instance]bool
}

func (s *sim) customer(id string, now time.Time) *state {
	st := s.customers[id]
	if st == nil {
		st = &state{c: machine.Customer{Profile: core.NewProfile(id, now)}, known: map[*core.Instance]bool{}}
		if t := s.opts.Traits; t != nil {
			pr := st.c.Profile
			pr.Computed = &core.Computed{}
			t.Init(pr.Computed)
			st.c.Computed = func() map[string]any { return t.Values(pr.Computed, s.now) }
		}
		s.customers[id] = st
	}
	return st
}

func (s *sim) event(e *core.Event) {
	id := e.UserID
	if id == "" {
		id = e.AnonymousID
	}
	e.ProfileID = id
	s.apply(s.customer(id, e.Timestamp), e, e.Timestamp)
}

// apply plays one event for a customer at now: profile, computed traits,
// journeys, then audiences (whose events are played at once, in turn).
func (s *sim) apply(st *state, e *core.Event, now time.Time) {
	s.now = now
	facts := core.DeriveFacts(e)
	st.c.Profile.Apply(e, &facts)
	if t := s.opts.Traits; t != nil && e.SourceID != core.InternalSource {
		t.Update(st.c.Profile.Computed, e, now) // audience events do not count in traits
	}
	s.out.Reset()
	s.m.Event(&st.c, e, now, &s.out)
	s.collect(st, now)
	s.derive(st, now, nil)
}

// derive re-evaluates a customer's audiences at now (realtime ones, and
// those in ids) and plays the events of the memberships that changed.
func (s *sim) derive(st *state, now time.Time, ids []string) {
	auds := s.opts.Audiences
	if auds == nil {
		return
	}
	s.depth++
	defer func() { s.depth-- }()
	if s.depth > machine.MaxEnterDepth {
		return // audience events that keep changing memberships
	}
	in := audience.Input{Profile: s.view(st, now), Now: now, InJourney: inJourney(st)}
	_, evs := auds.Evaluate(st.c.Profile, in, nil, now)
	if len(ids) > 0 {
		_, more := auds.Evaluate(st.c.Profile, in, ids, now)
		evs = append(evs, more...)
	}
	for _, ev := range evs {
		s.play(st, ev, now)
	}
}

// inJourney answers in_journey for a customer.
func inJourney(st *state) func(string) bool {
	return func(j string) bool {
		for _, x := range st.c.Instances {
			if x.JourneyID == j && x.Status == core.InstanceActive {
				return true
			}
		}
		return false
	}
}

// play records an audience event in the trace and applies it.
func (s *sim) play(st *state, ev *core.Event, now time.Time) {
	var p struct {
		Audience string `json:"audience"`
	}
	_ = json.Unmarshal(ev.Properties, &p)
	st.trace = append(st.trace, machine.Record{Profile: st.c.Profile.ID, StepRecord: core.StepRecord{At: now, Kind: ev.Event, Detail: p.Audience}})
	s.apply(st, ev, now)
}

// view is the customer's profile as audience conditions see it.
func (s *sim) view(st *state, now time.Time) map[string]any {
	m := core.ProfileMap(st.c.Profile)
	m["computed"] = map[string]any{}
	if t := s.opts.Traits; t != nil {
		m["computed"] = t.Values(st.c.Profile.Computed, now)
	}
	return m
}

// fire runs every timer and scheduled audience refresh due at or before
// t, in time order (a refresh before timers due at the same time).
func (s *sim) fire(t time.Time) {
	for {
		aud, at := s.nextRefresh()
		if aud != "" && !at.After(t) && (s.timers.Len() == 0 || !s.timers[0].due.Before(at)) {
			s.refresh(aud, at)
			continue
		}
		if s.timers.Len() == 0 || s.timers[0].due.After(t) {
			return
		}
		tm := heap.Pop(&s.timers).(timer)
		st := s.customers[tm.profile]
		s.now = tm.due
		s.out.Reset()
		s.m.Timer(&st.c, tm.instance, tm.due, &s.out)
		s.collect(st, tm.due)
		s.derive(st, tm.due, nil)
	}
}

// customerIDs returns the ids of the customers seen so far, sorted.
func (s *sim) customerIDs() []string {
	ids := make([]string, 0, len(s.customers))
	for id := range s.customers {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// nextRefresh returns the audience whose scheduled refresh comes first.
func (s *sim) nextRefresh() (string, time.Time) {
	var id string
	var at time.Time
	for a, t := range s.refreshes {
		if id == "" || t.Before(at) || t.Equal(at) && a < id {
			id, at = a, t
		}
	}
	return id, at
}

// refresh re-evaluates an audience for every customer at its scheduled
// time, as the server's refresh does.
func (s *sim) refresh(id string, at time.Time) {
	aud := s.opts.Audiences.Get(id)
	s.refreshes[id] = aud.Next(at)
	if s.refreshes[id].IsZero() {
		delete(s.refreshes, id)
	}
	every := s.cat.AudienceRefreshed(id)
	for _, c := range s.customerIDs() {
		st := s.customers[c]
		s.now = at
		// As the server's refresh does, only customers whose membership
		// changes (or, with every, members) are touched: their realtime
		// audiences are re-evaluated with it.
		match, _ := aud.Match(audience.Input{Profile: s.view(st, at), Now: at, InJourney: inJourney(st)})
		if match == st.c.Profile.Audiences[id].Member && !(every && match) {
			continue
		}
		s.derive(st, at, []string{id})
		if every {
			if ev := s.opts.Audiences.Refreshed(st.c.Profile, id, at); ev != nil {
				s.play(st, ev, at)
			}
		}
	}
}

// collect records what the machine did, schedules timers and answers
// webhooks (which may run more steps).
func (s *sim) collect(st *state, now time.Time) {
	for {
		st.trace = append(st.trace, s.out.Trace...)
		st.decisions = append(st.decisions, s.out.Decisions...)
		for _, x := range s.out.Stats {
			switch x.Model {
			case core.ModelOffer:
				s.model.Add(x.Key, x.Bucket, x.Trials, x.Successes)
			case core.ModelChannel:
				e := s.pop[x.Key]
				e.Delivered += x.Trials
				e.Engaged += x.Successes
				s.pop[x.Key] = e
			}
		}
		s.messages += len(s.out.Outbox)
		for _, in := range s.out.Changed {
			if !st.known[in] {
				st.known[in] = true
				st.all = append(st.all, in)
			}
			if in.Status == core.InstanceActive && !in.Due.IsZero() {
				s.seq++
				heap.Push(&s.timers, timer{due: in.Due, instance: in.ID, profile: in.ProfileID, seq: s.seq})
			}
		}
		hooks := append([]machine.Webhook(nil), s.out.Webhooks...)
		if len(hooks) == 0 {
			return
		}
		s.out.Reset()
		for _, h := range hooks {
			rep, ok := s.opts.Webhooks[h.Step]
			if !ok {
				rep, ok = s.opts.Webhooks[""]
			}
			if !ok {
				rep = machine.Reply{Status: 200, Body: []byte("{}")}
			}
			rep.InstanceID, rep.Seq = h.InstanceID, h.Seq
			s.m.Reply(&st.c, rep, now, &s.out)
		}
	}
}

type timer struct {
	due      time.Time
	instance string
	profile  string
	seq      int
}

type timerHeap []timer

func (h timerHeap) Len() int { return len(h) }
func (h timerHeap) Less(i, j int) bool {
	if !h[i].due.Equal(h[j].due) {
		return h[i].due.Before(h[j].due)
	}
	if h[i].instance != h[j].instance {
		return h[i].instance < h[j].instance // as the server orders them
	}
	return h[i].seq < h[j].seq
}
func (h timerHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *timerHeap) Push(x any)   { *h = append(*h, x.(timer)) }
func (h *timerHeap) Pop() any {
	old := *h
	t := old[len(old)-1]
	*h = old[:len(old)-1]
	return t
}
