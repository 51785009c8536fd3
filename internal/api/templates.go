package api

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"

	"github.com/overture-cjo/overture/internal/core"
	"github.com/overture-cjo/overture/internal/message"
)

// listTemplates answers GET /v1/templates: the templates in force with
// their channels and sources.
func (s *Server) listTemplates(w http.ResponseWriter, r *http.Request) error {
	d, err := s.decisioning()
	if err != nil {
		return err
	}
	type view struct {
		ID        string   `json:"id"`
		Channels  []string `json:"channels"`
		Version   int      `json:"version"`
		UpdatedAt string   `json:"updatedAt"`
		Source    string   `json:"source"`
	}
	out := []view{}
	for _, t := range d.Templates() {
		out = append(out, view{ID: t.ID, Channels: t.Def.Channels(), Version: t.Version, UpdatedAt: t.UpdatedAt, Source: t.Source})
	}
	writeJSON(w, http.StatusOK, map[string]any{"templates": out})
	return nil
}

// PreviewRequest is the body of POST /v1/templates/{id}/preview.
type PreviewRequest struct {
	Customer string         `json:"customer"` // a profile id or KIND:VALUE
	Channel  string         `json:"channel"`
	Event    map[string]any `json:"event"`   // `event`, as the trigger event would be
	Journey  map[string]any `json:"journey"` // `journey`, the instance variables
	Offer    string         `json:"offer"`   // an offer id, for `offer`
}

// previewTemplate answers POST /v1/templates/{id}/preview: the template
// rendered for a customer on a channel, as the dispatcher would send it.
func (s *Server) previewTemplate(w http.ResponseWriter, r *http.Request) error {
	d, err := s.decisioning()
	if err != nil {
		return err
	}
	id := r.PathValue("id")
	t := d.TemplateSet().Get(id)
	if t == nil {
		return core.Errorf(core.ENOTFOUND, "id", "no template %q", id)
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxDecideBody+1))
	if err != nil {
		return core.Errorf(core.EINVALID, "body", "reading the body: %v", err)
	}
	if len(body) > maxDecideBody {
		return core.Errorf(core.ETOOLARGE, "body", "a preview request is at most %d bytes", maxDecideBody)
	}
	var req PreviewRequest
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return core.Errorf(core.EINVALID, jsonField(err, "body"), "%v", err)
	}
	if req.Customer == "" {
		return core.Errorf(core.EINVALID, "customer", "give customer (a profile id or KIND:VALUE)")
	}
	if !t.Has(req.Channel) {
		return core.Errorf(core.EINVALID, "channel", "template %q has no %q content (it has %s)", id, req.Channel, strings.Join(t.Channels(), ", "))
	}
	now := s.Clock.Now()
	var p *core.Profile
	if v, ok := s.Engine.View(req.Customer); ok {
		p = v.Profile
	} else if p, err = s.resolveCustomer(r.Context(), req.Customer); err != nil {
		return err
	}
	vars := message.Vars{Profile: core.ProfileMap(p), Event: req.Event, Journey: req.Journey}
	vars.Profile["computed"] = map[string]any{}
	if set := s.Engine.Traits(); set != nil {
		vars.Profile["computed"] = set.Values(computedOf(p), now)
	}
	if req.Offer != "" {
		o := d.OfferSet().Get(req.Offer)
		if o == nil {
			return core.Errorf(core.EINVALID, "offer", "no offer %q", req.Offer)
		}
		vars.Offer = map[string]any{"id": o.ID, "name": o.Name, "description": o.Description, "category": o.Category, "value": o.Value}
	}
	out, err := t.Render(req.Channel, vars)
	if err != nil {
		var re *message.RenderError
		field := "template"
		if errors.As(err, &re) {
			field = req.Channel + "." + re.Field
		}
		return core.Errorf(core.EINVALID, field, "%v", err)
	}
	resp := map[string]any{"template": id, "channel": req.Channel, "profileId": p.ID}
	for k, v := range map[string]string{"subject": out.Subject, "html": out.HTML, "text": out.Text, "body": out.Body, "mediaUrl": out.MediaURL,
		"title": out.Title, "deepLink": out.DeepLink, "script": out.Script, "ivrFlow": out.IVRFlow, "encoding": out.Encoding} {
		if v != "" {
			resp[k] = v
		}
	}
	if out.JSON != nil {
		resp["json"] = json.RawMessage(out.JSON)
	}
	if out.Segments > 0 {
		resp["segments"] = out.Segments
	}
	writeJSON(w, http.StatusOK, resp)
	return nil
}
