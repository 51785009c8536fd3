package deliver

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Config lists the delivery connectors, as written in YAML:
//
//	connectors:
//	  - name: mail
//	    type: smtp
//	    channels: [email]
//	    host: smtp.example.com
//	    username: overture
//	    password_env: SMTP_PASSWORD
//	  - name: twilio
//	    type: twilio
//	    account_sid: AC0123
//	    auth_token_env: TWILIO_AUTH_TOKEN
//	    concurrency: 8      # dispatch settings, common to every type
//	    rate: 50            # messages per second
//	    max_attempts: 10
//	    breaker: {failures: 5, cooldown: 30s}
//
// Each type's settings are documented with its package's Open. Secrets are
// never written in the file: a setting ending in _env names the
// environment variable that holds one.
type Config struct {
	Connectors []ConnectorConfig `yaml:"connectors"`
}

// ConnectorConfig is one connector's entry: its name, its type, the
// channels it carries (empty: every channel its type can carry), how the
// dispatcher drives it, and the settings of its type, which Decode reads.
type ConnectorConfig struct {
	Name     string   `yaml:"name"`
	Type     string   `yaml:"type"`
	Channels []string `yaml:"channels"`

	// Concurrency is how many attempts may be in flight at once (default
	// DefaultConcurrency).
	Concurrency int `yaml:"concurrency"`
	// Rate limits attempts per second with a token bucket of Burst tokens
	// (default: Rate rounded up); 0 means no limit.
	Rate  float64 `yaml:"rate"`
	Burst int     `yaml:"burst"`
	// MaxAttempts is how many attempts a message gets before it becomes a
	// dead letter (default DefaultMaxAttempts).
	MaxAttempts int `yaml:"max_attempts"`
	// Breaker is the circuit breaker in front of the provider.
	Breaker BreakerConfig `yaml:"breaker"`

	Settings map[string]any `yaml:",inline"`
}

// BreakerConfig opens the circuit after Failures retryable failures in a
// row (default DefaultBreakerFailures): no attempt is made for Cooldown
// (default DefaultBreakerCooldown), then one probe decides whether it
// closes again.
type BreakerConfig struct {
	Failures int           `yaml:"failures"`
	Cooldown time.Duration `yaml:"cooldown"`
}

// Defaults of the dispatch settings.
const (
	DefaultConcurrency     = 16
	DefaultMaxAttempts     = 8
	DefaultBreakerFailures = 5
	DefaultBreakerCooldown = 30 * time.Second
)

// WithDefaults returns c with the dispatch settings' defaults filled in.
func (c ConnectorConfig) WithDefaults() ConnectorConfig {
	if c.Concurrency == 0 {
		c.Concurrency = DefaultConcurrency
	}
	if c.Rate > 0 && c.Burst == 0 {
		c.Burst = int(math.Ceil(c.Rate))
	}
	if c.MaxAttempts == 0 {
		c.MaxAttempts = DefaultMaxAttempts
	}
	if c.Breaker.Failures == 0 {
		c.Breaker.Failures = DefaultBreakerFailures
	}
	if c.Breaker.Cooldown == 0 {
		c.Breaker.Cooldown = DefaultBreakerCooldown
	}
	return c
}

// Env looks up an environment variable, as os.LookupEnv does; a nil Env
// is os.LookupEnv. Tests pass their own.
type Env func(name string) (string, bool)

// Lookup returns the variable's value and whether it is set.
func (e Env) Lookup(name string) (string, bool) {
	if e == nil {
		return os.LookupEnv(name)
	}
	return e(name)
}

var namePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`)

// ParseConfig reads a Config from YAML and validates it. Unknown top-level
// fields are errors; each type's settings are checked when it is opened.
func ParseConfig(data []byte) (*Config, error) {
	var cfg Config
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("delivery config: %w", err)
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("delivery config: %w", err)
	}
	return &cfg, nil
}

// Validate checks what every connector entry needs: a unique name, a
// type, and known channels, each listed once.
func (c *Config) Validate() error {
	seen := map[string]bool{}
	for i := range c.Connectors {
		cc := &c.Connectors[i]
		if cc.Name == "" {
			return fmt.Errorf("connectors[%d]: name is required", i)
		}
		if !namePattern.MatchString(cc.Name) {
			return fmt.Errorf("connectors[%d]: name %q: use letters, digits, '.', '_' and '-'", i, cc.Name)
		}
		if seen[cc.Name] {
			return fmt.Errorf("connectors[%d]: name %q is used twice", i, cc.Name)
		}
		seen[cc.Name] = true
		if cc.Type == "" {
			return cc.Errorf("type is required")
		}
		for _, f := range []struct {
			name string
			bad  bool
		}{
			{"concurrency", cc.Concurrency < 0 || cc.Concurrency > 10000},
			{"rate", cc.Rate < 0 || math.IsNaN(cc.Rate) || math.IsInf(cc.Rate, 0)},
			{"burst", cc.Burst < 0},
			{"max_attempts", cc.MaxAttempts < 0 || cc.MaxAttempts > 1000},
			{"breaker.failures", cc.Breaker.Failures < 0},
			{"breaker.cooldown", cc.Breaker.Cooldown < 0},
		} {
			if f.bad {
				return cc.Errorf("%s: out of range (concurrency 1-10000, max_attempts 1-1000; rate, burst and breaker settings not negative)", f.name)
			}
		}
		for j, ch := range cc.Channels {
			if !KnownChannel(ch) {
				return cc.Errorf("channels: unknown channel %q (known: %s)", ch, strings.Join(Channels, ", "))
			}
			if slices.Contains(cc.Channels[:j], ch) {
				return cc.Errorf("channels: %q is listed twice", ch)
			}
		}
	}
	return nil
}

// Errorf returns an error prefixed with the connector's name.
func (c *ConnectorConfig) Errorf(format string, args ...any) error {
	return fmt.Errorf("connector %q: %s", c.Name, fmt.Sprintf(format, args...))
}

// ChannelsOr returns the configured channels, checked against those the
// type can carry, or all of them if none are configured.
func (c *ConnectorConfig) ChannelsOr(supported []string) ([]string, error) {
	if len(c.Channels) == 0 {
		return slices.Clone(supported), nil
	}
	for _, ch := range c.Channels {
		if !slices.Contains(supported, ch) {
			return nil, c.Errorf("channels: type %s cannot carry %q (it carries %s)", c.Type, ch, strings.Join(supported, ", "))
		}
	}
	return slices.Clone(c.Channels), nil
}

// literalSecrets are settings that would hold a secret in the file; the
// configuration names an environment variable instead.
var literalSecrets = []string{"password", "auth_token", "secret", "credentials", "token", "api_key", "api_secret"}

// Decode reads the type's settings into v, a pointer to a struct whose
// fields have yaml tags. A setting v has no field for is an error that
// names it (and, for a literal secret, the _env setting to use instead); a
// value of the wrong type is an error that names the setting.
func (c *ConnectorConfig) Decode(v any) error {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.Elem().Kind() != reflect.Struct {
		return fmt.Errorf("deliver: Decode needs a pointer to a struct, not %T", v)
	}
	rv = rv.Elem()
	fields := map[string]int{}
	for i := range rv.NumField() {
		tag, _, _ := strings.Cut(rv.Type().Field(i).Tag.Get("yaml"), ",")
		if tag != "" && tag != "-" {
			fields[tag] = i
		}
	}
	keys := make([]string, 0, len(c.Settings))
	for k := range c.Settings {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		i, ok := fields[k]
		if !ok {
			if slices.Contains(literalSecrets, k) {
				return c.Errorf("%s: secrets are not written in the configuration; put it in an environment variable and name that in %s_env", k, k)
			}
			known := make([]string, 0, len(fields))
			for f := range fields {
				known = append(known, f)
			}
			sort.Strings(known)
			return c.Errorf("unknown setting %q for type %s (known: %s)", k, c.Type, strings.Join(known, ", "))
		}
		b, err := yaml.Marshal(c.Settings[k])
		if err != nil {
			return c.Errorf("%s: %v", k, err)
		}
		if err := yaml.Unmarshal(b, rv.Field(i).Addr().Interface()); err != nil {
			msg := err.Error()
			if _, after, ok := strings.Cut(msg, "line 1: "); ok {
				msg = after
			}
			return c.Errorf("%s: %s", k, msg)
		}
	}
	return nil
}

// Secret returns the value of the environment variable that setting (such
// as "password_env") names as variable. The error names the setting when
// it is empty and the variable when it is unset or empty.
func (c *ConnectorConfig) Secret(env Env, setting, variable string) (string, error) {
	if variable == "" {
		return "", c.Errorf("%s is required (the name of the environment variable holding the secret)", setting)
	}
	v, ok := env.Lookup(variable)
	if !ok {
		return "", c.Errorf("%s: environment variable %s is not set", setting, variable)
	}
	if v == "" {
		return "", c.Errorf("%s: environment variable %s is empty", setting, variable)
	}
	return v, nil
}
