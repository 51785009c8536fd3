package webhook_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/overture-cjo/overture/internal/deliver"
	"github.com/overture-cjo/overture/internal/deliver/webhook"
)

// A receiver following the verification recipe: raw body, Verify, dedupe
// on webhook-id, 2xx once stored.
func ExampleVerify() {
	const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	seen := map[string]bool{}
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body) // the raw bytes, before any parsing
		if err != nil {
			http.Error(w, "unreadable", http.StatusBadRequest)
			return
		}
		if err := webhook.Verify(secret, r.Header, body, time.Now()); err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		id := r.Header.Get("webhook-id")
		if !seen[id] { // a repeat of a message already stored is acknowledged, not stored again
			seen[id] = true
			fmt.Printf("stored %s: %s\n", id, body)
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer receiver.Close()

	key, _ := webhook.SigningKey(secret)
	c, _ := webhook.New(webhook.Config{Name: "crm", URL: receiver.URL, Key: key})
	m := &deliver.Message{Key: "inst42:3:1", Channel: "webhook", JSON: []byte(`{"hello":"world"}`)}
	for range 2 { // the second attempt stands for a retry after a lost answer
		if _, err := c.Send(context.Background(), m); err != nil {
			fmt.Println(err)
		}
	}
	// Output:
	// stored inst42:3:1: {"hello":"world"}
}
