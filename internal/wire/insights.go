package wire

import (
	"time"

	json "github.com/goccy/go-json"

	"github.com/overture-cjo/overture/internal/core"
)

// instanceFacts is the part of an instance's state that analysis reads;
// the decoder skips the rest (history, variables) without building it.
type instanceFacts struct {
	Holdout   bool      `json:"holdout"`
	EnteredAt time.Time `json:"enteredAt"`
	GoalAt    time.Time `json:"goalAt"`
	EndedAt   time.Time `json:"endedAt"`
	EndReason string    `json:"endReason"`
	Trigger   int64     `json:"trigger"`
}

// DecodeSampledInstance decodes the facts analysis needs from an instance
// written by EncodeInstance; the identity comes from the store's columns.
// Times come back in UTC.
func DecodeSampledInstance(state []byte, id, profileID string, version int) (core.SampledInstance, error) {
	var f instanceFacts
	if err := json.Unmarshal(state, &f); err != nil {
		return core.SampledInstance{}, err
	}
	return core.SampledInstance{
		ID: id, ProfileID: profileID, Version: version, Trigger: f.Trigger, Holdout: f.Holdout,
		EnteredAt: f.EnteredAt.UTC(), GoalAt: f.GoalAt.UTC(), EndedAt: f.EndedAt.UTC(), EndReason: f.EndReason,
	}, nil
}

// DecodeValue decodes a JSON value as encoding/json would into an any
// (objects as map[string]any, numbers as float64), faster.
func DecodeValue(b []byte) (any, error) {
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return nil, err
	}
	return v, nil
}
