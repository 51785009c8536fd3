package api

import (
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"math/rand/v2"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/overture-cjo/overture/internal/core"
	"github.com/overture-cjo/overture/internal/decide"
	"github.com/overture-cjo/overture/internal/engine"
	"github.com/overture-cjo/overture/internal/machine"
	"github.com/overture-cjo/overture/internal/policy"
	"github.com/overture-cjo/overture/internal/touchpoint"
)

// Limits of the touchpoint API.
const (
	maxContextHours    = 720  // interactions looked back at most 30 days
	maxRecent          = 50   // interactions listed
	maxInteractions    = 1000 // events read for the interaction counts
	maxDecideBody      = 64 << 10
	defaultOfferLimit  = 3
	maxOfferLimit      = 50
	maxRecordsInFlight = 4096 // touchpoint events waiting for the log
)

// resolveCustomer finds the profile an identifier names: a profile id, or
// KIND:VALUE with KIND one of user_id, anonymous_id, email, phone,
// external (external:TYPE:ID). ENOTFOUND if there is none.
func (s *Server) resolveCustomer(ctx context.Context, ref string) (*core.Profile, error) {
	if kind, value, ok := strings.Cut(ref, ":"); ok {
		id := core.Identifier{Kind: kind, Value: value}
		switch kind {
		case core.KindEmail:
			id.Value = core.NormalizeEmail(value)
		case core.KindPhone:
			id.Value = core.NormalizePhone(value)
		case core.KindUserID, core.KindAnonymousID, core.KindExternal:
		default:
			id.Kind = ""
		}
		if id.Kind != "" {
			if id.Value == "" {
				return nil, core.Errorf(core.EINVALID, "id", "%s %q is not valid", kind, value)
			}
			found, err := s.Store.LookupIdentities(ctx, []string{id.Key()})
			if err != nil {
				return nil, err
			}
			pid, ok := found[id.Key()]
			if !ok {
				return nil, core.Errorf(core.ENOTFOUND, "id", "no profile with %s", id.Key())
			}
			ref = pid
		}
	}
	return s.Store.GetProfile(ctx, ref)
}

// CustomerContext is what a touchpoint is told about a customer.
type CustomerContext struct {
	ProfileID    string            `json:"profileId"`
	Summary      ProfileSummary    `json:"summary"`
	Tier         string            `json:"tier"`
	TierReason   string            `json:"tierReason"`
	Journeys     []ActiveJourney   `json:"journeys"`
	Interactions Interactions      `json:"interactions"`
	Suppressions []OpenSuppression `json:"suppressions"`
}

// ProfileSummary is the short form of a profile.
type ProfileSummary struct {
	Traits         map[string]any  `json:"traits"`
	ComputedTraits map[string]any  `json:"computedTraits"`
	Consent        map[string]bool `json:"consent"`
	Timezone       string          `json:"timezone,omitempty"`
	Audiences      []string        `json:"audiences"`
	FirstSeen      time.Time       `json:"firstSeen"`
	LastSeen       time.Time       `json:"lastSeen"`
}

// ActiveJourney is one of the customer's active journey instances.
type ActiveJourney struct {
	Journey   string     `json:"journey"`
	Version   int        `json:"version"`
	Category  string     `json:"category,omitempty"`
	Step      string     `json:"step"`
	EnteredAt time.Time  `json:"enteredAt"`
	Due       *time.Time `json:"due,omitempty"`
	HeldBy    string     `json:"heldBy,omitempty"` // the rule delaying a send at this step
}

// Interactions are the customer's recent events, by channel.
type Interactions struct {
	Since     time.Time      `json:"since"`
	ByChannel map[string]int `json:"byChannel"`
	Recent    []Interaction  `json:"recent"` // newest first, at most 50
}

// Interaction is one recent event.
type Interaction struct {
	At      time.Time `json:"at"`
	Event   string    `json:"event"`
	Channel string    `json:"channel"`
}

// OpenSuppression is a contact-policy rule that mutes the customer now.
type OpenSuppression struct {
	Rule   string     `json:"rule"`
	Kind   string     `json:"kind"` // consent, suppression, frequency_cap, held
	Detail string     `json:"detail"`
	Until  *time.Time `json:"until,omitempty"`
}

// customerState is everything the touchpoint API reads about a customer.
type customerState struct {
	profile   *core.Profile
	instances []*core.Instance
	view      map[string]any // `profile` for CEL
	ctx       CustomerContext
	tpInput   touchpoint.Input
}

