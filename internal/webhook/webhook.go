// Package webhook makes the HTTP calls of journeys' webhook steps.
package webhook

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strconv"

	"github.com/overture-cjo/overture/internal/machine"
)

// MaxReply is the most of a reply's body that is read; the rest is
// dropped (and the body, cut, will not parse as JSON).
const MaxReply = 1 << 20

// Caller calls webhooks over HTTP.
type Caller struct {
	Client *http.Client // nil: a client with no overall timeout (each call has its step's)
}

// Call makes one call within the step's timeout. A transport error or a
// timeout gives a Reply with Err set; any HTTP status is a reply.
func (c *Caller) Call(ctx context.Context, h machine.Webhook) machine.Reply {
	client := c.Client
	if client == nil {
		client = http.DefaultClient
	}
	ctx, cancel := context.WithTimeout(ctx, h.Timeout)
	defer cancel()
	var body io.Reader
	if h.Body != nil {
		body = bytes.NewReader(h.Body)
	}
	req, err := http.NewRequestWithContext(ctx, h.Method, h.URL, body)
	if err != nil {
		return machine.Reply{Err: err.Error()}
	}
	if h.Body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("User-Agent", "overture-webhook")
	req.Header.Set("Idempotency-Key", h.InstanceID+":"+strconv.Itoa(h.Seq))
	resp, err := client.Do(req)
	if err != nil {
		if ctx.Err() == context.DeadlineExceeded {
			return machine.Reply{Err: "timeout after " + h.Timeout.String()}
		}
		return machine.Reply{Err: err.Error()}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, MaxReply))
	if err != nil {
		return machine.Reply{Err: "reading reply: " + err.Error()}
	}
	return machine.Reply{Status: resp.StatusCode, Body: b}
}
