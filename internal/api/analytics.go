package api

import (
	"cmp"
	"encoding/csv"
	"math"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/overture-cjo/overture/internal/analytics"
	"github.com/overture-cjo/overture/internal/catalog"
	"github.com/overture-cjo/overture/internal/core"
	"github.com/overture-cjo/overture/internal/journey"
)

// JourneyAnalytics is the answer of GET /v1/journeys/{id}/analytics:
// per version, the funnel of steps, the goal with holdout uplift, and
// per-channel and per-offer performance; and the daily series of the
// versions asked for.
type JourneyAnalytics struct {
	Journey  string             `json:"journey"`
	From     string             `json:"from,omitempty"` // the daily series' bounds, as asked (YYYY-MM-DD)
	To       string             `json:"to,omitempty"`
	Versions []VersionAnalytics `json:"versions"` // oldest first
	Daily    []DayAnalytics     `json:"daily"`
}

// VersionAnalytics is one journey version's counters since it was
// applied.
type VersionAnalytics struct {
	Version        int                `json:"version"`
	HoldoutPercent int                `json:"holdoutPercent"`
	Entered        int64              `json:"entered"`
	Waiting        int64              `json:"waiting"` // active instances now
	Exited         map[string]int64   `json:"exited"`  // by end reason
	Goal           *GoalAnalytics     `json:"goal,omitempty"`
	Steps          []StepAnalytics    `json:"steps"` // in the definition's order
	Channels       []MessageAnalytics `json:"channels"`
	Offers         []MessageAnalytics `json:"offers"`
}

// GoalAnalytics is how many instances reached the goal within its
// window, the conversion rate with its Wilson interval, the time to the
// goal, and, with a holdout, the uplift of the treated over the control
// group.
type GoalAnalytics struct {
	Event        string                      `json:"event"`
	Within       string                      `json:"within,omitempty"` // the window; "" for none
	Reached      int64                       `json:"reached"`
	Conversion   float64                     `json:"conversion"` // Reached / Entered
	ConversionCI analytics.Interval          `json:"conversionCi"`
	TimeToGoal   analytics.DurationSummary   `json:"timeToGoal"`
	Uplift       *analytics.UpliftResult     `json:"uplift,omitempty"` // when the version has a holdout or a control group
	ByArm        map[string]ArmGoalAnalytics `json:"byArm"`
}

// ArmGoalAnalytics is one arm's (treatment, control) entries, goals and
// time to goal.
type ArmGoalAnalytics struct {
	Entered    int64                     `json:"entered"`
	Reached    int64                     `json:"reached"`
	TimeToGoal analytics.DurationSummary `json:"timeToGoal"`
}

// StepAnalytics is one step's counters.
type StepAnalytics struct {
	Step       string           `json:"step"`
	Type       string           `json:"type"`
	Reached    int64            `json:"reached"` // visits
	Waiting    int64            `json:"waiting"` // active instances at the step now
	Sent       int64            `json:"sent"`
	Delayed    map[string]int64 `json:"delayed"`    // delay decisions by rule
	Suppressed map[string]int64 `json:"suppressed"` // suppressions by rule ("holdout" for the control group)
	Exited     map[string]int64 `json:"exited"`     // instances that ended here, by reason
	Goal       int64            `json:"goal"`       // instances that reached the goal while here
}

// MessageAnalytics is the performance of a channel or an offer: messages
// sent, what their message events reported, the instances that reached
// the goal after one, and the channel's cost.
type MessageAnalytics struct {
	Channel        string  `json:"channel,omitempty"`
	Offer          string  `json:"offer,omitempty"`
	Sent           int64   `json:"sent"`
	Delivered      int64   `json:"delivered"`
	Opened         int64   `json:"opened"`
	Clicked        int64   `json:"clicked"`
	Failed         int64   `json:"failed"`
	Converted      int64   `json:"converted"`
	DeliveryRate   float64 `json:"deliveryRate"`   // Delivered / Sent
	OpenRate       float64 `json:"openRate"`       // Opened / Delivered
	ClickRate      float64 `json:"clickRate"`      // Clicked / Delivered
	ConversionRate float64 `json:"conversionRate"` // Converted / Sent
	Cost           float64 `json:"cost"`           // Sent times the channel's unit cost (channels only)
}

