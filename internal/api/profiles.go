package api

import (
	"net/http"
	"strconv"

	"github.com/overture-cjo/overture/internal/core"
)

// profileView is a profile with its identifiers, the values of its
// computed traits now and the audiences it is in. Its raw computed-trait
// windows and past memberships are not shown.
type profileView struct {
	*core.Profile
	Identifiers    []core.Identifier    `json:"identifiers"`
	ComputedTraits map[string]any       `json:"computedTraits"`
	Audiences      []audienceMembership `json:"audiences"`          // shadows Profile.Audiences
	Computed       *core.Computed       `json:"computed,omitempty"` // nil: shadows Profile.Computed
}

func (s *Server) profileView(r *http.Request, id string) (*profileView, error) {
	p, err := s.Store.GetProfile(r.Context(), id)
	if err != nil {
		return nil, err
	}
	ids, err := s.Store.IdentitiesOf(r.Context(), []string{p.ID})
	if err != nil {
		return nil, err
	}
	v := &profileView{Profile: p, Identifiers: ids[p.ID], ComputedTraits: map[string]any{}, Audiences: profileAudiences(p)}
	if set := s.Engine.Traits(); set != nil {
		v.ComputedTraits = set.Values(computedOf(p), s.Clock.Now())
	}
	if v.Identifiers == nil {
		v.Identifiers = []core.Identifier{}
	}
	if p.Traits == nil {
		p.Traits = map[string]core.Trait{}
	}
	if p.Consent == nil {
		p.Consent = map[string]core.Consent{}
	}
	if p.Counts == nil {
		p.Counts = map[string]int64{}
	}
	return v, nil
}

func (s *Server) getProfile(w http.ResponseWriter, r *http.Request) error {
	v, err := s.profileView(r, r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

// findProfile answers GET /v1/profiles?userId=|anonymousId=|email=|phone=|externalId=type:id.
func (s *Server) findProfile(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	var id core.Identifier
	n := 0
	for _, p := range []struct{ param, kind string }{
		{"userId", core.KindUserID}, {"anonymousId", core.KindAnonymousID}, {"email", core.KindEmail},
		{"phone", core.KindPhone}, {"externalId", core.KindExternal},
	} {
		if v := q.Get(p.param); v != "" {
			n++
			id = core.Identifier{Kind: p.kind, Value: v}
			switch p.kind {
			case core.KindEmail:
				id.Value = core.NormalizeEmail(v)
			case core.KindPhone:
				id.Value = core.NormalizePhone(v)
			}
			if id.Value == "" {
				return core.Errorf(core.EINVALID, p.param, "%s %q is not valid", p.param, v)
			}
		}
	}
	if n != 1 {
		return core.Errorf(core.EINVALID, "query", "give exactly one of userId, anonymousId, email, phone, externalId")
	}
	found, err := s.Store.LookupIdentities(r.Context(), []string{id.Key()})
	if err != nil {
		return err
	}
	pid, ok := found[id.Key()]
	if !ok {
		return core.Errorf(core.ENOTFOUND, "query", "no profile has %s %q", id.Kind, id.Value)
	}
	v, err := s.profileView(r, pid)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

// pageParams reads ?cursor= and ?limit= (default 50, at most 500).
func pageParams(r *http.Request) (cursor int64, limit int, err error) {
	q := r.URL.Query()
	limit = 50
	if v := q.Get("limit"); v != "" {
		limit, err = strconv.Atoi(v)
		if err != nil || limit < 1 || limit > 500 {
			return 0, 0, core.Errorf(core.EINVALID, "limit", "limit must be an integer from 1 to 500")
		}
	}
	if v := q.Get("cursor"); v != "" {
		cursor, err = strconv.ParseInt(v, 10, 64)
		if err != nil || cursor < 0 {
			return 0, 0, core.Errorf(core.EINVALID, "cursor", "cursor is not valid")
		}
	}
	return cursor, limit, nil
}

func (s *Server) listEvents(w http.ResponseWriter, r *http.Request) error {
	cursor, limit, err := pageParams(r)
	if err != nil {
		return err
	}
	p, err := s.Store.GetProfile(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	evs, err := s.Store.ListEvents(r.Context(), p.ID, cursor, limit+1)
	if err != nil {
		return err
	}
	resp := struct {
		ProfileID  string        `json:"profileId"`
		Events     []*core.Event `json:"events"`
		NextCursor string        `json:"nextCursor,omitempty"`
	}{ProfileID: p.ID, Events: evs}
	if len(evs) > limit {
		resp.Events = evs[:limit]
		resp.NextCursor = strconv.FormatInt(evs[limit-1].Seq, 10)
	}
	if resp.Events == nil {
		resp.Events = []*core.Event{}
	}
	writeJSON(w, http.StatusOK, resp)
	return nil
}

func (s *Server) eraseProfile(w http.ResponseWriter, r *http.Request) error {
	p, err := s.Store.GetProfile(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	er, err := s.Engine.Erase(r.Context(), p.ID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"erased": er})
	return nil
}
