package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"iter"
	"net/http"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/overture-cjo/overture/internal/activation"
	"github.com/overture-cjo/overture/internal/audience"
	"github.com/overture-cjo/overture/internal/catalog"
	"github.com/overture-cjo/overture/internal/core"
)

// Paging of audience members: exports and activations read the store
// memberPage members at a time (activations up to maxPageSize if asked);
// previews show at most maxPreview.
const (
	memberPage     = 1000
	maxPageSize    = 10000
	defaultPreview = 10
	maxPreview     = 100
	maxRefreshes   = 50
)

// derived returns the traits and audiences catalog, or EUNAVAILABLE if the
// server has none.
func (s *Server) derived() (*catalog.Derived, error) {
	if s.Derived == nil {
		return nil, core.Errorf(core.EUNAVAILABLE, "", "computed traits and audiences are not enabled on this server")
	}
	return s.Derived, nil
}

// audience returns the audience the request's path names: EUNAVAILABLE if
// the server has no audiences, ENOTFOUND if there is none with that id.
func (s *Server) audience(r *http.Request) (*catalog.AudienceDef, error) {
	d, err := s.derived()
	if err != nil {
		return nil, err
	}
	return d.Audience(r.PathValue("id"))
}

// listTraits answers GET /v1/traits: the computed traits by name and the
// progress of the current or last backfill (null if none ran).
func (s *Server) listTraits(w http.ResponseWriter, r *http.Request) error {
	d, err := s.derived()
	if err != nil {
		return err
	}
	list := d.Traits()
	if list == nil {
		list = []*catalog.TraitSummary{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"traits": list, "backfill": s.Engine.BackfillProgress()})
	return nil
}

// getTrait answers GET /v1/traits/{name}.
func (s *Server) getTrait(w http.ResponseWriter, r *http.Request) error {
	d, err := s.derived()
	if err != nil {
		return err
	}
	name := r.PathValue("name")
	for _, t := range d.Traits() {
		if t.Name == name {
			writeJSON(w, http.StatusOK, t)
			return nil
		}
	}
	return core.Errorf(core.ENOTFOUND, "name", "no computed trait %q", name)
}

// audienceView is an audience as the API shows it.
type audienceView struct {
	ID          string          `json:"id"`
	Name        string          `json:"name"`
	Description string          `json:"description"`
	Condition   string          `json:"condition"`
	Realtime    bool            `json:"realtime"`
	Schedule    string          `json:"schedule,omitempty"`
	NextRefresh *time.Time      `json:"nextRefresh,omitempty"` // with a schedule
	Activation  *activationView `json:"activation,omitempty"`
	Version     int             `json:"version"`
	UpdatedAt   string          `json:"updatedAt"`
	Size        int64           `json:"size"`        // members now
	LastRefresh *core.Refresh   `json:"lastRefresh"` // null if never refreshed
}

// audienceDetail is what GET /v1/audiences/{id} adds to the view.
type audienceDetail struct {
	*audienceView
	Source    string           `json:"source"`
	Preview   []activation.Row `json:"preview"`   // the first members, by profile id
	Refreshes []*core.Refresh  `json:"refreshes"` // newest first
}

// activationView is what an audience's activation section says.
type activationView struct {
	Traits  []string     `json:"traits"`
	Webhook *webhookView `json:"webhook,omitempty"`
}

// webhookView is an activation webhook; the secret itself is never shown.
type webhookView struct {
	URL       string `json:"url"`
	SecretEnv string `json:"secretEnv,omitempty"`
}

