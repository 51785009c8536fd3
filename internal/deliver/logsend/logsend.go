// Package logsend is the log connector, for dry runs: it "delivers" a
// message by writing it to a slog.Logger and accepts everything.
package logsend

import (
	"context"
	"log/slog"
	"slices"

	"github.com/overture-cjo/overture/internal/deliver"
)

// Type is the connector type in the configuration.
const Type = "log"

// Connector logs messages instead of sending them.
type Connector struct {
	name     string
	channels []string
	log      *slog.Logger
	level    slog.Level
}

var _ deliver.Connector = (*Connector)(nil)

// New returns a log connector named name that carries channels (nil: every
// channel) and writes to log (nil: slog.Default()) at Info level.
func New(name string, channels []string, log *slog.Logger) *Connector {
	if len(channels) == 0 {
		channels = deliver.Channels
	}
	if log == nil {
		log = slog.Default()
	}
	return &Connector{name: name, channels: slices.Clone(channels), log: log, level: slog.LevelInfo}
}

// Open returns the log connector an entry configures. Its one setting:
//
//	level: debug|info|warn|error   # default info
func Open(cc *deliver.ConnectorConfig, log *slog.Logger) (*Connector, error) {
	var s struct {
		Level string `yaml:"level"`
	}
	if err := cc.Decode(&s); err != nil {
		return nil, err
	}
	chs, err := cc.ChannelsOr(deliver.Channels)
	if err != nil {
		return nil, err
	}
	c := New(cc.Name, chs, log)
	if s.Level != "" {
		if err := c.level.UnmarshalText([]byte(s.Level)); err != nil {
			return nil, cc.Errorf("level: %v", err)
		}
	}
	return c, nil
}

// Name returns the connector's name.
func (c *Connector) Name() string { return c.name }

// Channels returns the channels it carries.
func (c *Connector) Channels() []string { return slices.Clone(c.channels) }

// Send logs m: its key, channel, address and the fields its channel uses
// (bodies by length only, to keep logs small). It fails only for a channel
// it does not carry or a cancelled context.
func (c *Connector) Send(ctx context.Context, m *deliver.Message) (deliver.Result, error) {
	if err := ctx.Err(); err != nil {
		return deliver.Result{}, deliver.Transient(c.name, err)
	}
	if err := deliver.CheckChannel(c.name, c.channels, m); err != nil {
		return deliver.Result{}, err
	}
	attrs := []slog.Attr{
		slog.String("connector", c.name),
		slog.String("key", m.Key),
		slog.String("channel", m.Channel),
		slog.String("to", m.To),
	}
	add := func(k, v string) {
		if v != "" {
			attrs = append(attrs, slog.String(k, v))
		}
	}
	addLen := func(k, v string) {
		if v != "" {
			attrs = append(attrs, slog.Int(k, len(v)))
		}
	}
	add("from", m.From)
	add("subject", m.Subject)
	addLen("text_bytes", m.Text)
	addLen("html_bytes", m.HTML)
	add("body", m.Body)
	add("media_url", m.MediaURL)
	add("title", m.Title)
	add("deep_link", m.DeepLink)
	add("script", m.Script)
	add("ivr_flow", m.IVRFlow)
	addLen("json_bytes", string(m.JSON))
	if len(m.Meta) > 0 {
		keys := make([]string, 0, len(m.Meta))
		for k := range m.Meta {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		meta := make([]any, 0, len(keys))
		for _, k := range keys {
			meta = append(meta, slog.String(k, m.Meta[k]))
		}
		attrs = append(attrs, slog.Group("meta", meta...))
	}
	c.log.LogAttrs(ctx, c.level, "deliver (dry run)", attrs...)
	return deliver.Result{ProviderID: m.Key, Status: "logged"}, nil
}