// DayAnalytics is one UTC day of the daily series.
type DayAnalytics struct {
	Date       string           `json:"date"` // YYYY-MM-DD
	Entered    int64            `json:"entered"`
	Converted  int64            `json:"converted"` // goals reached
	Suppressed int64            `json:"suppressed"`
	Messages   map[string]int64 `json:"messages"` // sent, by channel
	Cost       float64          `json:"cost"`
}

// maxDays bounds the daily series (ten years).
const maxDays = 3660

// ParseChannelCosts parses unit costs per channel, "email=0.0004,sms=0.0079"
// ("" is none).
func ParseChannelCosts(s string) (map[string]float64, error) {
	costs := map[string]float64{}
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		ch, v, ok := strings.Cut(part, "=")
		ch = strings.TrimSpace(ch)
		f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if !ok || ch == "" || err != nil || f < 0 || math.IsInf(f, 0) || math.IsNaN(f) {
			return nil, core.Errorf(core.EINVALID, "channel-costs", "%q: want channel=cost, the cost a non-negative number", part)
		}
		costs[ch] = f
	}
	return costs, nil
}

// analyticsQuery is what GET /v1/journeys/{id}/analytics asks for.
type analyticsQuery struct {
	version  int
	from, to int // StatDay; 0: unbounded
	csv      bool
}

func parseAnalyticsQuery(r *http.Request) (analyticsQuery, error) {
	var q analyticsQuery
	v := r.URL.Query()
	if s := v.Get("version"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			return q, core.Errorf(core.EINVALID, "version", "version must be a positive integer")
		}
		q.version = n
	}
	for _, p := range []struct {
		name string
		day  *int
	}{{"from", &q.from}, {"to", &q.to}} {
		s := v.Get(p.name)
		if s == "" {
			continue
		}
		t, err := time.Parse(time.DateOnly, s)
		if err != nil {
			return q, core.Errorf(core.EINVALID, p.name, "%s must be a date, YYYY-MM-DD", p.name)
		}
		*p.day = core.StatDay(t)
	}
	if q.from > 0 && q.to > 0 && q.from > q.to {
		return q, core.Errorf(core.EINVALID, "to", "to is before from")
	}
	switch v.Get("format") {
	case "csv":
		q.csv = true
	case "", "json":
		if v.Get("format") == "" {
			for _, a := range strings.Split(r.Header.Get("Accept"), ",") {
				if mt, _, err := mime.ParseMediaType(strings.TrimSpace(a)); err == nil && mt == "text/csv" {
					q.csv = true
				}
			}
		}
	default:
		return q, core.Errorf(core.EINVALID, "format", "format must be json or csv")
	}
	return q, nil
}

