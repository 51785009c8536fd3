package api

import (
	"bytes"
	"cmp"
	"context"
	"encoding/csv"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/overture-cjo/overture/internal/analytics"
	"github.com/overture-cjo/overture/internal/core"
	"github.com/overture-cjo/overture/internal/journey"
	"github.com/overture-cjo/overture/internal/machine"
	"github.com/overture-cjo/overture/internal/wire"
)

// Sampling and bounds of GET /v1/journeys/{id}/paths and /drivers.
const (
	// DefaultPathSample and DefaultDriverSample are how many instances
	// path and driver analysis read unless ?sample= says otherwise (a
	// driver analysis also reads event bodies and profiles, so it reads
	// fewer); MaxInsightSample bounds ?sample=.
	DefaultPathSample   = 20000
	DefaultDriverSample = 10000
	MaxInsightSample    = 200000
	// DefaultInsightWithin is the window after entry when neither
	// ?within= nor the goal sets one.
	DefaultInsightWithin = 7 * 24 * time.Hour
	// maxInstanceEvents is the most events of one instance's window that
	// analysis uses (the first ones).
	maxInstanceEvents = 1000
	// windowSlack widens the store's read past entry + window, for
	// triggers stamped a little after the engine entered them.
	windowSlack = time.Hour
	// DefaultMinSupport is the fewest instances a driver must cover
	// unless ?min_support= says otherwise.
	DefaultMinSupport = 30
)

// InsightSample says which instances a path or driver analysis read.
type InsightSample struct {
	// Population is the number of instances that entered in the range
	// (and version) asked for.
	Population int64 `json:"population"`
	// Sampled is true when fewer than all of them were read: SampleSize
	// of them, chosen by a hash of each instance (see
	// core.Store.SampleInstances), so every count and interval below is
	// the sample's.
	Sampled    bool `json:"sampled"`
	SampleSize int  `json:"sampleSize"`
	// Open counts the instances read that had not reached the end (or
	// the outcome) and whose window had not closed yet at the time of the
	// query: they may still get there. With ?settled=true they are left
	// out.
	Open int `json:"open"`
}

// JourneyPaths is the answer of GET /v1/journeys/{id}/paths: the most
// frequent sequences of event labels from entry to the end (the goal, or
// a named event) within the window, and the Sankey form of all of them.
// A sequence that does not reach the end ends with the marker "(no goal)"
// or "(no NAME)".
type JourneyPaths struct {
	Journey string `json:"journey"`
	Version int    `json:"version,omitempty"`
	From    string `json:"from,omitempty"` // entry dates, as asked
	To      string `json:"to,omitempty"`
	End     string `json:"end"`    // "goal" or "event:NAME"
	Within  string `json:"within"` // the window after entry
	InsightSample
	// Reached is how many of the sequences reach the end.
	Reached int `json:"reached"`
	analytics.PathReport
}

// JourneyDrivers is the answer of GET /v1/journeys/{id}/drivers: the
// profile traits and the properties, context and presence of the events
// of an instance's window that go with the outcome (missing the goal, or
// a named event within the window), ranked by relative risk.
type JourneyDrivers struct {
	Journey string `json:"journey"`
	Version int    `json:"version,omitempty"`
	From    string `json:"from,omitempty"`
	To      string `json:"to,omitempty"`
	Outcome string `json:"outcome"` // "goal" (the outcome is missing it) or "event:NAME"
	Within  string `json:"within"`
	InsightSample
	analytics.DriverReport
}

// insightQuery is what /paths and /drivers ask for.
type insightQuery struct {
	version  int
	from, to time.Time // entry range, [from, to)
	fromDate string
	toDate   string
	within   time.Duration // 0: the goal's window, else DefaultInsightWithin
	sample   int
	settled  bool
	csv      bool
	// The end of a path or the outcome of drivers (field names which):
	// the goal, or event.
	field string
	goal  bool
	event string
	// paths
	paths analytics.PathOptions
	// drivers
	drivers analytics.DriverOptions
}