// customer loads a customer and builds their context at now, counting
// interactions over the last `window`.
//
// The engine's in-memory view of the customer (their committed state,
// published by the partition after each change) answers when it has one;
// what it lacks (a profile not changed since start, instances or events
// it did not hold) is read from the store.
func (s *Server) customer(ctx context.Context, ref string, window time.Duration, now time.Time) (*customerState, error) {
	since := now.Add(-window)
	var p *core.Profile
	var active []*core.Instance
	var touches []engine.Touch
	var pmap map[string]any
	haveActive, haveTouches := false, false
	if v, ok := s.Engine.View(ref); ok {
		p, pmap = v.Profile, v.ProfileMap()
		active, haveActive = v.Active, v.ActiveKnown
		touches, haveTouches = v.Interactions(since)
	} else {
		var err error
		if p, err = s.resolveCustomer(ctx, ref); err != nil {
			return nil, err
		}
	}
	if !haveActive {
		insts, err := s.Store.LoadInstances(ctx, []string{p.ID})
		if err != nil {
			return nil, err
		}
		active = insts[p.ID]
	}
	if !haveTouches {
		evs, err := s.recentEvents(ctx, p.ID, since)
		if err != nil {
			return nil, err
		}
		for _, e := range evs {
			touches = append(touches, engine.Touch{At: e.Timestamp, Event: e.Label(), Channel: core.EventChannel(e)})
		}
	}
	st := &customerState{profile: p, instances: active}
	computed := map[string]any{}
	if set := s.Engine.Traits(); set != nil {
		computed = set.Values(computedOf(p), now)
	}
	if pmap == nil {
		st.view = core.ProfileMap(p)
	} else {
		st.view = make(map[string]any, len(pmap)+1)
		for k, x := range pmap {
			st.view[k] = x
		}
	}
	st.view["computed"] = computed
	c := &st.ctx
	c.ProfileID = p.ID
	c.Summary = ProfileSummary{Traits: map[string]any{}, ComputedTraits: computed, Consent: map[string]bool{},
		Timezone: p.TimezoneName(), Audiences: []string{}, FirstSeen: p.FirstSeen, LastSeen: p.LastSeen}
	for k, t := range p.Traits {
		var v any
		_ = json.Unmarshal(t.Value, &v)
		c.Summary.Traits[k] = v
	}
	for ch, x := range p.Consent {
		c.Summary.Consent[ch] = x.Granted
	}
	for id, m := range p.Audiences {
		if m.Member {
			c.Summary.Audiences = append(c.Summary.Audiences, id)
		}
	}
	sort.Strings(c.Summary.Audiences)

	cat := s.journeyCategories()
	c.Journeys = []ActiveJourney{}
	for _, in := range st.instances {
		if in.Status != core.InstanceActive {
			continue
		}
		aj := ActiveJourney{Journey: in.JourneyID, Version: in.Version, Category: cat(in.JourneyID, in.Version), Step: in.Step, EnteredAt: in.EnteredAt}
		if !in.Due.IsZero() {
			due := in.Due
			aj.Due = &due
		}
		if in.Held != nil {
			aj.HeldBy = in.Held.Rule
		}
		c.Journeys = append(c.Journeys, aj)
		st.tpInput.Journeys = append(st.tpInput.Journeys, touchpoint.Journey{ID: in.JourneyID, Step: in.Step, Category: aj.Category, EnteredAt: in.EnteredAt})
	}

	c.Interactions = Interactions{Since: since, ByChannel: map[string]int{}, Recent: []Interaction{}}
	for _, t := range touches { // newest first
		if t.At.Before(since) || t.At.After(now) {
			continue
		}
		c.Interactions.ByChannel[t.Channel]++
		if len(c.Interactions.Recent) < maxRecent {
			c.Interactions.Recent = append(c.Interactions.Recent, Interaction{At: t.At, Event: t.Event, Channel: t.Channel})
		}
	}
	c.Suppressions = s.openSuppressions(st, now)

	st.tpInput.Profile = st.view
	st.tpInput.Interactions = c.Interactions.ByChannel
	st.tpInput.Now = now
	c.Tier, c.TierReason = touchpoint.StandardTier, "no interaction policy declares value tiers"
	if set := s.interactions(); set != nil {
		c.Tier, c.TierReason = set.Tier(st.tpInput)
	}
	return st, nil
}

// recentEvents returns the profile's timeline events newer than since,
// newest first, at most maxInteractions: pages of the timeline are read
// until one reaches past since (events arrive roughly in time order; a
// late event older than since is skipped by the caller).
func (s *Server) recentEvents(ctx context.Context, profileID string, since time.Time) ([]*core.Event, error) {
	var out []*core.Event
	var before int64
	page := 64
	for len(out) < maxInteractions {
		evs, err := s.Store.ListEvents(ctx, profileID, before, page)
		if err != nil {
			return nil, err
		}
		out = append(out, evs...)
		if len(evs) < page || evs[len(evs)-1].Timestamp.Before(since) {
			break
		}
		before = evs[len(evs)-1].Seq
		page = min(4*page, maxInteractions-len(out))
	}
	return out, nil
}

