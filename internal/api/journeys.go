package api

import (
	"io"
	"mime"
	"net/http"
	"strconv"

	"github.com/overture-cjo/overture/internal/catalog"
	"github.com/overture-cjo/overture/internal/core"
)

// maxDefinition is the largest definition (journey, computed trait or
// audience) a PUT accepts.
const maxDefinition = 1 << 20

// readDefinition reads a PUT body holding one definition file (YAML, or
// JSON by Content-Type) and returns the file name errors will cite.
func readDefinition(r *http.Request, id string) (file string, body []byte, err error) {
	file = id + ".yaml"
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		switch {
		case err != nil:
			return "", nil, core.Errorf(core.EUNSUPPORTED, "Content-Type", "Content-Type %q is not valid", ct)
		case mt == "application/json":
			file = id + ".json"
		case mt == "application/yaml" || mt == "text/yaml" || mt == "application/x-yaml":
		default:
			return "", nil, core.Errorf(core.EUNSUPPORTED, "Content-Type", "Content-Type %q is not supported (use application/yaml or application/json)", mt)
		}
	}
	body, err = io.ReadAll(io.LimitReader(r.Body, maxDefinition+1))
	if err != nil {
		return "", nil, core.Errorf(core.EINVALID, "body", "reading the body: %v", err)
	}
	if len(body) > maxDefinition {
		return "", nil, core.Errorf(core.ETOOLARGE, "body", "a definition is at most %d bytes", maxDefinition)
	}
	return file, body, nil
}

// writeApplied answers a PUT: 201 with Location for a new version, 200 if
// the definition equals the newest.
func writeApplied(w http.ResponseWriter, location string, v any, created bool) {
	st := http.StatusOK
	if created {
		st = http.StatusCreated
		w.Header().Set("Location", location)
	}
	writeJSON(w, st, v)
}

// journeys returns the catalog, or EUNAVAILABLE if the server has none.
func (s *Server) journeys() (*catalog.Service, error) {
	if s.Journeys == nil {
		return nil, core.Errorf(core.EUNAVAILABLE, "", "journeys are not enabled on this server")
	}
	return s.Journeys, nil
}

// putJourney answers PUT /v1/journeys/{id}: the body is a definition file,
// stored as a new version unless it equals the newest one.
func (s *Server) putJourney(w http.ResponseWriter, r *http.Request) error {
	js, err := s.journeys()
	if err != nil {
		return err
	}
	id := r.PathValue("id")
	file, body, err := readDefinition(r, id)
	if err != nil {
		return err
	}
	a, err := js.Apply(r.Context(), id, file, body)
	if err != nil {
		return err
	}
	writeApplied(w, "/v1/journeys/"+a.ID, a, a.Created)
	return nil
}

// listJourneys answers GET /v1/journeys[?archived=true].
func (s *Server) listJourneys(w http.ResponseWriter, r *http.Request) error {
	js, err := s.journeys()
	if err != nil {
		return err
	}
	archived := false
	if v := r.URL.Query().Get("archived"); v != "" {
		if archived, err = strconv.ParseBool(v); err != nil {
			return core.Errorf(core.EINVALID, "archived", "archived must be true or false")
		}
	}
	list, err := js.List(r.Context(), archived)
	if err != nil {
		return err
	}
	if list == nil {
		list = []*catalog.Summary{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"journeys": list})
	return nil
}

// getJourney answers GET /v1/journeys/{id}: the summary with the newest
// version's source.
func (s *Server) getJourney(w http.ResponseWriter, r *http.Request) error {
	js, err := s.journeys()
	if err != nil {
		return err
	}
	sum, err := js.Get(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, sum)
	return nil
}

// setJourneyState returns the handler of POST /v1/journeys/{id}/pause,
// /resume and /archive; it answers with the journey's summary.
func (s *Server) setJourneyState(state string) func(w http.ResponseWriter, r *http.Request) error {
	return func(w http.ResponseWriter, r *http.Request) error {
		js, err := s.journeys()
		if err != nil {
			return err
		}
		id := r.PathValue("id")
		if err := js.SetState(r.Context(), id, state); err != nil {
			return err
		}
		sum, err := js.Get(r.Context(), id)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, sum)
		return nil
	}
}

// profileJourneys answers GET /v1/profiles/{id}/journeys: the profile's
// journey instances, active and past, newest first, with their history.
// A merged profile's id answers for the survivor.
func (s *Server) profileJourneys(w http.ResponseWriter, r *http.Request) error {
	limit, err := limitParam(r, 100, 1000)
	if err != nil {
		return err
	}
	p, err := s.Store.GetProfile(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	ins, err := s.Store.InstancesOf(r.Context(), p.ID, limit)
	if err != nil {
		return err
	}
	resp := struct {
		ProfileID string           `json:"profileId"`
		Active    []*core.Instance `json:"active"`
		Past      []*core.Instance `json:"past"`
	}{ProfileID: p.ID, Active: []*core.Instance{}, Past: []*core.Instance{}}
	for _, in := range ins {
		if in.History == nil {
			in.History = []core.StepRecord{}
		}
		if in.Status == core.InstanceActive {
			resp.Active = append(resp.Active, in)
		} else {
			resp.Past = append(resp.Past, in)
		}
	}
	writeJSON(w, http.StatusOK, resp)
	return nil
}

// limitParam reads ?limit= (default def, from 1 to most).
func limitParam(r *http.Request, def, most int) (int, error) {
	v := r.URL.Query().Get("limit")
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > most {
		return 0, core.Errorf(core.EINVALID, "limit", "limit must be an integer from 1 to %d", most)
	}
	return n, nil
}
