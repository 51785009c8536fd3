// Package api is Overture's HTTP edge: the Segment-compatible ingestion
// endpoints, CloudEvents, the admin API (profiles, quarantine, write keys,
// journeys, the outbox) and operations endpoints. It turns core error codes
// into HTTP statuses; nothing below it knows about HTTP.
package api

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/pprof"
	"time"

	"github.com/overture-cjo/overture/internal/catalog"
	"github.com/overture-cjo/overture/internal/core"
	"github.com/overture-cjo/overture/internal/engine"
	"github.com/overture-cjo/overture/internal/ingest"
	"github.com/overture-cjo/overture/internal/track"
)

// Server holds what the handlers need.
type Server struct {
	Store      core.Store
	Committer  *ingest.Committer
	Engine     *engine.Engine
	Decoder    *ingest.Decoder
	Keys       *Keyring
	AdminToken string
	Clock      core.Clock
	Logger     *slog.Logger
	Metrics    *Metrics
	Journeys   *catalog.Service // the applied journeys; nil: the journey routes answer 503
	Derived    *catalog.Derived // computed traits and audiences; nil: their routes answer 503
	// Decisioning holds the contact policy, offers and interaction
	// policies; nil: their routes answer 503.
	Decisioning *catalog.Decisioning
	// Outbox is woken when a dead letter is re-driven; nil: nothing to wake.
	Outbox interface{ Notify() }
	// Tracking signs and checks the open, click and receipt URLs; nil:
	// the click and receipt routes answer 503 (the open pixel still
	// answers its image).
	Tracking *track.Signer
	// TwilioAuthToken checks inbound Twilio webhooks; "": POST
	// /v1/inbound/twilio answers 503.
	TwilioAuthToken string
	// ChannelCosts is the unit cost of a message per channel, for the
	// cost in journey analytics; nil: no costs.
	ChannelCosts map[string]float64

	slots chan struct{} // touchpoint events on their way to the log (made by Handler)
}

// recordSlots bounds the touchpoint_decision events waiting for the log.
func (s *Server) recordSlots() chan struct{} { return s.slots }