// journeyCategories returns a lookup of journey categories by version.
func (s *Server) journeyCategories() func(id string, version int) string {
	if s.Journeys == nil {
		return func(string, int) string { return "" }
	}
	cat := s.Journeys.Catalog()
	return func(id string, version int) string {
		if j := cat.Version(id, version); j != nil {
			return j.Def.Category
		}
		return ""
	}
}

// interactions returns the interaction policies in force, or nil.
func (s *Server) interactions() *touchpoint.Set {
	if s.Decisioning == nil {
		return nil
	}
	return s.Decisioning.InteractionSet()
}

// openSuppressions lists what mutes the customer now under the contact
// policy: channels without consent, suppression rules an active instance
// triggers, caps at their maximum, and sends held at a step.
func (s *Server) openSuppressions(st *customerState, now time.Time) []OpenSuppression {
	out := []OpenSuppression{}
	var pol *policy.Policy
	if s.Decisioning != nil {
		pol = s.Decisioning.CurrentPolicy()
	}
	p := st.profile
	if pol != nil {
		for _, ch := range pol.Consent.Channels {
			if !p.Consent[ch].Granted {
				out = append(out, OpenSuppression{Rule: "consent:" + ch, Kind: "consent",
					Detail: "no consent for " + ch + " (except categories " + strings.Join(pol.Consent.OverrideCategories, ", ") + ")"})
			}
		}
		for _, r := range pol.Suppression {
			for _, j := range st.ctx.Journeys {
				if (r.WhileCategory != "" && r.WhileCategory == j.Category) || (r.WhileJourney != "" && r.WhileJourney == j.Journey) {
					target := r.SuppressCategory
					if target == "" {
						target = "journey " + r.SuppressJourney
					}
					out = append(out, OpenSuppression{Rule: "suppression:" + r.Name, Kind: "suppression",
						Detail: string(r.Action) + " " + target + " while in journey " + j.Journey})
					break
				}
			}
		}
		for _, c := range pol.Caps {
			n := 0
			var oldest time.Time
			for _, x := range p.Contacts {
				if (c.Channel == "" || c.Channel == x.Channel) && (c.Category == "" || c.Category == x.Category) &&
					x.At.After(now.Add(-c.Window)) && !x.At.After(now) {
					if n == 0 {
						oldest = x.At
					}
					n++
				}
			}
			if n >= c.Max {
				until := oldest.Add(c.Window)
				out = append(out, OpenSuppression{Rule: "frequency_cap:" + c.Name, Kind: "frequency_cap",
					Detail: strconv.Itoa(n) + " of at most " + strconv.Itoa(c.Max) + " in " + c.Window.String(), Until: &until})
			}
		}
	}
	for _, in := range st.instances {
		if in.Status == core.InstanceActive && in.Held != nil {
			due := in.Due
			out = append(out, OpenSuppression{Rule: in.Held.Rule, Kind: "held",
				Detail: "journey " + in.JourneyID + " step " + in.Step + " held", Until: &due})
		}
	}
	return out
}

// contextHours reads ?hours= (default: the interaction policies' window).
func (s *Server) contextWindow(v string) (time.Duration, error) {
	if v == "" {
		if set := s.interactions(); set != nil {
			return set.Window(), nil
		}
		return touchpoint.DefaultWindow, nil
	}
	h, err := strconv.ParseFloat(v, 64)
	if err != nil || h <= 0 || h > maxContextHours {
		return 0, core.Errorf(core.EINVALID, "hours", "hours must be a number above 0 and at most %d", maxContextHours)
	}
	return time.Duration(h * float64(time.Hour)), nil
}

// getContext answers GET /v1/profiles/{id}/context: who the customer is,
// their value tier, active journeys and steps, interactions in the last
// hours, and what the contact policy holds against them now. {id} is a
// profile id or KIND:VALUE (user_id:42, email:ann@example.com).
func (s *Server) getContext(w http.ResponseWriter, r *http.Request) error {
	window, err := s.contextWindow(r.URL.Query().Get("hours"))
	if err != nil {
		return err
	}
	st, err := s.customer(r.Context(), r.PathValue("id"), window, s.Clock.Now())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, st.ctx)
	return nil
}