// view describes def with its size and refreshes (newest first; the first
// is the last refresh).
func (s *Server) view(def *catalog.AudienceDef, size int64, refreshes []*core.Refresh) *audienceView {
	a := def.Audience
	v := &audienceView{ID: a.ID, Name: a.Name, Description: a.Description, Condition: a.Condition, Realtime: a.Realtime,
		Schedule: a.Schedule, Version: def.Version, UpdatedAt: def.UpdatedAt, Size: size}
	if a.Schedule != "" {
		if next := a.Next(s.Clock.Now()); !next.IsZero() {
			v.NextRefresh = &next
		}
	}
	if len(a.Traits) > 0 || a.Webhook != nil {
		v.Activation = &activationView{Traits: a.Traits}
		if v.Activation.Traits == nil {
			v.Activation.Traits = []string{}
		}
		if a.Webhook != nil {
			v.Activation.Webhook = &webhookView{URL: a.Webhook.URL, SecretEnv: a.Webhook.SecretEnv}
		}
	}
	if len(refreshes) > 0 {
		v.LastRefresh = refreshes[0]
	}
	return v
}

// listAudiences answers GET /v1/audiences: every audience with its size and
// last refresh, by id.
func (s *Server) listAudiences(w http.ResponseWriter, r *http.Request) error {
	d, err := s.derived()
	if err != nil {
		return err
	}
	sizes, err := s.Store.AudienceSizes(r.Context())
	if err != nil {
		return err
	}
	list := []*audienceView{}
	for _, def := range d.Audiences() {
		last, err := s.Store.Refreshes(r.Context(), def.Audience.ID, 1)
		if err != nil {
			return err
		}
		list = append(list, s.view(def, sizes[def.Audience.ID], last))
	}
	writeJSON(w, http.StatusOK, map[string]any{"audiences": list})
	return nil
}

