// Package delivertest holds the checks every deliver.Connector must pass,
// run by each connector's tests against a real provider (or a local
// server that behaves like one).
package delivertest

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/overture-cjo/overture/internal/deliver"
)

// Check runs the contract checks on c. ok must be a message c delivers
// (its provider must accept it); Check sends it once and asserts:
//   - Name is set and Channels are known channels;
//   - ok is delivered with no error;
//   - a message on a channel c does not carry fails with a non-retryable
//     *deliver.Error (skipped if c carries every channel);
//   - a Send with a cancelled context fails, retryably, with an error that
//     is context.Canceled.
func Check(t *testing.T, c deliver.Connector, ok *deliver.Message) {
	t.Helper()
	if c.Name() == "" {
		t.Error("Name() is empty")
	}
	chs := c.Channels()
	if len(chs) == 0 {
		t.Error("Channels() is empty")
	}
	for _, ch := range chs {
		if !deliver.KnownChannel(ch) {
			t.Errorf("Channels() has unknown channel %q", ch)
		}
	}

	if _, err := c.Send(context.Background(), ok); err != nil {
		t.Fatalf("Send(ok): %v", err)
	}

	for _, ch := range deliver.Channels {
		if slices.Contains(chs, ch) {
			continue
		}
		m := *ok
		m.Channel = ch
		_, err := c.Send(context.Background(), &m)
		var de *deliver.Error
		if !errors.As(err, &de) {
			t.Errorf("Send on unsupported channel %q: got %v, want a *deliver.Error", ch, err)
		} else if de.Retryable {
			t.Errorf("Send on unsupported channel %q: retryable %v, want not retryable", ch, err)
		}
		break
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := c.Send(ctx, ok)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Send with a cancelled context: got %v, want context.Canceled", err)
	}
	if retry, _ := deliver.Classify(err); !retry {
		t.Errorf("Send with a cancelled context: %v is not retryable", err)
	}
}
