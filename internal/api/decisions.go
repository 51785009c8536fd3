package api

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/overture-cjo/overture/internal/catalog"
	"github.com/overture-cjo/overture/internal/core"
)

// decisioning returns the decisioning catalog, or EUNAVAILABLE if the
// server has none.
func (s *Server) decisioning() (*catalog.Decisioning, error) {
	if s.Decisioning == nil {
		return nil, core.Errorf(core.EUNAVAILABLE, "", "decisioning is not enabled on this server")
	}
	return s.Decisioning, nil
}

// putPolicy answers PUT /v1/policy: the body is the contact policy file.
func (s *Server) putPolicy(w http.ResponseWriter, r *http.Request) error {
	d, err := s.decisioning()
	if err != nil {
		return err
	}
	file, body, err := readDefinition(r, "policy")
	if err != nil {
		return err
	}
	a, err := d.ApplyPolicy(r.Context(), file, body)
	if err != nil {
		return err
	}
	writeApplied(w, "/v1/policy", map[string]any{"version": a.Version, "created": a.Created}, a.Created)
	return nil
}

// getPolicy answers GET /v1/policy.
func (s *Server) getPolicy(w http.ResponseWriter, r *http.Request) error {
	d, err := s.decisioning()
	if err != nil {
		return err
	}
	p, err := d.Policy()
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, p)
	return nil
}

// deletePolicy answers DELETE /v1/policy.
func (s *Server) deletePolicy(w http.ResponseWriter, r *http.Request) error {
	d, err := s.decisioning()
	if err != nil {
		return err
	}
	if err := d.DeletePolicy(r.Context()); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// listDecisions answers GET /v1/profiles/{id}/decisions: the profile's
// arbitration decisions, newest first, paged by cursor (a decision id).
func (s *Server) listDecisions(w http.ResponseWriter, r *http.Request) error {
	cursor, limit, err := pageParams(r)
	if err != nil {
		return err
	}
	p, err := s.Store.GetProfile(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	ds, err := s.Store.ListDecisions(r.Context(), p.ID, cursor, limit+1)
	if err != nil {
		return err
	}
	resp := struct {
		ProfileID  string           `json:"profileId"`
		Decisions  []*core.Decision `json:"decisions"`
		NextCursor string           `json:"nextCursor,omitempty"`
	}{ProfileID: p.ID, Decisions: ds}
	if len(ds) > limit {
		resp.Decisions = ds[:limit]
		resp.NextCursor = strconv.FormatInt(ds[limit-1].ID, 10)
	}
	if resp.Decisions == nil {
		resp.Decisions = []*core.Decision{}
	}
	writeJSON(w, http.StatusOK, resp)
	return nil
}

// TimelineItem is one line of a profile's timeline: an event it sent, or
// a decision the engine made about it.
type TimelineItem struct {
	Type     string         `json:"type"` // "event" or "decision"
	At       time.Time      `json:"at"`
	Event    *core.Event    `json:"event,omitempty"`
	Decision *core.Decision `json:"decision,omitempty"`
}

// timeline answers GET /v1/profiles/{id}/timeline: events and decisions
// together, newest first. The cursor is "E.D": the oldest event seq and
// decision id already shown, "-" for a side with nothing older.
func (s *Server) timeline(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	cur := q.Get("cursor")
	q.Del("cursor")
	r.URL.RawQuery = q.Encode()
	_, limit, err := pageParams(r)
	if err != nil {
		return err
	}
	evSide, decSide := timelineSide{}, timelineSide{}
	if cur != "" {
		a, b, ok := strings.Cut(cur, ".")
		if !ok || !evSide.parse(a) || !decSide.parse(b) {
			return core.Errorf(core.EINVALID, "cursor", "cursor is not valid")
		}
	}
	p, err := s.Store.GetProfile(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	var evs []*core.Event
	var ds []*core.Decision
	if !evSide.done {
		if evs, err = s.Store.ListEvents(r.Context(), p.ID, evSide.before, limit); err != nil {
			return err
		}
	}
	if !decSide.done {
		if ds, err = s.Store.ListDecisions(r.Context(), p.ID, decSide.before, limit); err != nil {
			return err
		}
	}
	items := make([]TimelineItem, 0, limit)
	i, j := 0, 0
	for len(items) < limit && (i < len(evs) || j < len(ds)) {
		if j >= len(ds) || (i < len(evs) && !evs[i].Timestamp.Before(ds[j].At)) {
			items = append(items, TimelineItem{Type: "event", At: evs[i].Timestamp, Event: evs[i]})
			i++
		} else {
			items = append(items, TimelineItem{Type: "decision", At: ds[j].At, Decision: ds[j]})
			j++
		}
	}
	if i > 0 {
		evSide.before = evs[i-1].Seq
	}
	if j > 0 {
		decSide.before = ds[j-1].ID
	}
	evSide.done = evSide.done || (i == len(evs) && len(evs) < limit)
	decSide.done = decSide.done || (j == len(ds) && len(ds) < limit)
	resp := struct {
		ProfileID  string         `json:"profileId"`
		Items      []TimelineItem `json:"items"`
		NextCursor string         `json:"nextCursor,omitempty"`
	}{ProfileID: p.ID, Items: items}
	if !evSide.done || !decSide.done {
		resp.NextCursor = evSide.String() + "." + decSide.String()
	}
	writeJSON(w, http.StatusOK, resp)
	return nil
}

// timelineSide is one half of a timeline cursor.
type timelineSide struct {
	before int64 // 0: from the newest
	done   bool
}

func (t *timelineSide) parse(s string) bool {
	if s == "-" {
		t.done = true
		return true
	}
	n, err := strconv.ParseInt(s, 10, 64)
	t.before = n
	return err == nil && n >= 0
}

func (t timelineSide) String() string {
	if t.done {
		return "-"
	}
	return strconv.FormatInt(t.before, 10)
}