// Handler returns the HTTP handler with every route.
func (s *Server) Handler() http.Handler {
	if s.slots == nil {
		s.slots = make(chan struct{}, maxRecordsInFlight)
	}
	mux := http.NewServeMux()
	for _, typ := range []string{core.TypeTrack, core.TypeIdentify, core.TypePage, core.TypeScreen, core.TypeGroup, core.TypeAlias} {
		mux.Handle("POST /v1/"+typ, s.ingestHandler("/v1/"+typ, s.single(typ)))
	}
	mux.Handle("POST /v1/batch", s.ingestHandler("/v1/batch", s.batch))
	mux.Handle("POST /v1/import", s.ingestHandler("/v1/import", s.batch))
	mux.Handle("POST /v1/cloudevents", s.ingestHandler("/v1/cloudevents", s.cloudEvents))
	mux.HandleFunc("GET /t/o/{token}", s.openPixel)
	mux.Handle("GET /t/c/{token}", s.public(s.click))
	mux.Handle("POST /v1/receipts/{token}", s.public(s.receipt))
	mux.Handle("POST /v1/inbound/twilio", s.public(s.inboundTwilio))

	mux.Handle("GET /v1/profiles", s.admin(s.findProfile))
	mux.Handle("GET /v1/profiles/{id}", s.admin(s.getProfile))
	mux.Handle("GET /v1/profiles/{id}/events", s.admin(s.listEvents))
	mux.Handle("DELETE /v1/profiles/{id}", s.admin(s.eraseProfile))
	mux.Handle("GET /v1/quarantine", s.admin(s.listQuarantine))
	mux.Handle("GET /v1/keys", s.admin(s.listKeys))
	mux.Handle("POST /v1/keys", s.admin(s.createKey))
	mux.Handle("DELETE /v1/keys/{id}", s.admin(s.revokeKey))
	mux.Handle("GET /v1/stats", s.admin(s.stats))
	mux.Handle("PUT /v1/journeys/{id}", s.admin(s.putJourney))
	mux.Handle("GET /v1/journeys", s.admin(s.listJourneys))
	mux.Handle("GET /v1/journeys/{id}", s.admin(s.getJourney))
	mux.Handle("POST /v1/journeys/{id}/pause", s.admin(s.setJourneyState(core.JourneyPaused)))
	mux.Handle("POST /v1/journeys/{id}/resume", s.admin(s.setJourneyState(core.JourneyActive)))
	mux.Handle("POST /v1/journeys/{id}/archive", s.admin(s.setJourneyState(core.JourneyArchived)))
	mux.Handle("GET /v1/journeys/{id}/analytics", s.admin(s.journeyAnalytics))
	mux.Handle("GET /v1/journeys/{id}/paths", s.admin(s.journeyPaths))
	mux.Handle("GET /v1/journeys/{id}/drivers", s.admin(s.journeyDrivers))
	mux.Handle("GET /v1/profiles/{id}/journeys", s.admin(s.profileJourneys))
	mux.Handle("GET /v1/profiles/{id}/decisions", s.admin(s.listDecisions))
	mux.Handle("GET /v1/profiles/{id}/timeline", s.admin(s.timeline))
	mux.Handle("GET /v1/profiles/{id}/context", s.admin(s.getContext))
	mux.Handle("POST /v1/decide", s.admin(s.decide))
	mux.Handle("PUT /v1/offers/{id}", s.admin(putDefinition(s.decisioning, "/v1/offers", "id", (*catalog.Decisioning).ApplyOffer)))
	mux.Handle("GET /v1/offers", s.admin(s.listOffers))
	mux.Handle("GET /v1/offers/{id}", s.admin(s.getOffer))
	mux.Handle("DELETE /v1/offers/{id}", s.admin(deleteDefinition(s.decisioning, "id", (*catalog.Decisioning).DeleteOffer)))
	mux.Handle("PUT /v1/interactions/{id}", s.admin(putDefinition(s.decisioning, "/v1/interactions", "id", (*catalog.Decisioning).ApplyInteraction)))
	mux.Handle("GET /v1/interactions", s.admin(s.listInteractions))
	mux.Handle("DELETE /v1/interactions/{id}", s.admin(deleteDefinition(s.decisioning, "id", (*catalog.Decisioning).DeleteInteraction)))
	mux.Handle("PUT /v1/templates/{id}", s.admin(putDefinition(s.decisioning, "/v1/templates", "id", (*catalog.Decisioning).ApplyTemplate)))
	mux.Handle("GET /v1/templates", s.admin(s.listTemplates))
	mux.Handle("DELETE /v1/templates/{id}", s.admin(deleteDefinition(s.decisioning, "id", (*catalog.Decisioning).DeleteTemplate)))
	mux.Handle("POST /v1/templates/{id}/preview", s.admin(s.previewTemplate))
	mux.Handle("PUT /v1/policy", s.admin(s.putPolicy))
	mux.Handle("GET /v1/policy", s.admin(s.getPolicy))
	mux.Handle("DELETE /v1/policy", s.admin(s.deletePolicy))
	mux.Handle("GET /v1/messages", s.admin(s.listMessages))
	mux.Handle("POST /v1/messages/{id}/retry", s.admin(s.retryMessage))
	mux.Handle("PUT /v1/traits/{name}", s.admin(putDefinition(s.derived, "/v1/traits", "name", (*catalog.Derived).ApplyTrait)))
	mux.Handle("GET /v1/traits", s.admin(s.listTraits))
	mux.Handle("GET /v1/traits/{name}", s.admin(s.getTrait))
	mux.Handle("DELETE /v1/traits/{name}", s.admin(deleteDefinition(s.derived, "name", (*catalog.Derived).DeleteTrait)))
	mux.Handle("PUT /v1/audiences/{id}", s.admin(putDefinition(s.derived, "/v1/audiences", "id", (*catalog.Derived).ApplyAudience)))
	mux.Handle("GET /v1/audiences", s.admin(s.listAudiences))
	mux.Handle("GET /v1/audiences/{id}", s.admin(s.getAudience))
	mux.Handle("DELETE /v1/audiences/{id}", s.admin(deleteDefinition(s.derived, "id", (*catalog.Derived).DeleteAudience)))
	mux.Handle("POST /v1/audiences/{id}/refresh", s.admin(s.refreshAudience))
	mux.Handle("GET /v1/audiences/{id}/members", s.admin(s.exportMembers))
	mux.Handle("POST /v1/audiences/{id}/activate", s.admin(s.activateAudience))

	mux.Handle("GET /debug/pprof/", s.adminHTTP(http.HandlerFunc(pprof.Index)))
	mux.Handle("GET /debug/pprof/profile", s.adminHTTP(http.HandlerFunc(pprof.Profile)))
	mux.Handle("GET /debug/pprof/trace", s.adminHTTP(http.HandlerFunc(pprof.Trace)))

	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", s.ready)
	mux.Handle("GET /metrics", s.Metrics.Handler())
	mux.HandleFunc("GET /openapi.yaml", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/yaml")
		_, _ = w.Write(OpenAPI)
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, core.Errorf(core.ENOTFOUND, "path", "no route for %s %s", r.Method, r.URL.Path))
	})
	return mux
}

