// Package postgres is the Store for deployments that run more than one
// process or want a managed database: the event log, the timeline, the
// identity index, profiles, journeys and their instances, the outbox,
// trait and audience definitions, audience memberships, write keys and the
// quarantine all live in one PostgreSQL schema (the first of
// the connection's search_path), reached through a pgx connection pool.
//
// It mirrors internal/sqlite, and both pass internal/storetest. The
// differences are physical only: the event log is the table log instead of
// segment files (durable once its COPY commits, with synchronous_commit
// on), and strings that come from clients (message ids, event names,
// identifier values, quarantined payloads) are stored as bytea, because
// PostgreSQL text cannot hold a NUL byte or invalid UTF-8 and such a value
// must not stall a partition. Times are unix nanoseconds, as in SQLite, so
// they round-trip exactly.
//
// Durability follows the SQLite store's model: Append, the quarantine,
// write keys, journeys, trait and audience definitions, refresh records,
// outbox sent marks, erasure and SaveCheckpoint commit synchronously;
// ApplyBatch (journey instances, outbox entries, audience memberships and
// emitted events included) and CommitIdentities, whose effects are derived
// from the log, commit with synchronous_commit off. PostgreSQL loses at most a suffix of its WAL in a
// crash, the checkpoint (synchronous) flushes everything before it, and the
// engine replays the log from the checkpoint, so nothing acknowledged is
// lost and nothing is applied twice.
package postgres

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/overture-cjo/overture/internal/core"
	"github.com/overture-cjo/overture/internal/wire"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Store is the PostgreSQL implementation of core.Store. Its methods are safe
// for concurrent use, except Append, which one goroutine calls at a time.
type Store struct {
	pool *pgxpool.Pool
}

var _ core.Store = (*Store)(nil)

// Open connects to the database at url (a postgres:// URL or a keyword/value
// string; search_path chooses the schema, pool_max_conns the size of the
// pool) and applies pending migrations. Two processes opening the same
// schema at once do not race: migrations run in one transaction under an
// advisory lock.
//
// Append acknowledges events once they are committed, so a commit must wait
// for its WAL to be flushed: if the server's synchronous_commit is off, each
// connection turns it on, unless url sets synchronous_commit itself.
func Open(ctx context.Context, url string) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	if _, set := cfg.ConnConfig.RuntimeParams["synchronous_commit"]; !set {
		cfg.AfterConnect = func(ctx context.Context, c *pgx.Conn) error {
			_, err := c.Exec(ctx, `SELECT set_config('synchronous_commit', 'on', false) WHERE current_setting('synchronous_commit') = 'off'`)
			return err
		}
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	s := &Store{pool: pool}
	if err := s.migrate(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	return s, nil
}

// Close closes the pool's connections, waiting for those in use.
func (s *Store) Close() error {
	s.pool.Close()
	return nil
}

// migrate applies the embedded migrations not yet recorded in
// schema_migrations, all in one transaction holding a transaction-scoped
// advisory lock keyed by the schema, so concurrent Opens take turns and the
// second finds the work done.
func (s *Store) migrate(ctx context.Context) error {
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return err
	}
	sort.Strings(names)
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	defer tx.Rollback(ctx)
	var schema *string
	if err := tx.QueryRow(ctx, `SELECT current_schema()`).Scan(&schema); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	if schema == nil {
		return fmt.Errorf("migrate: no schema of the search_path exists")
	}
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended('overture.migrate.' || $1, 0))`, *schema); err != nil {
		return fmt.Errorf("migrate: lock: %w", err)
	}
	if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY)`); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	for _, name := range names {
		base := strings.TrimPrefix(name, "migrations/")
		v, err := strconv.Atoi(strings.SplitN(base, "_", 2)[0])
		if err != nil {
			return fmt.Errorf("migration %s: bad name", name)
		}
		var n int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM schema_migrations WHERE version = $1`, v).Scan(&n); err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
		if n > 0 {
			continue
		}
		body, err := migrations.ReadFile(name)
		if err != nil {
			return err
		}
		// No arguments: pgx sends it as a simple query, so the file may hold
		// many statements.
		if _, err := tx.Exec(ctx, string(body)); err != nil {
			return fmt.Errorf("migration %s: %w", base, err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version) VALUES ($1)`, v); err != nil {
			return fmt.Errorf("migration %s: %w", base, err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	return nil
}

// execBatch sends a batch and checks every statement's result.
func execBatch(ctx context.Context, tx pgx.Tx, b *pgx.Batch) error {
	if b.Len() == 0 {
		return nil
	}
	return tx.SendBatch(ctx, b).Close()
}

// limitOf maps a limit to a LIMIT parameter: a negative limit means none,
// as in SQLite.
func limitOf(limit int) *int64 {
	if limit < 0 {
		return nil
	}
	n := int64(limit)
	return &n
}

func nanos(t time.Time) int64 { return wire.Nanos(t) }

func fromNanos(n int64) time.Time { return wire.FromNanos(n) }

// byteStrings converts strings to bytea parameters.
func byteStrings(ss []string) [][]byte {
	out := make([][]byte, len(ss))
	for i, s := range ss {
		out[i] = []byte(s)
	}
	return out
}

// isStorable reports whether a text column can hold s. Ids kept as text
// (profile and key ids) are made by the server; one a client names that
// has a NUL byte or invalid UTF-8 cannot have been stored, so lookups answer
// "not found" without asking, as SQLite would.
func isStorable(s string) bool {
	return utf8.ValidString(s) && strings.IndexByte(s, 0) < 0
}

// storable returns the ids that isStorable.
func storable(ids []string) []string {
	out := ids[:0:0]
	for _, id := range ids {
		if isStorable(id) {
			out = append(out, id)
		}
	}
	return out
}