// DecideRequest is the body of POST /v1/decide.
type DecideRequest struct {
	Customer   string         `json:"customer"` // a profile id or KIND:VALUE
	UserID     string         `json:"userId"`
	Touchpoint string         `json:"touchpoint"`
	Context    map[string]any `json:"context"`
	Offers     *struct {
		Limit   *int   `json:"limit"`
		Channel string `json:"channel"`
		Explain bool   `json:"explain"` // also list the offers not eligible, with why
	} `json:"offers"`
	Hours float64 `json:"hours"`
	// WithContext adds the customer's whole context (as GET
	// /v1/profiles/{id}/context answers it) to the response.
	WithContext bool `json:"withContext"`
}

// DecideResponse is the answer of POST /v1/decide.
type DecideResponse struct {
	ProfileID   string              `json:"profileId"`
	Touchpoint  string              `json:"touchpoint"`
	Tier        string              `json:"tier"`
	TierReason  string              `json:"tierReason"`
	Actions     []touchpoint.Action `json:"actions"`
	Offers      []RankedOffer       `json:"offers"`
	NotEligible []RankedOffer       `json:"notEligible,omitempty"` // with offers.explain
	Errors      []string            `json:"errors,omitempty"`
	Journeys    []ActiveJourney     `json:"journeys"`          // the customer's active journeys and steps
	Context     *CustomerContext    `json:"context,omitempty"` // with withContext
	EventID     string              `json:"eventId"`           // the touchpoint_decision event on the customer's timeline
}

// RankedOffer is one offer in a decision, with why.
type RankedOffer struct {
	ID         string  `json:"id"`
	Name       string  `json:"name,omitempty"`
	Category   string  `json:"category"`
	Rank       int     `json:"rank"`
	Score      float64 `json:"score"`
	Propensity float64 `json:"propensity"`
	Mean       float64 `json:"mean"`
	Value      float64 `json:"value"`
	Bucket     string  `json:"bucket,omitempty"`
	Explored   bool    `json:"explored"`
	Reason     string  `json:"reason"`
}

var randPool = sync.Pool{New: func() any { return rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64())) }}

// decide answers POST /v1/decide: for a customer at a touchpoint (chat,
// ivr, web, app, agent), the routing actions of the interaction policies
// and the ranked offers, each with its reason. The call is recorded as a
// touchpoint_decision event on the customer's timeline (appended to the
// log without waiting), which also counts the offers shown as
// impressions.
func (s *Server) decide(w http.ResponseWriter, r *http.Request) error {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxDecideBody+1))
	if err != nil {
		return core.Errorf(core.EINVALID, "body", "reading the body: %v", err)
	}
	if len(body) > maxDecideBody {
		return core.Errorf(core.ETOOLARGE, "body", "a decide request is at most %d bytes", maxDecideBody)
	}
	var req DecideRequest
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return core.Errorf(core.EINVALID, jsonField(err, "body"), "%v", err)
	}
	ref := req.Customer
	if ref == "" && req.UserID != "" {
		ref = core.KindUserID + ":" + req.UserID
	}
	if ref == "" {
		return core.Errorf(core.EINVALID, "customer", "give customer (a profile id or KIND:VALUE) or userId")
	}
	if err := touchpoint.ValidTouchpoint(req.Touchpoint); err != nil {
		return core.Errorf(core.EINVALID, "touchpoint", "%v", err)
	}
	limit := defaultOfferLimit
	channel := ""
	if req.Offers != nil {
		if req.Offers.Limit != nil {
			limit = *req.Offers.Limit
			if limit < 0 || limit > maxOfferLimit {
				return core.Errorf(core.EINVALID, "offers.limit", "offers.limit must be from 0 to %d", maxOfferLimit)
			}
		}
		channel = req.Offers.Channel
	}
	window, err := s.contextWindow("")
	if err != nil {
		return err
	}
	if req.Hours != 0 {
		if window, err = s.contextWindow(strconv.FormatFloat(req.Hours, 'f', -1, 64)); err != nil {
			return err
		}
	}
	now := s.Clock.Now()
	st, err := s.customer(r.Context(), ref, window, now)
	if err != nil {
		return err
	}
	resp := DecideResponse{ProfileID: st.profile.ID, Touchpoint: req.Touchpoint, Tier: st.ctx.Tier, TierReason: st.ctx.TierReason,
		Actions: []touchpoint.Action{}, Offers: []RankedOffer{}, Journeys: st.ctx.Journeys}
	if req.WithContext {
		resp.Context = &st.ctx
	}
	in := st.tpInput
	in.Touchpoint, in.Context = req.Touchpoint, req.Context
	suppressed := false
	if set := s.interactions(); set != nil {
		res := set.Evaluate(in)
		resp.Actions, resp.Errors = res.Actions, res.Errors
		for _, a := range res.Actions {
			if a.Type == touchpoint.ActionSuppressOffers {
				suppressed = true
			}
		}
		if resp.Actions == nil {
			resp.Actions = []touchpoint.Action{}
		}
	}
	if !suppressed && limit > 0 && s.Decisioning != nil {
		if offers := s.Decisioning.OfferSet(); offers != nil && len(offers.List()) > 0 {
			rng := randPool.Get().(*rand.Rand)
			ctxMap := map[string]any{"touchpoint": req.Touchpoint, "channel": req.Touchpoint}
			if channel != "" {
				ctxMap["channel"] = channel
			}
			for k, v := range req.Context {
				ctxMap[k] = v
			}
			ranked := offers.Rank(decide.Input{Profile: st.view, Context: ctxMap, Channel: channel, Now: now,
				Seen: machine.SeenOffers(st.profile), Rand: rng}, s.Engine.OfferModel())
			randPool.Put(rng)
			explain := req.Offers != nil && req.Offers.Explain
			for _, rk := range ranked {
				ro := RankedOffer{ID: rk.Offer.ID, Name: rk.Offer.Name, Category: rk.Offer.Category,
					Rank: rk.Rank, Score: rk.Score, Propensity: rk.Propensity, Mean: rk.Mean, Value: rk.Offer.Value,
					Bucket: rk.Bucket, Explored: rk.Explored, Reason: rk.Reason}
				switch {
				case rk.Eligible && len(resp.Offers) < limit:
					resp.Offers = append(resp.Offers, ro)
				case !rk.Eligible && explain:
					resp.NotEligible = append(resp.NotEligible, ro)
				}
			}
		}
	}
	resp.EventID = s.recordDecision(st.profile.ID, &req, &resp, now)
	writeJSON(w, http.StatusOK, resp)
	return nil
}