func (s *Server) ready(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if _, err := s.Store.Checkpoint(ctx); err != nil {
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{"status": "store unavailable"})
		return
	}
	st := s.Engine.Stats()
	writeJSON(w, http.StatusOK, map[string]any{"status": "ready", "caughtUp": st.CaughtUp})
}

// adminHTTP guards a plain handler with the admin token.
func (s *Server) adminHTTP(h http.Handler) http.Handler {
	return s.admin(func(w http.ResponseWriter, r *http.Request) error {
		h.ServeHTTP(w, r)
		return nil
	})
}

// admin wraps an admin handler with bearer-token authentication.
func (s *Server) admin(h func(w http.ResponseWriter, r *http.Request) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth := r.Header.Get("Authorization")
		const prefix = "Bearer "
		if len(auth) <= len(prefix) || auth[:len(prefix)] != prefix || !constantTimeEqual(auth[len(prefix):], s.AdminToken) {
			writeError(w, core.Errorf(core.EUNAUTHORIZED, "Authorization", "admin API needs header Authorization: Bearer <admin token>"))
			return
		}
		if err := h(w, r); err != nil {
			if core.ErrorCode(err) == core.EINTERNAL {
				s.Logger.Error("admin request failed", "path", r.URL.Path, "err", err)
			}
			writeError(w, err)
		}
	})
}

// status maps error codes to HTTP statuses.
func status(code string) int {
	switch code {
	case core.EINVALID, core.EINVALIDJSON:
		return http.StatusBadRequest
	case core.ETOOLARGE:
		return http.StatusRequestEntityTooLarge
	case core.EUNAUTHORIZED:
		return http.StatusUnauthorized
	case core.ENOTFOUND:
		return http.StatusNotFound
	case core.ECONFLICT:
		return http.StatusConflict
	case core.EUNSUPPORTED:
		return http.StatusUnsupportedMediaType
	case core.EUNAVAILABLE:
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// errorBody is the JSON error shape: {"error":{"code","message","field"}}.
type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Field   string `json:"field"`
}

func writeError(w http.ResponseWriter, err error) {
	code := core.ErrorCode(err)
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		code = core.EUNAVAILABLE
	}
	st := status(code)
	if st == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "1")
	}
	writeJSON(w, st, errorBody{errorDetail{Code: code, Message: core.ErrorMessage(err), Field: core.ErrorField(err)}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