// getAudience answers GET /v1/audiences/{id}[?preview=N]: the audience with
// its source, its first N members (by profile id) with their activation
// traits, and its last refreshes, newest first.
func (s *Server) getAudience(w http.ResponseWriter, r *http.Request) error {
	n, err := intParam(r, "preview", defaultPreview, 0, maxPreview)
	if err != nil {
		return err
	}
	def, err := s.audience(r)
	if err != nil {
		return err
	}
	id := def.Audience.ID
	sizes, err := s.Store.AudienceSizes(r.Context())
	if err != nil {
		return err
	}
	refreshes, err := s.Store.Refreshes(r.Context(), id, maxRefreshes)
	if err != nil {
		return err
	}
	v := &audienceDetail{audienceView: s.view(def, sizes[id], refreshes), Source: def.Source, Preview: []activation.Row{}, Refreshes: refreshes}
	if v.Refreshes == nil {
		v.Refreshes = []*core.Refresh{}
	}
	if n > 0 {
		ms, err := s.Store.AudienceMembers(r.Context(), id, "", n)
		if err != nil {
			return err
		}
		if v.Preview, err = s.rows(r.Context(), ms, def.Audience.Traits); err != nil {
			return err
		}
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

// refreshAudience answers POST /v1/audiences/{id}/refresh: it re-evaluates
// the audience over every profile and answers once the changes committed.
func (s *Server) refreshAudience(w http.ResponseWriter, r *http.Request) error {
	def, err := s.audience(r)
	if err != nil {
		return err
	}
	ref, err := s.Engine.Refresh(r.Context(), def.Audience.ID, "api")
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, ref)
	return nil
}

// exportMembers answers GET /v1/audiences/{id}/members?format=csv|ndjson
// [&traits=a,b]: every member, streamed, with the chosen traits (the
// audience's activation traits by default).
func (s *Server) exportMembers(w http.ResponseWriter, r *http.Request) error {
	def, err := s.audience(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	write, ctype, ext := activation.WriteCSV, "text/csv; charset=utf-8", "csv"
	switch f := q.Get("format"); f {
	case "", "csv":
	case "ndjson":
		write, ctype, ext = activation.WriteNDJSON, "application/x-ndjson", "ndjson"
	default:
		return core.Errorf(core.EINVALID, "format", "format %q is not supported (csv or ndjson)", f)
	}
	traits := def.Audience.Traits
	if q.Has("traits") {
		if traits, err = traitsParam(q.Get("traits")); err != nil {
			return err
		}
	}
	id := def.Audience.ID
	w.Header().Set("Content-Type", ctype)
	w.Header().Set("Content-Disposition", `attachment; filename="`+id+`-members.`+ext+`"`)
	cw := &countingWriter{w: w}
	if err := write(cw, traits, s.memberRows(r.Context(), id, traits)); err != nil {
		if cw.n == 0 {
			// Nothing sent yet: answer with the error instead.
			w.Header().Del("Content-Disposition")
			return err
		}
		// Part of the file is out: cut the response short so the client
		// cannot take it for the whole audience.
		s.Logger.Error("audience export failed midway", "audience", id, "err", err)
		panic(http.ErrAbortHandler)
	}
	return nil
}

// exportPage is the page size of exports; tests lower it.
var exportPage = memberPage

// countingWriter counts the bytes written through it.
type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// traitsParam reads ?traits=a,b: trait names, each once.
func traitsParam(v string) ([]string, error) {
	if v == "" {
		return []string{}, nil
	}
	names := strings.Split(v, ",")
	for i, n := range names {
		names[i] = strings.TrimSpace(n)
		if names[i] == "" {
			return nil, core.Errorf(core.EINVALID, "traits", "traits has an empty name; give names separated by commas")
		}
		if slices.Contains(names[:i], names[i]) {
			return nil, core.Errorf(core.EINVALID, "traits", "trait %q is listed twice", names[i])
		}
	}
	return names, nil
}

// memberRows yields every member of an audience, by profile id, with the
// values of traits, reading the store a page at a time. Members that join
// or leave meanwhile may or may not be seen.
func (s *Server) memberRows(ctx context.Context, id string, traits []string) iter.Seq2[activation.Row, error] {
	return func(yield func(activation.Row, error) bool) {
		after := ""
		for {
			ms, err := s.Store.AudienceMembers(ctx, id, after, exportPage)
			if err != nil {
				yield(activation.Row{}, err)
				return
			}
			rows, err := s.rows(ctx, ms, traits)
			if err != nil {
				yield(activation.Row{}, err)
				return
			}
			for _, row := range rows {
				if !yield(row, nil) {
					return
				}
			}
			if len(ms) < exportPage {
				return
			}
			after = ms[len(ms)-1].ProfileID
		}
	}
}

// rows loads the members' profiles and gives each member's row with the
// values of traits now: a computed trait's value if one has the name,
// else the profile's trait (nil if it has neither).
func (s *Server) rows(ctx context.Context, ms []core.Member, traits []string) ([]activation.Row, error) {
	out := make([]activation.Row, len(ms))
	if len(ms) == 0 {
		return out, nil
	}
	ids := make([]string, len(ms))
	for i, m := range ms {
		ids[i] = m.ProfileID
	}
	profiles, err := s.Store.LoadProfiles(ctx, ids)
	if err != nil {
		return nil, err
	}
	set, now := s.Engine.Traits(), s.Clock.Now()
	for i, m := range ms {
		row := activation.Row{ProfileID: m.ProfileID, Since: m.Since.UTC(), Traits: make(map[string]any, len(traits))}
		p := profiles[m.ProfileID]
		for _, name := range traits {
			var v any
			switch {
			case p == nil:
			case set != nil && set.Trait(name) != nil:
				v = set.Value(computedOf(p), name, now)
			default:
				if t, ok := p.Traits[name]; ok {
					v = decodeValue(t.Value)
				}
			}
			row.Traits[name] = v
		}
		out[i] = row
	}
	return out, nil
}

// computedOf returns p's computed-trait state, never nil.
func computedOf(p *core.Profile) *core.Computed {
	if p.Computed == nil {
		return &core.Computed{}
	}
	return p.Computed
}

// decodeValue decodes a stored trait value, keeping numbers exact.
func decodeValue(raw json.RawMessage) any {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if dec.Decode(&v) != nil {
		return nil
	}
	return v
}

// activateAudience answers POST /v1/audiences/{id}/activate[?pageSize=N]:
// it posts every member, a page at a time, to the audience's activation
// webhook, signed with the secret in the environment variable it names.
func (s *Server) activateAudience(w http.ResponseWriter, r *http.Request) error {
	pageSize, err := intParam(r, "pageSize", memberPage, 1, maxPageSize)
	if err != nil {
		return err
	}
	def, err := s.audience(r)
	if err != nil {
		return err
	}
	a := def.Audience
	sender, err := s.sender(a)
	if err != nil {
		return err
	}
	ctx := r.Context()
	res := struct {
		ActivationID string `json:"activationId"`
		Audience     string `json:"audience"`
		URL          string `json:"url"`
		Pages        int    `json:"pages"`   // pages delivered
		Members      int    `json:"members"` // members in them
	}{ActivationID: activation.NewActivationID(), Audience: a.ID, URL: sender.URL}
	for after := ""; ; {
		ms, err := s.Store.AudienceMembers(ctx, a.ID, after, pageSize+1)
		if err != nil {
			return err
		}
		last := len(ms) <= pageSize
		if !last {
			ms = ms[:pageSize]
		}
		rows, err := s.rows(ctx, ms, a.Traits)
		if err != nil {
			return err
		}
		page := &activation.Page{Audience: a.ID, ActivationID: res.ActivationID, Page: res.Pages + 1, Last: last, Members: rows}
		if err := sender.Send(ctx, page); err != nil {
			var de *activation.DeliveryError
			if !errors.As(err, &de) {
				return err
			}
			s.Logger.Warn("audience activation failed", "audience", a.ID, "activation", res.ActivationID, "err", err)
			writeJSON(w, http.StatusBadGateway, struct {
				errorBody
				Delivered any `json:"delivered"`
			}{errorBody{errorDetail{Code: core.EUNAVAILABLE, Message: err.Error(), Field: "activation.webhook.url"}}, res})
			return nil
		}
		res.Pages++
		res.Members += len(rows)
		if last {
			break
		}
		after = ms[len(ms)-1].ProfileID
	}
	writeJSON(w, http.StatusOK, res)
	return nil
}

// sender returns the Sender for an audience's activation webhook, with the
// signing key from the environment variable it names.
func (s *Server) sender(a *audience.Audience) (*activation.Sender, error) {
	wh := a.Webhook
	if wh == nil {
		return nil, core.Errorf(core.EINVALID, "activation.webhook", "audience %q has no activation webhook to send to", a.ID)
	}
	sender := &activation.Sender{URL: wh.URL, Now: s.Clock.Now}
	if wh.SecretEnv == "" {
		return sender, nil // the audience asks for unsigned calls
	}
	secret := os.Getenv(wh.SecretEnv)
	if secret == "" {
		return nil, core.Errorf(core.EINVALID, "activation.webhook.secret_env",
			"environment variable %s, which holds the webhook's signing secret, is not set on the server", wh.SecretEnv)
	}
	key, err := activation.Key(secret)
	if err != nil {
		return nil, core.Errorf(core.EINVALID, "activation.webhook.secret_env", "environment variable %s does not hold a usable secret: %v", wh.SecretEnv, err)
	}
	sender.Key = key
	return sender, nil
}

// intParam reads an integer query parameter from least to most, def if
// absent.
func intParam(r *http.Request, name string, def, least, most int) (int, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < least || n > most {
		return 0, core.Errorf(core.EINVALID, name, "%s must be an integer from %d to %d", name, least, most)
	}
	return n, nil
}

// profileAudiences lists the audiences p is a member of, by id.
func profileAudiences(p *core.Profile) []audienceMembership {
	out := []audienceMembership{}
	for id, m := range p.Audiences {
		if m.Member {
			out = append(out, audienceMembership{ID: id, Since: m.Since, Entries: m.Entries})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// audienceMembership is one audience a profile is in.
type audienceMembership struct {
	ID      string    `json:"id"`
	Since   time.Time `json:"since"`   // when it entered
	Entries int       `json:"entries"` // its entries so far, this one included
}
