package api

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/overture-cjo/overture/internal/core"
	"github.com/overture-cjo/overture/internal/ingest"
)

// ingestFunc handles a decoded-to-bytes ingestion request. basicKey is the
// HTTP Basic username ("" if none). It returns the response body and the
// number of events accepted and rejected.
type ingestFunc func(r *http.Request, body []byte, basicKey string) (resp any, accepted, rejected int, err error)

// ingestHandler reads the body (gunzipping it), runs h, answers, and
// records metrics. Status codes are chosen for clients that retry every
// non-2xx answer (the official Segment libraries retry 10 times): 4xx means
// nothing was written and a retry cannot help; 503 means nothing was
// acknowledged and a retry is safe (messageId dedupe).
func (s *Server) ingestHandler(route string, h ingestFunc) http.Handler {
	limit := ingest.MaxEventBytes
	if route == "/v1/batch" || route == "/v1/import" || route == "/v1/cloudevents" {
		limit = ingest.MaxBatchBytes
	}
	ingested := s.Metrics.ingested.WithLabelValues(route)
	rejectedItems := s.Metrics.rejected.WithLabelValues(route, "item")
	ackLatency := s.Metrics.ackLatency.WithLabelValues(route)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		resp, accepted, rejected, err := s.serveIngest(r, limit, h)
		if err != nil {
			code := core.ErrorCode(err)
			if code == core.EINTERNAL {
				s.Logger.Error("ingest failed", "route", route, "err", err)
			}
			s.Metrics.rejected.WithLabelValues(route, code).Inc()
			writeError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, resp)
		ingested.Add(float64(accepted))
		if rejected > 0 {
			rejectedItems.Add(float64(rejected))
		}
		ackLatency.Observe(time.Since(start).Seconds())
	})
}

func (s *Server) serveIngest(r *http.Request, limit int, h ingestFunc) (any, int, int, error) {
	body, err := readBody(r, limit)
	if err != nil {
		return nil, 0, 0, err
	}
	user, _, hasBasic := r.BasicAuth()
	if hasBasic {
		if _, err := s.Keys.Authenticate(r.Context(), user); err != nil {
			return nil, 0, 0, err
		}
	}
	return h(r, body, user)
}

// readBody reads at most limit+1 bytes of the (possibly gzipped) body: the
// decoders report a body over the limit.
func readBody(r *http.Request, limit int) ([]byte, error) {
	var rd io.Reader = io.LimitReader(r.Body, int64(limit)+1)
	switch enc := strings.ToLower(strings.TrimSpace(r.Header.Get("Content-Encoding"))); enc {
	case "", "identity":
	case "gzip", "x-gzip":
		compressed, err := io.ReadAll(rd)
		if err != nil {
			return nil, core.Errorf(core.EINVALID, "body", "reading the body failed: %v", err)
		}
		if len(compressed) > limit {
			return nil, core.Errorf(core.ETOOLARGE, "body", "body is over the %d-byte limit", limit)
		}
		zr, err := gzip.NewReader(bytes.NewReader(compressed))
		if err != nil {
			return nil, core.Errorf(core.EINVALID, "Content-Encoding", "body is not valid gzip: %v", err)
		}
		rd = io.LimitReader(zr, int64(limit)+1)
	default:
		return nil, core.Errorf(core.EUNSUPPORTED, "Content-Encoding", "Content-Encoding %q is not supported (use gzip or none)", enc)
	}
	body, err := io.ReadAll(rd)
	if err != nil {
		return nil, core.Errorf(core.EINVALID, "body", "reading the body failed: %v", err)
	}
	if len(body) > limit {
		return nil, core.Errorf(core.ETOOLARGE, "body", "body is over the %d-byte limit", limit)
	}
	return body, nil
}

type ingestResponse struct {
	Success  bool           `json:"success"`
	Accepted int            `json:"accepted"`
	Rejected []rejectedItem `json:"rejected,omitempty"`
}

type rejectedItem struct {
	Index   int    `json:"index"`
	Code    string `json:"code"`
	Field   string `json:"field"`
	Message string `json:"message"`
}

func (s *Server) single(typ string) ingestFunc {
	return func(r *http.Request, body []byte, basicKey string) (any, int, int, error) {
		m, err := s.Decoder.DecodeSingle(body, typ)
		if err != nil {
			return nil, 0, 0, err
		}
		key := basicKey
		if key == "" {
			key = m.WriteKey
		}
		src, err := s.Keys.Authenticate(r.Context(), key)
		if err != nil {
			return nil, 0, 0, err
		}
		m.Event.SourceID = src
		if err := s.Committer.Submit(r.Context(), []*core.Event{&m.Event}); err != nil {
			return nil, 0, 0, err
		}
		return ingestResponse{Success: true, Accepted: 1}, 1, 0, nil
	}
}

func (s *Server) batch(r *http.Request, body []byte, basicKey string) (any, int, int, error) {
	msgs, bad, bodyKey, err := s.Decoder.DecodeBatch(body)
	if err != nil {
		return nil, 0, 0, err
	}
	return s.accept(r, msgs, bad, basicKey, bodyKey)
}

func (s *Server) cloudEvents(r *http.Request, body []byte, basicKey string) (any, int, int, error) {
	msgs, bad, err := s.Decoder.DecodeCloudEvents(r.Header, body)
	if err != nil {
		return nil, 0, 0, err
	}
	return s.accept(r, msgs, bad, basicKey, "")
}

// accept authenticates, appends the valid messages durably, then stores the
// rejected items in the quarantine, and reports both.
func (s *Server) accept(r *http.Request, msgs []*ingest.Message, bad []ingest.ItemError, basicKey, bodyKey string) (any, int, int, error) {
	key := basicKey
	if key == "" {
		key = bodyKey
	}
	src, err := s.Keys.Authenticate(r.Context(), key)
	if err != nil {
		return nil, 0, 0, err
	}
	events := make([]*core.Event, len(msgs))
	for i, m := range msgs {
		m.Event.SourceID = src
		events[i] = &m.Event
	}
	if err := s.Committer.Submit(r.Context(), events); err != nil {
		return nil, 0, 0, err
	}
	resp := ingestResponse{Success: true, Accepted: len(events)}
	if len(bad) > 0 {
		now := s.Clock.Now()
		items := make([]*core.QuarantineItem, len(bad))
		for i, b := range bad {
			resp.Rejected = append(resp.Rejected, rejectedItem{Index: b.Index, Code: b.Err.Code, Field: b.Err.Field, Message: b.Err.Message})
			items[i] = &core.QuarantineItem{SourceID: src, ReceivedAt: now, Index: b.Index, Code: b.Err.Code, Field: b.Err.Field, Message: b.Err.Message, Payload: string(b.Raw)}
		}
		if err := s.Store.Quarantine(r.Context(), items); err != nil {
			return nil, 0, 0, core.Errorf(core.EUNAVAILABLE, "", "storing rejected items failed; retry the batch (accepted events are deduplicated)")
		}
	}
	return resp, len(events), len(bad), nil
}
