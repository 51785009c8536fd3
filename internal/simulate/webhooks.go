package simulate

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/overture-cjo/overture/internal/machine"
)

// WebhookReply is how a webhooks file gives one step's canned reply:
// {"status": 200, "body": {...}} for an answer, {"err": "..."} for a call
// that failed.
type WebhookReply struct {
	Status int             `json:"status"`
	Body   json.RawMessage `json:"body"`
	Err    string          `json:"err"`
}

// Reply converts the canned reply to the machine's form.
func (w WebhookReply) Reply() machine.Reply {
	return machine.Reply{Status: w.Status, Body: w.Body, Err: w.Err}
}

// ParseWebhooks reads a webhooks file: a JSON object mapping a webhook
// step's name to its canned reply ("" answers every step not named), for
// Options.Webhooks. Unknown fields are errors; a reply with neither status
// nor err is too.
func ParseWebhooks(data []byte) (map[string]machine.Reply, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var hooks map[string]WebhookReply
	if err := dec.Decode(&hooks); err != nil {
		return nil, fmt.Errorf("want an object of step name -> {status, body, err}: %w", err)
	}
	out := make(map[string]machine.Reply, len(hooks))
	for step, h := range hooks {
		if h.Status == 0 && h.Err == "" {
			return nil, fmt.Errorf("%s: give a status, or err for a call that failed", step)
		}
		out[step] = h.Reply()
	}
	return out, nil
}