// recordDecision appends the touchpoint_decision event to the log in the
// background (a touchpoint does not wait for a disk sync); when too many
// are waiting it is dropped and counted. It returns the event's message id.
func (s *Server) recordDecision(profileID string, req *DecideRequest, resp *DecideResponse, now time.Time) string {
	type shown struct {
		ID     string `json:"id"`
		Bucket string `json:"bucket,omitempty"`
		Rank   int    `json:"rank"`
	}
	props := struct {
		Touchpoint string         `json:"touchpoint"`
		Channel    string         `json:"channel"`
		Tier       string         `json:"tier"`
		Actions    []string       `json:"actions"`
		Offers     []shown        `json:"offers"`
		Context    map[string]any `json:"context,omitempty"`
	}{Touchpoint: req.Touchpoint, Channel: req.Touchpoint, Tier: resp.Tier, Actions: []string{}, Offers: []shown{}, Context: req.Context}
	for _, a := range resp.Actions {
		props.Actions = append(props.Actions, a.Rule)
	}
	for _, o := range resp.Offers {
		props.Offers = append(props.Offers, shown{ID: o.ID, Bucket: o.Bucket, Rank: o.Rank})
	}
	raw, err := json.Marshal(props)
	if err != nil {
		return ""
	}
	id := "decide:" + newDecisionID()
	ev := &core.Event{SourceID: core.InternalSource, MessageID: id, Type: core.TypeTrack, Event: core.EventTouchpointDecision,
		Timestamp: now, ReceivedAt: now, Properties: raw, ProfileID: profileID}
	if s.Committer == nil {
		return id
	}
	select {
	case s.recordSlots() <- struct{}{}:
	default:
		s.Metrics.decisionsDropped.Inc()
		return id
	}
	go func() {
		defer func() { <-s.recordSlots() }()
		if err := s.Committer.Submit(context.Background(), []*core.Event{ev}); err != nil {
			s.Metrics.decisionsDropped.Inc()
			s.Logger.Warn("recording a touchpoint decision failed", "profile", profileID, "err", err)
		}
	}()
	return id
}

// jsonField names the field a JSON decoding error is about, or def.
func jsonField(err error, def string) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) && te.Field != "" {
		return te.Field
	}
	if msg := err.Error(); strings.HasPrefix(msg, "json: unknown field ") {
		return strings.Trim(strings.TrimPrefix(msg, "json: unknown field "), `"`)
	}
	return def
}

// newDecisionID makes the message id of a touchpoint_decision event.
func newDecisionID() string {
	var b [12]byte
	_, _ = crand.Read(b[:])
	return hex.EncodeToString(b[:])
}