// journeyAnalytics answers GET /v1/journeys/{id}/analytics[?version=&from=&to=&format=csv].
func (s *Server) journeyAnalytics(w http.ResponseWriter, r *http.Request) error {
	js, err := s.journeys()
	if err != nil {
		return err
	}
	q, err := parseAnalyticsQuery(r)
	if err != nil {
		return err
	}
	id := r.PathValue("id")
	sum, err := js.Get(r.Context(), id)
	if err != nil {
		return err
	}
	if q.version > 0 && !slices.ContainsFunc(sum.Versions, func(v catalog.VersionSummary) bool { return v.Version == q.version }) {
		return core.Errorf(core.ENOTFOUND, "version", "journey %q has no version %d", id, q.version)
	}
	ctx := r.Context()
	totals, err := s.Store.JourneyStats(ctx, core.JourneyStatsQuery{Journey: id, Version: q.version})
	if err != nil {
		return err
	}
	daily, err := s.Store.JourneyStats(ctx, core.JourneyStatsQuery{Journey: id, Version: q.version, Daily: true, From: q.from, To: q.to})
	if err != nil {
		return err
	}
	if q.csv {
		return writeAnalyticsCSV(w, id, totals, daily, sum.Versions, q.version, s.ChannelCosts)
	}
	cat := js.Catalog()
	out := JourneyAnalytics{Journey: id, Versions: []VersionAnalytics{}}
	if q.from > 0 {
		out.From = core.StatDate(q.from).Format(time.DateOnly)
	}
	if q.to > 0 {
		out.To = core.StatDate(q.to).Format(time.DateOnly)
	}
	for _, vs := range sum.Versions {
		if q.version > 0 && vs.Version != q.version {
			continue
		}
		var def *journey.Definition
		if j := cat.Version(id, vs.Version); j != nil {
			def = j.Def
		}
		var stats []core.JourneyStat
		for _, st := range totals {
			if st.Version == vs.Version {
				stats = append(stats, st)
			}
		}
		out.Versions = append(out.Versions, versionAnalytics(vs.Version, def, stats, vs.AtStep, s.ChannelCosts))
	}
	out.Daily = dailyAnalytics(daily, q.from, q.to, s.ChannelCosts)
	writeJSON(w, http.StatusOK, out)
	return nil
}

// rate returns a/b, or 0 when b is 0.
func rate(a, b int64) float64 {
	if b <= 0 {
		return 0
	}
	return float64(a) / float64(b)
}

// addTo adds n to m[k], making m if need be.
func addTo(m map[string]int64, k string, n int64) map[string]int64 {
	if m == nil {
		m = map[string]int64{}
	}
	m[k] += n
	return m
}