// endName is the end or outcome as given: "goal" or "event:NAME".
func (q *insightQuery) endName() string {
	if q.goal {
		return "goal"
	}
	return "event:" + q.event
}

func parseInsightQuery(r *http.Request, endField string, sample int) (insightQuery, error) {
	q := insightQuery{sample: sample, goal: true, field: endField}
	v := r.URL.Query()
	a, err := parseAnalyticsQuery(r) // version, from, to, format
	if err != nil {
		return q, err
	}
	q.version, q.csv = a.version, a.csv
	if a.from > 0 {
		q.from = core.StatDate(a.from)
		q.fromDate = q.from.Format(time.DateOnly)
	}
	if a.to > 0 {
		q.toDate = core.StatDate(a.to).Format(time.DateOnly)
		q.to = core.StatDate(a.to).AddDate(0, 0, 1) // the whole day
	}
	if s := v.Get("within"); s != "" {
		if q.within, err = journey.ParseDuration(s); err != nil {
			return q, core.Errorf(core.EINVALID, "within", "within: %v", err)
		}
	}
	if q.sample, err = intParam(r, "sample", q.sample, 1, MaxInsightSample); err != nil {
		return q, err
	}
	if s := v.Get("settled"); s != "" {
		if q.settled, err = strconv.ParseBool(s); err != nil {
			return q, core.Errorf(core.EINVALID, "settled", "settled must be true or false")
		}
	}
	switch s := v.Get(endField); {
	case s == "" || s == "goal":
	case strings.HasPrefix(s, "event:") && len(s) > len("event:"):
		q.goal, q.event = false, strings.TrimPrefix(s, "event:")
	default:
		return q, core.Errorf(core.EINVALID, endField, "%s must be goal or event:NAME", endField)
	}
	return q, nil
}

