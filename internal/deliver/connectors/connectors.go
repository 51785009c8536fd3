// Package connectors opens the connectors a deliver.Config lists, one
// package per type: smtp, twilio, fcm, webhook and log. It is the only
// place that knows every type; the dispatcher and the binary use it, the
// connector packages do not.
package connectors

import (
	"fmt"
	"log/slog"
	"strings"

	"github.com/overture-cjo/overture/internal/deliver"
	"github.com/overture-cjo/overture/internal/deliver/fcm"
	"github.com/overture-cjo/overture/internal/deliver/logsend"
	"github.com/overture-cjo/overture/internal/deliver/smtp"
	"github.com/overture-cjo/overture/internal/deliver/twilio"
	"github.com/overture-cjo/overture/internal/deliver/webhook"
)

// Types lists the connector types Open knows.
var Types = []string{smtp.Type, twilio.Type, fcm.Type, webhook.Type, logsend.Type}

// Options are what opening needs besides the Config.
type Options struct {
	Env deliver.Env  // where secrets are read; nil: the process environment
	Log *slog.Logger // the log connector's logger; nil: slog.Default()
}

// Open validates cfg and opens each connector it lists, keyed by name. The
// first error names the connector and the setting, field or environment
// variable at fault; no connector is returned then.
func Open(cfg *deliver.Config, o Options) (map[string]deliver.Connector, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	out := make(map[string]deliver.Connector, len(cfg.Connectors))
	for i := range cfg.Connectors {
		cc := &cfg.Connectors[i]
		var (
			c   deliver.Connector
			err error
		)
		switch cc.Type {
		case smtp.Type:
			c, err = smtp.Open(cc, o.Env)
		case twilio.Type:
			c, err = twilio.Open(cc, o.Env)
		case fcm.Type:
			c, err = fcm.Open(cc, o.Env)
		case webhook.Type:
			c, err = webhook.Open(cc, o.Env)
		case logsend.Type:
			c, err = logsend.Open(cc, o.Log)
		default:
			err = cc.Errorf("type: unknown type %q (known: %s)", cc.Type, strings.Join(Types, ", "))
		}
		if err != nil {
			return nil, err
		}
		out[cc.Name] = c
	}
	return out, nil
}

// Load parses YAML (see deliver.Config) and opens its connectors.
func Load(yaml []byte, o Options) (map[string]deliver.Connector, error) {
	cfg, err := deliver.ParseConfig(yaml)
	if err != nil {
		return nil, err
	}
	conns, err := Open(cfg, o)
	if err != nil {
		return nil, fmt.Errorf("delivery config: %w", err)
	}
	return conns, nil
}
