package api

import (
	"net/http"

	"github.com/overture-cjo/overture/internal/core"
)

// OfferView is an offer as the API shows it: its definition, version and
// what the model has learned of it, per context bucket.
type OfferView struct {
	ID        string        `json:"id"`
	Name      string        `json:"name,omitempty"`
	Category  string        `json:"category"`
	Value     float64       `json:"value"`
	Weight    float64       `json:"weight"`
	Channels  []string      `json:"channels,omitempty"`
	Explore   bool          `json:"explore"`
	Version   int           `json:"version"`
	UpdatedAt string        `json:"updatedAt"`
	Model     []OfferBucket `json:"model"`
	Source    string        `json:"source,omitempty"`
}

// OfferBucket is the model's posterior of an offer in one context bucket.
type OfferBucket struct {
	Bucket      string  `json:"bucket"`
	Impressions int64   `json:"impressions"`
	Conversions int64   `json:"conversions"`
	Alpha       float64 `json:"alpha"`
	Beta        float64 `json:"beta"`
	Mean        float64 `json:"mean"`
}

func (s *Server) offerViews(withSource bool) []OfferView {
	d := s.Decisioning
	model := s.Engine.OfferModel().Snapshot()
	out := []OfferView{}
	for _, st := range d.Offers() {
		o := st.Def
		v := OfferView{ID: o.ID, Name: o.Name, Category: o.Category, Value: o.Value, Weight: o.Weight, Channels: o.Channels,
			Explore: o.Explore, Version: st.Version, UpdatedAt: st.UpdatedAt, Model: []OfferBucket{}}
		if withSource {
			v.Source = st.Source
		}
		for _, m := range model {
			if m.Offer != o.ID {
				continue
			}
			a, b := o.Posterior(m)
			v.Model = append(v.Model, OfferBucket{Bucket: m.Bucket, Impressions: m.Impressions, Conversions: m.Successes, Alpha: a, Beta: b, Mean: a / (a + b)})
		}
		out = append(out, v)
	}
	return out
}

// listOffers answers GET /v1/offers.
func (s *Server) listOffers(w http.ResponseWriter, r *http.Request) error {
	if _, err := s.decisioning(); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"offers": s.offerViews(false)})
	return nil
}

// getOffer answers GET /v1/offers/{id}.
func (s *Server) getOffer(w http.ResponseWriter, r *http.Request) error {
	if _, err := s.decisioning(); err != nil {
		return err
	}
	id := r.PathValue("id")
	for _, v := range s.offerViews(true) {
		if v.ID == id {
			writeJSON(w, http.StatusOK, v)
			return nil
		}
	}
	return core.Errorf(core.ENOTFOUND, "id", "no offer %q", id)
}

// listInteractions answers GET /v1/interactions: the policies in force
// with their sources.
func (s *Server) listInteractions(w http.ResponseWriter, r *http.Request) error {
	d, err := s.decisioning()
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"interactions": d.Interactions()})
	return nil
}