// versionAnalytics builds one version's analytics from its counters
// (summed over days), its definition (nil if unknown: steps then in name
// order) and its active instances per step.
func versionAnalytics(version int, def *journey.Definition, stats []core.JourneyStat, waiting map[string]int64, costs map[string]float64) VersionAnalytics {
	va := VersionAnalytics{Version: version, Exited: map[string]int64{}, Steps: []StepAnalytics{}, Channels: []MessageAnalytics{}, Offers: []MessageAnalytics{}}
	steps := map[string]*StepAnalytics{}
	var order []string
	step := func(name string) *StepAnalytics {
		if sa := steps[name]; sa != nil {
			return sa
		}
		sa := &StepAnalytics{Step: name, Delayed: map[string]int64{}, Suppressed: map[string]int64{}, Exited: map[string]int64{}}
		if def != nil && def.Steps[name] != nil {
			sa.Type = def.Steps[name].Type
		}
		steps[name] = sa
		order = append(order, name)
		return sa
	}
	if def != nil {
		va.HoldoutPercent = def.Holdout
		for _, name := range def.StepOrder {
			step(name)
		}
	}
	for name, n := range waiting {
		step(name).Waiting += n
		va.Waiting += n
	}
	channels, offers := map[string]*MessageAnalytics{}, map[string]*MessageAnalytics{}
	message := func(dim string) (*MessageAnalytics, *MessageAnalytics) {
		ch, of := core.SplitMessageDim(dim)
		c := channels[ch]
		if c == nil {
			c = &MessageAnalytics{Channel: ch}
			channels[ch] = c
		}
		if of == "" {
			return c, nil
		}
		o := offers[of]
		if o == nil {
			o = &MessageAnalytics{Offer: of}
			offers[of] = o
		}
		return c, o
	}
	arms := map[string]*ArmGoalAnalytics{core.ArmTreatment: {}, core.ArmControl: {}}
	ttg := map[string][]int64{}
	var allTTG []int64
	var goals int64
	for _, st := range stats {
		switch st.Metric {
		case core.StatEntered:
			va.Entered += st.N
			if a := arms[st.Dim]; a != nil {
				a.Entered += st.N
			}
		case core.StatReached:
			step(st.Step).Reached += st.N
		case core.StatDelayed:
			step(st.Step).Delayed[st.Dim] += st.N
		case core.StatSuppressed:
			step(st.Step).Suppressed[st.Dim] += st.N
		case core.StatExited:
			step(st.Step).Exited[st.Dim] += st.N
			va.Exited[st.Dim] += st.N
		case core.StatGoal:
			step(st.Step).Goal += st.N
			goals += st.N
			if a := arms[st.Dim]; a != nil {
				a.Reached += st.N
			}
		case core.StatTimeToGoal:
			arm, b, ok := core.SplitTimeToGoalDim(st.Dim)
			if !ok {
				continue
			}
			counts := make([]int64, b+1)
			counts[b] = st.N
			ttg[arm] = analytics.MergeCounts(ttg[arm], counts)
			allTTG = analytics.MergeCounts(allTTG, counts)
		case core.StatSent, core.StatDelivered, core.StatOpened, core.StatClicked, core.StatFailed, core.StatConverted:
			if st.Metric == core.StatSent {
				step(st.Step).Sent += st.N
			}
			c, o := message(st.Dim)
			for _, m := range []*MessageAnalytics{c, o} {
				if m == nil {
					continue
				}
				switch st.Metric {
				case core.StatSent:
					m.Sent += st.N
				case core.StatDelivered:
					m.Delivered += st.N
				case core.StatOpened:
					m.Opened += st.N
				case core.StatClicked:
					m.Clicked += st.N
				case core.StatFailed:
					m.Failed += st.N
				case core.StatConverted:
					m.Converted += st.N
				}
			}
		}
	}
	for _, name := range order {
		va.Steps = append(va.Steps, *steps[name])
	}
	if (def != nil && def.Goal != nil) || goals > 0 {
		g := &GoalAnalytics{Reached: goals, Conversion: rate(goals, va.Entered),
			ConversionCI: analytics.Wilson(int(goals), int(va.Entered), 0), TimeToGoal: analytics.SummarizeDurations(allTTG),
			ByArm: map[string]ArmGoalAnalytics{}}
		if def != nil && def.Goal != nil {
			g.Event = def.Goal.Event
			if def.Goal.Within > 0 {
				g.Within = journey.FormatDuration(def.Goal.Within)
			}
		}
		for name, a := range arms {
			a.TimeToGoal = analytics.SummarizeDurations(ttg[name])
			g.ByArm[name] = *a
		}
		t, c := arms[core.ArmTreatment], arms[core.ArmControl]
		if va.HoldoutPercent > 0 || c.Entered > 0 {
			u := analytics.Uplift(int(t.Reached), int(t.Entered), int(c.Reached), int(c.Entered), 0)
			g.Uplift = &u
		}
		va.Goal = g
	}
	va.Channels = messageList(channels, costs)
	va.Offers = messageList(offers, nil)
	return va
}

// messageList returns the performances in key order, with their rates
// and costs.
func messageList(m map[string]*MessageAnalytics, costs map[string]float64) []MessageAnalytics {
	out := make([]MessageAnalytics, 0, len(m))
	for _, x := range m {
		x.DeliveryRate = rate(x.Delivered, x.Sent)
		x.OpenRate = rate(x.Opened, x.Delivered)
		x.ClickRate = rate(x.Clicked, x.Delivered)
		x.ConversionRate = rate(x.Converted, x.Sent)
		if costs != nil {
			x.Cost = float64(x.Sent) * costs[x.Channel]
		}
		out = append(out, *x)
	}
	slices.SortFunc(out, func(a, b MessageAnalytics) int {
		return cmp.Or(strings.Compare(a.Channel, b.Channel), strings.Compare(a.Offer, b.Offer))
	})
	return out
}

