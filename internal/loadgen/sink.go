package loadgen

import (
	"encoding/json"
	"io"
	"net/http"
	"sync"
	"time"
)

// Sink is a webhook receiver for delivery benchmarks ("overture bench
// sink"): it answers every POST 204 at once, counts them and the distinct
// webhook-id headers among them, and notes when the first and the last
// arrived. GET /stats answers a SinkStats. It reads the wall clock: it is
// a measuring instrument, not part of the engine.
type Sink struct {
	mu    sync.Mutex
	ids   map[string]struct{}
	stats SinkStats
}

// SinkStats is what a Sink has received.
type SinkStats struct {
	Received int64     `json:"received"` // POSTs
	Distinct int64     `json:"distinct"` // distinct webhook-id values
	Bytes    int64     `json:"bytes"`
	First    time.Time `json:"first,omitzero"`
	Last     time.Time `json:"last,omitzero"`
	// PerSecond is Received over the span from First to Last.
	PerSecond float64 `json:"perSecond"`
}

// NewSink returns an empty Sink.
func NewSink() *Sink { return &Sink{ids: map[string]struct{}{}} }

// ServeHTTP implements http.Handler.
func (s *Sink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodGet && r.URL.Path == "/stats" {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(s.Stats())
		return
	}
	if r.Method != http.MethodPost {
		http.Error(w, "POST messages, or GET /stats", http.StatusMethodNotAllowed)
		return
	}
	n, _ := io.Copy(io.Discard, r.Body)
	now := time.Now()
	id := r.Header.Get("webhook-id")
	s.mu.Lock()
	if s.stats.Received == 0 {
		s.stats.First = now
	}
	s.stats.Received++
	s.stats.Bytes += n
	s.stats.Last = now
	if _, ok := s.ids[id]; !ok {
		s.ids[id] = struct{}{}
		s.stats.Distinct++
	}
	s.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

// Stats returns what the sink has received so far.
func (s *Sink) Stats() SinkStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stats
	if span := st.Last.Sub(st.First).Seconds(); span > 0 {
		st.PerSecond = float64(st.Received) / span
	}
	return st
}
