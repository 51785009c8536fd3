package api

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"strings"
	"sync"
	"time"

	"github.com/overture-cjo/overture/internal/core"
)

// Keyring authenticates write keys: keys given at start-up
// (OVERTURE_WRITE_KEYS) and keys in the store, cached briefly so that a
// revocation takes effect within the cache TTL.
type Keyring struct {
	store  core.Store
	clock  core.Clock
	static map[string]string // hash -> source id
	ttl    time.Duration

	mu    sync.Mutex
	cache map[string]cachedKey
}

type cachedKey struct {
	source string // "" if unknown or revoked
	until  time.Time
}

// NewKeyring returns a keyring with the given static keys.
func NewKeyring(store core.Store, clock core.Clock, static []string) *Keyring {
	k := &Keyring{store: store, clock: clock, static: map[string]string{}, ttl: 5 * time.Second, cache: map[string]cachedKey{}}
	for _, s := range static {
		if s = strings.TrimSpace(s); s != "" {
			h := HashKey(s)
			k.static[h] = "env_" + h[:12]
		}
	}
	return k
}

// HashKey returns the hex SHA-256 of a key's secret.
func HashKey(secret string) string {
	h := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(h[:])
}

// Authenticate returns the source id of a write key, or EUNAUTHORIZED.
func (k *Keyring) Authenticate(ctx context.Context, secret string) (string, error) {
	if secret == "" {
		return "", core.Errorf(core.EUNAUTHORIZED, "writeKey", "a write key is required: send it as the HTTP Basic username or as writeKey in the body")
	}
	h := HashKey(secret)
	if src, ok := k.static[h]; ok {
		return src, nil
	}
	now := k.clock.Now()
	k.mu.Lock()
	c, ok := k.cache[h]
	k.mu.Unlock()
	if !ok || now.After(c.until) {
		wk, err := k.store.KeyByHash(ctx, h)
		switch {
		case err == nil && wk.RevokedAt == nil:
			c = cachedKey{source: wk.ID, until: now.Add(k.ttl)}
		case err == nil || core.ErrorCode(err) == core.ENOTFOUND:
			c = cachedKey{until: now.Add(time.Second)}
		default:
			return "", err
		}
		k.mu.Lock()
		if len(k.cache) > 10000 {
			k.cache = map[string]cachedKey{}
		}
		k.cache[h] = c
		k.mu.Unlock()
	}
	if c.source == "" {
		return "", core.Errorf(core.EUNAUTHORIZED, "writeKey", "unknown or revoked write key")
	}
	return c.source, nil
}

// NewWriteKey makes a key: the secret (shown once) and its stored record.
func NewWriteKey(name string, now time.Time) (string, *core.WriteKey) {
	var b [24]byte
	_, _ = rand.Read(b[:])
	secret := "wk_" + hex.EncodeToString(b[:])
	var id [6]byte
	_, _ = rand.Read(id[:])
	return secret, &core.WriteKey{
		ID: "key_" + hex.EncodeToString(id[:]), Name: name, Hash: HashKey(secret),
		Prefix: secret[:10], CreatedAt: now,
	}
}

// NewAdminToken returns a random admin token.
func NewAdminToken() string {
	var b [24]byte
	_, _ = rand.Read(b[:])
	return "adm_" + hex.EncodeToString(b[:])
}

func constantTimeEqual(a, b string) bool {
	return b != "" && subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}