// dailyAnalytics builds the daily series from the daily counters, one
// entry per day from from (or the first day counted) to to (or the last),
// days without counts included, at most maxDays.
func dailyAnalytics(stats []core.JourneyStat, from, to int, costs map[string]float64) []DayAnalytics {
	byDay := map[int]*DayAnalytics{}
	first, last := from, to
	for _, st := range stats {
		d := byDay[st.Day]
		if d == nil {
			d = &DayAnalytics{Messages: map[string]int64{}}
			byDay[st.Day] = d
		}
		if from == 0 && (first == 0 || st.Day < first) {
			first = st.Day
		}
		if to == 0 && (last == 0 || st.Day > last) {
			last = st.Day
		}
		switch st.Metric {
		case core.StatEntered:
			d.Entered += st.N
		case core.StatGoal:
			d.Converted += st.N
		case core.StatSuppressed:
			d.Suppressed += st.N
		case core.StatSent:
			ch, _ := core.SplitMessageDim(st.Dim)
			d.Messages[ch] += st.N
			d.Cost += float64(st.N) * costs[ch]
		}
	}
	out := []DayAnalytics{}
	if first == 0 || last == 0 {
		return out // nothing counted, and a bound open
	}
	for t := core.StatDate(first); !t.After(core.StatDate(last)) && len(out) < maxDays; t = t.AddDate(0, 0, 1) {
		day := core.StatDay(t)
		d := byDay[day]
		if d == nil {
			d = &DayAnalytics{Messages: map[string]int64{}}
		}
		d.Date = t.Format(time.DateOnly)
		out = append(out, *d)
	}
	return out
}

// writeAnalyticsCSV writes the counters as CSV, one per row: journey,
// version, step, metric, dimension, date, value. Rows without a date are
// totals since the version was applied (a daily metric's too, summed over
// its days), one per step; rows with a date are the daily series between
// from and to, summed over steps. The active instances per step are rows
// of metric "waiting", and the cost of the messages sent rows of metric
// "cost" per channel, in total and per day.
func writeAnalyticsCSV(w http.ResponseWriter, id string, totals, daily []core.JourneyStat, versions []catalog.VersionSummary, only int, costs map[string]float64) error {
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="`+id+`-analytics.csv"`)
	w.WriteHeader(http.StatusOK)
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{"journey", "version", "step", "metric", "dimension", "date", "value"})
	row := func(version int, step, metric, dim, date, value string) {
		_ = cw.Write([]string{id, strconv.Itoa(version), step, metric, dim, date, value})
	}
	money := func(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }
	for _, st := range totals {
		row(st.Version, st.Step, st.Metric, st.Dim, "", strconv.FormatInt(st.N, 10))
	}
	for _, vs := range versions {
		if only > 0 && vs.Version != only {
			continue
		}
		names := make([]string, 0, len(vs.AtStep))
		for name := range vs.AtStep {
			names = append(names, name)
		}
		slices.Sort(names)
		for _, name := range names {
			row(vs.Version, name, "waiting", "", "", strconv.FormatInt(vs.AtStep[name], 10))
		}
	}
	type costKey struct {
		version int
		channel string
		date    string
	}
	cost := map[costKey]float64{}
	var keys []costKey
	add := func(k costKey, n int64) {
		if _, ok := costs[k.channel]; !ok {
			return
		}
		if _, ok := cost[k]; !ok {
			keys = append(keys, k)
		}
		cost[k] += float64(n) * costs[k.channel]
	}
	for _, st := range totals {
		if st.Metric == core.StatSent {
			ch, _ := core.SplitMessageDim(st.Dim)
			add(costKey{st.Version, ch, ""}, st.N)
		}
	}
	for _, st := range daily {
		date := core.StatDate(st.Day).Format(time.DateOnly)
		row(st.Version, "", st.Metric, st.Dim, date, strconv.FormatInt(st.N, 10))
		if st.Metric == core.StatSent {
			ch, _ := core.SplitMessageDim(st.Dim)
			add(costKey{st.Version, ch, date}, st.N)
		}
	}
	slices.SortFunc(keys, func(a, b costKey) int {
		return cmp.Or(cmp.Compare(a.version, b.version), strings.Compare(a.date, b.date), strings.Compare(a.channel, b.channel))
	})
	for _, k := range keys {
		row(k.version, "", "cost", k.channel, k.date, money(cost[k]))
	}
	cw.Flush()
	return nil
}
