package api

import (
	"net/http"
	"slices"
	"strconv"

	"github.com/overture-cjo/overture/internal/core"
)

// Message is an outbox message as the API shows it: its state and every
// attempt at delivering it.
type Message struct {
	*core.OutboxEntry
	AttemptLog []core.OutboxAttempt `json:"attempts"`
}

var messageStatuses = []string{core.OutboxQueued, core.OutboxSending, core.OutboxRetrying, core.OutboxSent, core.OutboxDead}

// listMessages answers GET /v1/messages[?status=S][&profile=ID][&after=N][&limit=N]:
// messages send steps queued, oldest first, with their attempts. next is
// the cursor for the following page (after itself when the page is empty).
func (s *Server) listMessages(w http.ResponseWriter, r *http.Request) error {
	limit, err := limitParam(r, 100, 1000)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	f := core.OutboxFilter{Limit: limit, Status: q.Get("status")}
	if f.Status != "" && !slices.Contains(messageStatuses, f.Status) {
		return core.Errorf(core.EINVALID, "status", "status must be one of queued, sending, retrying, sent, dead")
	}
	if v := q.Get("after"); v != "" {
		f.AfterID, err = strconv.ParseInt(v, 10, 64)
		if err != nil || f.AfterID < 0 {
			return core.Errorf(core.EINVALID, "after", "after must be a message id (a non-negative integer)")
		}
	}
	if v := q.Get("profile"); v != "" {
		p, err := s.Store.GetProfile(r.Context(), v)
		if err != nil {
			if core.ErrorCode(err) == core.ENOTFOUND {
				return core.Errorf(core.ENOTFOUND, "profile", "no profile %q", v)
			}
			return err
		}
		f.ProfileID = p.ID
	}
	entries, err := s.Store.ListOutbox(r.Context(), f)
	if err != nil {
		return err
	}
	ids := make([]int64, len(entries))
	for i, e := range entries {
		ids[i] = e.ID
	}
	attempts, err := s.Store.OutboxAttempts(r.Context(), ids)
	if err != nil {
		return err
	}
	resp := struct {
		Messages []Message `json:"messages"`
		Next     int64     `json:"next"`
	}{Messages: make([]Message, len(entries)), Next: f.AfterID}
	for i, e := range entries {
		resp.Messages[i] = Message{OutboxEntry: e, AttemptLog: attempts[e.ID]}
		if resp.Messages[i].AttemptLog == nil {
			resp.Messages[i].AttemptLog = []core.OutboxAttempt{}
		}
	}
	if n := len(entries); n > 0 {
		resp.Next = entries[n-1].ID
	}
	writeJSON(w, http.StatusOK, resp)
	return nil
}

// retryMessage answers POST /v1/messages/{id}/retry: a dead letter is
// queued again, with a fresh set of attempts.
func (s *Server) retryMessage(w http.ResponseWriter, r *http.Request) error {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		return core.Errorf(core.EINVALID, "id", "a message id is a positive integer")
	}
	e, err := s.Store.RetryOutbox(r.Context(), id, s.Clock.Now())
	if err != nil {
		return err
	}
	if s.Outbox != nil {
		s.Outbox.Notify()
	}
	writeJSON(w, http.StatusOK, Message{OutboxEntry: e, AttemptLog: []core.OutboxAttempt{}})
	return nil
}
