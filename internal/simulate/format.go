package simulate

import (
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/overture-cjo/overture/internal/core"
)

// WriteText prints the result as a trace per customer, then a summary.
func WriteText(w io.Writer, res *Result) error {
	for _, c := range res.Customers {
		if _, err := fmt.Fprintf(w, "customer %s\n", c.ID); err != nil {
			return err
		}
		for _, r := range c.Trace {
			if _, err := fmt.Fprintf(w, "  %s\n", r); err != nil {
				return err
			}
		}
	}
	entered, goals := 0, 0
	for _, c := range res.Customers {
		for _, in := range c.Instances {
			entered++
			if !in.GoalAt.IsZero() {
				goals++
			}
		}
	}
	_, err := fmt.Fprintf(w, "%d customers, %d journey entries, %d goals, %d messages, %d timers pending\n",
		len(res.Customers), entered, goals, res.Messages, res.Pending)
	return err
}

// TraceJSON is one trace record as `simulate --json` prints it.
type TraceJSON struct {
	At       time.Time `json:"at"`
	Journey  string    `json:"journey"`
	Version  int       `json:"version"`
	Instance string    `json:"instance"`
	Step     string    `json:"step,omitempty"`
	Kind     string    `json:"kind"`
	Detail   string    `json:"detail,omitempty"`
	Next     string    `json:"next,omitempty"`
}

// CustomerJSON is one customer as `simulate --json` prints it.
type CustomerJSON struct {
	ID        string           `json:"id"`
	Trace     []TraceJSON      `json:"trace"`
	Instances []*core.Instance `json:"instances"`
	Profile   *core.Profile    `json:"profile"`
}

// WriteJSON prints the result as one JSON document.
func WriteJSON(w io.Writer, res *Result) error {
	doc := struct {
		Customers []CustomerJSON `json:"customers"`
		Messages  int            `json:"messages"`
		Pending   int            `json:"pending"`
	}{Customers: []CustomerJSON{}, Messages: res.Messages, Pending: res.Pending}
	for _, c := range res.Customers {
		cj := CustomerJSON{ID: c.ID, Trace: []TraceJSON{}, Instances: c.Instances, Profile: c.Profile}
		for _, r := range c.Trace {
			cj.Trace = append(cj.Trace, TraceJSON{At: r.At, Journey: r.Journey, Version: r.Version, Instance: r.Instance, Step: r.Step, Kind: r.Kind, Detail: r.Detail, Next: r.Next})
		}
		doc.Customers = append(doc.Customers, cj)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(doc)
}
