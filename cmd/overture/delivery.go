package main

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/overture-cjo/overture/internal/catalog"
	"github.com/overture-cjo/overture/internal/core"
	"github.com/overture-cjo/overture/internal/deliver"
	"github.com/overture-cjo/overture/internal/deliver/connectors"
	"github.com/overture-cjo/overture/internal/engine"
	"github.com/overture-cjo/overture/internal/message"
	"github.com/overture-cjo/overture/internal/outbox"
	"github.com/overture-cjo/overture/internal/track"
)

// deliveryFlags are serve's delivery settings.
type deliveryFlags struct {
	connectors string        // the connectors file; "": log every message
	publicURL  string        // the server's URL as customers and providers reach it; "": no tracking
	node       string        // the name the dispatcher claims messages under
	backoff    time.Duration // the first retry's delay
}

// dryRunConfig is the delivery configuration without --connectors: one log
// connector for every channel.
const dryRunConfig = "connectors:\n  - name: log\n    type: log\n"

// openDispatcher opens the connectors and makes the dispatcher, which
// renders each message with the templates and offers in force and the
// customer's latest state.
func openDispatcher(f deliveryFlags, store core.Store, clock core.Clock, log *slog.Logger, eng *engine.Engine, dec *catalog.Decisioning, tracker outbox.Tracker) (*outbox.Dispatcher, error) {
	data := []byte(dryRunConfig)
	if f.connectors != "" {
		var err error
		if data, err = os.ReadFile(f.connectors); err != nil {
			return nil, fmt.Errorf("--connectors: %w", err)
		}
	} else {
		log.Warn("no --connectors file: messages are written to the log, not sent (a dry run)")
	}
	cfg, err := deliver.ParseConfig(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", f.connectors, err)
	}
	conns, err := connectors.Open(cfg, connectors.Options{Log: log})
	if err != nil {
		return nil, fmt.Errorf("%s: delivery config: %w", f.connectors, err)
	}
	routes := make([]outbox.Route, len(cfg.Connectors))
	for i, cc := range cfg.Connectors {
		routes[i] = outbox.Route{Connector: conns[cc.Name], Config: cc}
	}
	r := &outbox.Renderer{
		Store: store, Clock: clock, Tracker: tracker,
		Templates: func() *message.Set {
			if s := dec.TemplateSet(); s != nil {
				return s
			}
			return &message.Set{}
		},
		Offer: func(id string) map[string]any {
			o := dec.OfferSet().Get(id)
			if o == nil {
				return nil
			}
			return map[string]any{"id": o.ID, "name": o.Name, "description": o.Description, "category": o.Category, "value": o.Value}
		},
		Profile: func(id string) (*core.Profile, bool) {
			if v, ok := eng.View(id); ok {
				return v.Profile, true
			}
			return nil, false
		},
		Computed: func(p *core.Profile, now time.Time) map[string]any {
			set := eng.Traits()
			if set == nil {
				return map[string]any{}
			}
			c := p.Computed
			if c == nil {
				c = &core.Computed{}
			}
			return set.Values(c, now)
		},
	}
	d, err := outbox.New(store, clock, log, r, routes, outbox.Options{Owner: f.node, Backoff: f.backoff})
	if err != nil {
		return nil, err
	}
	log.Info("delivery", "routes", d.Routes(), "node", f.node)
	return d, nil
}

// hostname is the default node name.
func hostname() string {
	h, err := os.Hostname()
	if err != nil || h == "" {
		return "local"
	}
	return h
}

// tracker adds engagement tracking with a track.Signer: an email's links
// go through signed redirects and it gets an open pixel; every message
// carries its signed receipt URL.
type tracker struct{ s *track.Signer }

// Track implements outbox.Tracker.
func (t tracker) Track(e *core.OutboxEntry, m *deliver.Message) {
	ref := track.Ref{Key: e.Key, ProfileID: e.ProfileID, JourneyID: e.JourneyID, Version: e.Version, Step: e.Step, Channel: e.Channel, Offer: e.Offer}
	if m.Channel == deliver.ChannelEmail && m.HTML != "" {
		m.HTML = t.s.Rewrite(m.HTML, ref)
	}
	m.Receipt = t.s.ReceiptURL(ref)
}

// openTracking makes the signer of tracking URLs, or nil (tracking off)
// without a public URL. The secret is OVERTURE_TRACKING_SECRET, else the
// file tracking-secret in the data directory, made on first use.
func openTracking(publicURL, data string) (*track.Signer, error) {
	if publicURL == "" {
		return nil, nil
	}
	secret := os.Getenv("OVERTURE_TRACKING_SECRET")
	if secret == "" {
		path := filepath.Join(data, "tracking-secret")
		b, err := os.ReadFile(path)
		switch {
		case err == nil && len(strings.TrimSpace(string(b))) >= track.MinSecret:
			secret = strings.TrimSpace(string(b))
		case err != nil && !os.IsNotExist(err):
			return nil, fmt.Errorf("tracking secret: %w", err)
		default:
			var raw [32]byte
			_, _ = rand.Read(raw[:])
			secret = hex.EncodeToString(raw[:])
			if err := os.WriteFile(path, []byte(secret+"\n"), 0o600); err != nil {
				return nil, fmt.Errorf("tracking secret: %w", err)
			}
		}
	}
	s, err := track.NewSigner([]byte(secret), strings.TrimSuffix(publicURL, "/"))
	if err != nil {
		return nil, fmt.Errorf("--public-url / OVERTURE_TRACKING_SECRET: %w", err)
	}
	return s, nil
}