// journeyPaths answers GET /v1/journeys/{id}/paths.
func (s *Server) journeyPaths(w http.ResponseWriter, r *http.Request) error {
	q, err := parseInsightQuery(r, "end", DefaultPathSample)
	if err != nil {
		return err
	}
	v := r.URL.Query()
	if q.paths.TopK, err = intParam(r, "top", q.paths.TopK, 1, 1000); err != nil {
		return err
	}
	if q.paths.MaxLen, err = intParam(r, "max_len", q.paths.MaxLen, 3, 100); err != nil {
		return err
	}
	if s := v.Get("collapse"); s != "" {
		if q.paths.CollapseRepeats, err = strconv.ParseBool(s); err != nil {
			return core.Errorf(core.EINVALID, "collapse", "collapse must be true or false")
		}
	}
	id := r.PathValue("id")
	out, err := s.paths(r.Context(), id, q)
	if err != nil {
		return err
	}
	if q.csv {
		return writePathsCSV(w, id, out)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// journeyDrivers answers GET /v1/journeys/{id}/drivers.
func (s *Server) journeyDrivers(w http.ResponseWriter, r *http.Request) error {
	q, err := parseInsightQuery(r, "outcome", DefaultDriverSample)
	if err != nil {
		return err
	}
	q.drivers = analytics.DriverOptions{MinSupport: DefaultMinSupport, Limit: 20, Pairs: analytics.DefaultPairs}
	if q.drivers.MinSupport, err = intParam(r, "min_support", q.drivers.MinSupport, 1, 1<<30); err != nil {
		return err
	}
	if q.drivers.Limit, err = intParam(r, "limit", q.drivers.Limit, 1, 1000); err != nil {
		return err
	}
	if q.drivers.Pairs, err = intParam(r, "pairs", q.drivers.Pairs, 0, analytics.MaxPairs); err != nil {
		return err
	}
	id := r.PathValue("id")
	out, err := s.drivers(r.Context(), id, q)
	if err != nil {
		return err
	}
	if q.csv {
		return writeDriversCSV(w, id, out)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// insightRun is one path or driver analysis: the sampled instances with
// their windows' events, and how each one ends.
type insightRun struct {
	within time.Duration
	sample InsightSample
	// instances kept, with their events and whether they reached the end.
	obs []insightObservation
	// profiles of the sampled instances, when asked for (drivers).
	profiles map[string]*core.Profile
}

// insightObservation is one sampled instance's window.
type insightObservation struct {
	in      core.SampledInstance
	trigger *core.TimelineEvent  // the event that started it, if read
	events  []core.TimelineEvent // after the trigger, within the window, by time then seq
	end     int                  // index in events of the end (outcome) event; -1 if none
	reached bool                 // reached the end: the goal (per the instance) or the event
	endName string               // the end's label: the goal's event, or the event
}

// loadInsight samples the journey's instances and reads the labels and
// times of their windows' events, and with profiles (drivers) their
// profiles at the same time.
func (s *Server) loadInsight(ctx context.Context, id string, q insightQuery, profiles bool) (*insightRun, error) {
	js, err := s.journeys()
	if err != nil {
		return nil, err
	}
	cat := js.Catalog()
	newest := cat.Newest(id)
	if newest == nil {
		return nil, core.Errorf(core.ENOTFOUND, "id", "no journey %q", id)
	}
	ref := newest
	if q.version > 0 {
		if ref = cat.Version(id, q.version); ref == nil {
			return nil, core.Errorf(core.ENOTFOUND, "version", "journey %q has no version %d", id, q.version)
		}
	}
	run := &insightRun{within: q.within}
	if q.goal && !hasGoal(cat, id, q.version, newest.Version) {
		return nil, core.Errorf(core.EINVALID, q.field, "journey %q has no goal: ask for %s=event:NAME", id, q.field)
	}
	if run.within == 0 {
		run.within = DefaultInsightWithin
		if g := ref.Def.Goal; g != nil && g.Within > 0 {
			run.within = g.Within
		}
	}
	sample, total, err := s.Store.SampleInstances(ctx, core.InstanceSample{Journey: id, Version: q.version, From: q.from, To: q.to, Limit: q.sample})
	if err != nil {
		return nil, err
	}
	run.sample = InsightSample{Population: total, Sampled: int64(len(sample)) < total, SampleSize: len(sample)}

	// One window per profile, covering its sampled instances.
	byProfile := map[string]int{}
	var windows []core.EventWindow
	for _, in := range sample {
		w := core.EventWindow{ProfileID: in.ProfileID, FromSeq: in.Trigger, Until: in.EnteredAt.Add(run.within + windowSlack),
			Limit: maxInstanceEvents + 1}
		i, ok := byProfile[in.ProfileID]
		if !ok {
			byProfile[in.ProfileID] = len(windows)
			windows = append(windows, w)
			continue
		}
		windows[i].FromSeq = min(windows[i].FromSeq, w.FromSeq)
		if w.Until.After(windows[i].Until) {
			windows[i].Until = w.Until
		}
		windows[i].Limit += w.Limit
	}
	var events map[string][]core.TimelineEvent
	err = parallel(
		func() error {
			return inHalves(windows, func(part []core.EventWindow) (map[string][]core.TimelineEvent, error) {
				return s.Store.WindowEvents(ctx, part)
			}, &events)
		},
		func() (err error) {
			if profiles {
				ids := make([]string, len(windows))
				for i, w := range windows {
					ids[i] = w.ProfileID
				}
				run.profiles, err = s.Store.LoadProfiles(ctx, ids)
			}
			return err
		},
	)
	if err != nil {
		return nil, err
	}
	now := s.Clock.Now()
	for _, in := range sample {
		o := insightObservation{in: in, end: -1, endName: q.event}
		if q.goal {
			j := cat.Version(id, in.Version)
			if j == nil || j.Def.Goal == nil {
				run.sample.SampleSize--
				continue // a version without a goal: nothing to measure
			}
			o.endName = j.Def.Goal.Event
		}
		o.window(events[in.ProfileID], run.within)
		if q.goal {
			o.reached = !in.GoalAt.IsZero()
			if o.reached {
				o.end = slices.IndexFunc(o.events, func(e core.TimelineEvent) bool { return e.Label == o.endName })
			}
		} else {
			o.end = slices.IndexFunc(o.events, func(e core.TimelineEvent) bool { return e.Label == o.endName })
			o.reached = o.end >= 0
		}
		// Open: not there yet, but may get there (an instance that ended
		// cannot reach its goal any more; an event may come after it).
		if !o.reached && o.base().Add(run.within).After(now) && (!q.goal || in.EndedAt.IsZero()) {
			if q.settled {
				run.sample.SampleSize--
				continue
			}
			run.sample.Open++
		}
		run.obs = append(run.obs, o)
	}
	return run, nil
}

// hasGoal reports whether the version asked for (or, for 0, any version
// up to newest) has a goal.
func hasGoal(cat *machine.Catalog, id string, version, newest int) bool {
	for v := 1; v <= newest; v++ {
		if version > 0 && v != version {
			continue
		}
		if j := cat.Version(id, v); j != nil && j.Def.Goal != nil {
			return true
		}
	}
	return false
}

// window sets o's trigger and its events from the profile's events read:
// those after the trigger in the log and stamped from the trigger's time
// (the entry's, if the trigger is not there) to within after it, in time
// order, at most maxInstanceEvents.
func (o *insightObservation) window(all []core.TimelineEvent, within time.Duration) {
	if o.in.Trigger > 0 {
		if i, ok := slices.BinarySearchFunc(all, o.in.Trigger, func(e core.TimelineEvent, seq int64) int { return cmp.Compare(e.Seq, seq) }); ok {
			o.trigger = &all[i]
		}
	}
	base := o.base()
	until := base.Add(within)
	for i := range all {
		e := &all[i]
		if e.Seq <= o.in.Trigger || e.Timestamp.Before(base) || e.Timestamp.After(until) {
			continue
		}
		o.events = append(o.events, *e)
	}
	slices.SortStableFunc(o.events, func(a, b core.TimelineEvent) int {
		return cmp.Or(a.Timestamp.Compare(b.Timestamp), cmp.Compare(a.Seq, b.Seq))
	})
	if len(o.events) > maxInstanceEvents {
		o.events = o.events[:maxInstanceEvents]
	}
}

// before returns how many of o's events come before its end: all of
// them if it has none.
func (o *insightObservation) before() int {
	if o.end >= 0 {
		return o.end
	}
	return len(o.events)
}

// base is the start of o's window: its trigger's timestamp, else its
// entry time.
func (o *insightObservation) base() time.Time {
	if o.trigger != nil {
		return o.trigger.Timestamp
	}
	return o.in.EnteredAt
}

// inHalves calls read with the first and the second half of items at
// once (the stores read concurrently, and there are cores to decode on)
// and merges the two maps into *out.
func inHalves[T any, K comparable, V any](items []T, read func([]T) (map[K]V, error), out *map[K]V) error {
	if len(items) < 2*splitAt {
		m, err := read(items)
		*out = m
		return err
	}
	half := len(items) / 2
	var a, b map[K]V
	err := parallel(
		func() (err error) { a, err = read(items[:half]); return err },
		func() (err error) { b, err = read(items[half:]); return err },
	)
	if err != nil {
		return err
	}
	for k, v := range b {
		a[k] = v
	}
	*out = a
	return nil
}

// splitAt is the fewest items worth reading in two halves.
const splitAt = 1000

// parallel runs fns at once and returns the first error.
func parallel(fns ...func() error) error {
	errs := make(chan error, len(fns))
	for _, f := range fns[1:] {
		go func() { errs <- f() }()
	}
	err := fns[0]()
	for range fns[1:] {
		if e := <-errs; err == nil {
			err = e
		}
	}
	return err
}

// paths runs a path analysis (see JourneyPaths).
func (s *Server) paths(ctx context.Context, id string, q insightQuery) (*JourneyPaths, error) {
	run, err := s.loadInsight(ctx, id, q, false)
	if err != nil {
		return nil, err
	}
	out := &JourneyPaths{Journey: id, Version: q.version, From: q.fromDate, To: q.toDate, End: q.endName(),
		Within: journey.FormatDuration(run.within), InsightSample: run.sample}
	seqs := make([][]string, 0, len(run.obs))
	for i := range run.obs {
		o := &run.obs[i]
		var labels []string
		n := len(o.events)
		if o.end >= 0 {
			n = o.end + 1
		}
		labels = make([]string, 0, n+1)
		for _, e := range o.events[:n] {
			labels = append(labels, e.Label)
		}
		switch {
		case o.reached:
			out.Reached++
			if o.end < 0 {
				labels = append(labels, o.endName) // reached, its event not read
			}
		case q.goal:
			labels = append(labels, "(no goal)")
		default:
			labels = append(labels, "(no "+q.event+")")
		}
		seqs = append(seqs, labels)
	}
	out.PathReport = analytics.Paths(seqs, q.paths)
	return out, nil
}

// drivers runs a driver analysis (see JourneyDrivers).
func (s *Server) drivers(ctx context.Context, id string, q insightQuery) (*JourneyDrivers, error) {
	run, err := s.loadInsight(ctx, id, q, true)
	if err != nil {
		return nil, err
	}
	out := &JourneyDrivers{Journey: id, Version: q.version, From: q.fromDate, To: q.toDate, Outcome: q.endName(),
		Within: journey.FormatDuration(run.within), InsightSample: run.sample}
	// The bodies read: each instance's trigger, and the first event of
	// each name before the outcome (a customer's context seldom changes
	// between events of one name, and the presence of every event is
	// known from its label).
	var seqs []int64
	for i := range run.obs {
		o := &run.obs[i]
		if o.trigger != nil {
			seqs = append(seqs, o.trigger.Seq)
		}
		seen := map[string]bool{}
		for _, e := range o.events[:o.before()] {
			if !seen[e.Label] {
				seen[e.Label] = true
				seqs = append(seqs, e.Seq)
			}
		}
	}
	slices.Sort(seqs)
	seqs = slices.Compact(seqs)
	var bodies map[int64]*core.Event
	if err := inHalves(seqs, func(part []int64) (map[int64]*core.Event, error) { return s.Store.EventsBySeq(ctx, part) }, &bodies); err != nil {
		return nil, err
	}
	// One document per instance, built in two halves at once.
	docs := make([]map[string]any, len(run.obs))
	outcomes := make([]bool, len(run.obs))
	build := func(lo, hi int) {
		b := newDocBuilder()
		traits := map[string][]leaf{}
		for i := lo; i < hi; i++ {
			o := &run.obs[i]
			t, ok := traits[o.in.ProfileID]
			if !ok {
				t = b.traits(run.profiles[o.in.ProfileID])
				traits[o.in.ProfileID] = t
			}
			docs[i] = b.doc(o, t, bodies)
			if q.goal {
				outcomes[i] = !o.reached // drivers of failure
			} else {
				outcomes[i] = o.reached
			}
		}
	}
	half := len(run.obs) / 2
	_ = parallel(func() error { build(0, half); return nil }, func() error { build(half, len(run.obs)); return nil })
	features := analytics.Featurize(docs, analytics.FeatureOptions{})
	var pop analytics.Population
	for i, fs := range features {
		pop.Add(fs, outcomes[i])
	}
	out.DriverReport = pop.Drivers(q.drivers)
	return out, nil
}

// docBuilder builds the documents Featurize reads, one per instance:
// flat maps from a dotted path ("context.os.name") to a value, or to the
// list of the distinct values an instance's events had there (Featurize
// counts each element of a list under the list's path, so an instance
// whose events ran on iOS and on the web has both features).
type docBuilder struct {
	// parts caches the leaves of decoded JSON parts by prefix and raw
	// bytes: a device's context, an event's properties, a trait repeat.
	parts  map[string]map[string][]leaf
	cached int
	idKeys map[string]bool // identifierLike, by key
}

// leaf is one scalar of a JSON part at its dotted path.
type leaf struct {
	path  string
	value any
}

// maxCachedParts bounds docBuilder's cache.
const maxCachedParts = 200000

func newDocBuilder() *docBuilder {
	return &docBuilder{parts: map[string]map[string][]leaf{}, idKeys: map[string]bool{}}
}

// leaves returns the leaves of a JSON part under prefix.
func (b *docBuilder) leaves(prefix string, raw []byte) []leaf {
	byRaw := b.parts[prefix]
	if ls, ok := byRaw[string(raw)]; ok {
		return ls
	}
	var out []leaf
	if v, err := wire.DecodeValue(raw); err == nil {
		b.flatten(prefix, v, &out)
	}
	if b.cached < maxCachedParts {
		if byRaw == nil {
			byRaw = map[string][]leaf{}
			b.parts[prefix] = byRaw
		}
		byRaw[string(raw)] = out
		b.cached++
	}
	return out
}

// flatten appends v's scalars under path, leaving out identifier-like
// keys, the context's copies of traits and its external ids.
func (b *docBuilder) flatten(path string, v any, out *[]leaf) {
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			if b.identifier(k) {
				continue
			}
			p := path + "." + k
			if p == "context.traits" || p == "context.externalIds" {
				continue
			}
			b.flatten(p, x, out)
		}
	case []any:
		for _, x := range v {
			b.flatten(path, x, out)
		}
	case nil:
	default:
		*out = append(*out, leaf{path, v})
	}
}

func (b *docBuilder) identifier(key string) bool {
	id, ok := b.idKeys[key]
	if !ok {
		id = identifierLike(key)
		b.idKeys[key] = id
	}
	return id
}

// traits returns the leaves of a profile's traits; nil for no profile.
func (b *docBuilder) traits(p *core.Profile) []leaf {
	if p == nil {
		return nil
	}
	var out []leaf
	for k, t := range p.Traits {
		if !b.identifier(k) && k != "name" { // a person's name
			out = append(out, b.leaves("traits."+k, t.Value)...)
		}
	}
	return out
}

// doc is the document of one instance: the profile's traits, the journey
// version and arm, the presence of the window's events before the end
// ("event.NAME": true), and the context and properties of those of them
// whose bodies were read.
func (b *docBuilder) doc(o *insightObservation, traits []leaf, bodies map[int64]*core.Event) map[string]any {
	arm := core.ArmTreatment
	if o.in.Holdout {
		arm = core.ArmControl
	}
	doc := make(map[string]any, 16+len(traits))
	doc["journey.version"] = o.in.Version
	doc["journey.arm"] = arm
	for _, l := range traits {
		addLeaf(doc, l.path, l.value)
	}
	var lastCtx, lastProps []byte
	add := func(seq int64) {
		e := bodies[seq]
		if e == nil {
			return
		}
		if c := e.Context; len(c) > 0 && !bytes.Equal(c, lastCtx) {
			lastCtx = c
			for _, l := range b.leaves("context", c) {
				addLeaf(doc, l.path, l.value)
			}
		}
		if p := e.Properties; len(p) > 0 && !bytes.Equal(p, lastProps) {
			lastProps = p
			for _, l := range b.leaves("properties", p) {
				addLeaf(doc, l.path, l.value)
			}
		}
	}
	if o.trigger != nil {
		add(o.trigger.Seq)
	}
	for _, e := range o.events[:o.before()] {
		doc["event."+e.Label] = true
		add(e.Seq)
	}
	return doc
}

// addLeaf sets doc[path] to v, or adds v to the distinct values there.
func addLeaf(doc map[string]any, path string, v any) {
	old, ok := doc[path]
	if !ok {
		doc[path] = v
		return
	}
	if list, ok := old.([]any); ok {
		if !slices.Contains(list, v) {
			doc[path] = append(list, v)
		}
		return
	}
	if old != v {
		doc[path] = []any{old, v}
	}
}

// identifierWords are keys (lower case, without '_' and '-') whose values
// identify a person, a device or a message, or stamp a time: as features
// they only add noise, and a person's identifiers have no place in an
// analysis.
var identifierWords = map[string]bool{
	"id": true, "uuid": true, "guid": true, "messageid": true, "anonymousid": true, "userid": true, "previousid": true,
	"groupid": true, "sessionid": true, "requestid": true, "traceid": true, "deviceid": true, "advertisingid": true,
	"idfa": true, "idfv": true, "email": true, "emailaddress": true, "phone": true, "phonenumber": true, "mobile": true,
	"ip": true, "ipaddress": true, "token": true, "pushtoken": true, "devicetoken": true, "password": true,
	"timestamp": true, "originaltimestamp": true, "sentat": true, "receivedat": true, "createdat": true, "updatedat": true,
	"time": true, "date": true, "datetime": true, "birthday": true, "birthdate": true, "key": true, "useragent": true,
	"firstname": true, "lastname": true, "fullname": true, "username": true, "displayname": true,
	"address": true, "street": true, "postalcode": true, "zip": true,
}

// identifierSuffixes are endings of identifier and time keys.
var identifierSuffixes = []string{"_id", "-id", "Id", "ID", "_at", "At", "_email", "Email", "_phone", "Phone", "_token", "Token", "Timestamp", "_timestamp"}

// identifierLike reports whether a key names an identifier or a time
// (see identifierWords), or ends like one (identifierSuffixes).
func identifierLike(key string) bool {
	norm := make([]byte, 0, len(key))
	for i := 0; i < len(key); i++ {
		c := key[i]
		switch {
		case c == '_' || c == '-':
			continue
		case 'A' <= c && c <= 'Z':
			c += 'a' - 'A'
		}
		norm = append(norm, c)
	}
	if identifierWords[string(norm)] {
		return true
	}
	for _, suffix := range identifierSuffixes {
		if len(key) > len(suffix) && strings.HasSuffix(key, suffix) {
			return true
		}
	}
	return false
}

// writePathsCSV writes the top paths, one per row: rank, count, share,
// and the labels joined by " > ".
func writePathsCSV(w http.ResponseWriter, id string, p *JourneyPaths) error {
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="`+id+`-paths.csv"`)
	w.WriteHeader(http.StatusOK)
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{"rank", "count", "share", "path"})
	for i, pc := range p.Top {
		_ = cw.Write([]string{strconv.Itoa(i + 1), strconv.Itoa(pc.Count), ratio(pc.Share), strings.Join(pc.Steps, " > ")})
	}
	cw.Flush()
	return nil
}

// writeDriversCSV writes the drivers, one per row: rank, the features
// joined by " & ", support, outcomes, rate, the others' rate, relative
// risk and its interval.
func writeDriversCSV(w http.ResponseWriter, id string, d *JourneyDrivers) error {
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="`+id+`-drivers.csv"`)
	w.WriteHeader(http.StatusOK)
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{"rank", "features", "support", "outcomes", "rate", "others_rate", "relative_risk", "ci_low", "ci_high"})
	for i, dr := range d.Drivers {
		_ = cw.Write([]string{strconv.Itoa(i + 1), dr.Label(), strconv.Itoa(dr.Support), strconv.Itoa(dr.Outcomes),
			ratio(dr.Rate), ratio(dr.OthersRate), ratio(dr.RelativeRisk), ratio(dr.CI.Lo), ratio(dr.CI.Hi)})
	}
	cw.Flush()
	return nil
}

func ratio(f float64) string { return strconv.FormatFloat(f, 'f', 6, 64) }
