package api

import (
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/overture-cjo/overture/internal/core"
)

func (s *Server) listQuarantine(w http.ResponseWriter, r *http.Request) error {
	cursor, limit, err := pageParams(r)
	if err != nil {
		return err
	}
	items, err := s.Store.ListQuarantine(r.Context(), cursor, limit)
	if err != nil {
		return err
	}
	resp := struct {
		Items      []*core.QuarantineItem `json:"items"`
		NextCursor string                 `json:"nextCursor,omitempty"`
	}{Items: items}
	if resp.Items == nil {
		resp.Items = []*core.QuarantineItem{}
	}
	if len(items) == limit {
		resp.NextCursor = strconv.FormatInt(items[len(items)-1].ID, 10)
	}
	writeJSON(w, http.StatusOK, resp)
	return nil
}

func (s *Server) listKeys(w http.ResponseWriter, r *http.Request) error {
	keys, err := s.Store.ListKeys(r.Context())
	if err != nil {
		return err
	}
	if keys == nil {
		keys = []*core.WriteKey{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"keys": keys})
	return nil
}

func (s *Server) createKey(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		Name string `json:"name"`
	}
	body, _ := io.ReadAll(io.LimitReader(r.Body, 64<<10))
	if len(body) > 0 {
		if err := json.Unmarshal(body, &req); err != nil {
			return core.Errorf(core.EINVALIDJSON, "body", "body is not valid JSON")
		}
	}
	req.Name = strings.TrimSpace(req.Name)
	if req.Name == "" {
		return core.Errorf(core.EINVALID, "name", "name is required")
	}
	secret, k := NewWriteKey(req.Name, s.Clock.Now())
	if err := s.Store.CreateKey(r.Context(), k); err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, map[string]any{"key": secret, "writeKey": k})
	return nil
}

func (s *Server) revokeKey(w http.ResponseWriter, r *http.Request) error {
	if err := s.Store.RevokeKey(r.Context(), r.PathValue("id"), s.Clock.Now()); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"revoked": r.PathValue("id")})
	return nil
}

func (s *Server) stats(w http.ResponseWriter, r *http.Request) error {
	groups, events := s.Committer.Stats()
	st := s.Engine.Stats()
	writeJSON(w, http.StatusOK, map[string]any{
		"ingest": map[string]any{"groupCommits": groups, "events": events},
		"engine": st,
		"journeys": map[string]any{
			"entered": st.Entered, "transitions": st.Transitions, "messages": st.Messages,
			"timersFired": st.TimersFired, "ended": st.Ended, "timerLateness": st.Lateness,
			"decisions": st.Decisions,
		},
		"audiences": map[string]any{"events": st.AudienceEvents, "backfilledProfiles": st.Backfilled, "backfill": s.Engine.BackfillProgress()},
		"idle":      s.Engine.Idle(),
	})
	return nil
}
