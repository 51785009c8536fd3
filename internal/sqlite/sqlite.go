// Package sqlite is the embedded Store: an event log of segment files
// (internal/eventlog) and one SQLite database in WAL mode beside it, both
// under one directory. Writes go through a single connection (SQLite has one
// writer); reads use a pool.
//
// Durability: the event log is fsync'd before any acknowledgement, and it
// is the source of truth for everything derived from events. The database
// runs with synchronous=NORMAL, so the state derived from the log (timeline,
// profiles, identities, dedupe) is not fsync'd per transaction: after a power
// loss SQLite's WAL keeps a consistent prefix of those transactions, and the
// engine replays the log from the checkpoint, which is itself part of that
// prefix. What does not come from the log (the quarantine, the checkpoint
// before the log is trimmed, write keys, journey versions and states,
// trait and audience definitions, refresh records, outbox sent marks,
// erasures) is written with synchronous=FULL. Journey instances, outbox
// entries, audience memberships and emitted events are written by
// ApplyBatch with the profiles: replaying the log recreates them, an outbox
// key is queued once, and an emitted event appended twice is dropped by
// dedupe.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/overture-cjo/overture/internal/core"
	"github.com/overture-cjo/overture/internal/eventlog"
	"github.com/overture-cjo/overture/internal/wire"
	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

//go:embed migrations/*.sql
var migrations embed.FS

// Store is the SQLite implementation of core.Store.
type Store struct {
	log *eventlog.Log
	w   *sql.DB // the single writer connection
	r   *sql.DB // readers
}

var _ core.Store = (*Store)(nil)

// Open opens (creating if needed) the store in dir: the database file
// overture.db and the event log in log/. It applies pending migrations.
// Only one process may have a store open with its log (the log directory
// is locked).
func Open(ctx context.Context, dir string) (*Store, error) {
	s, err := OpenWithoutLog(ctx, dir)
	if err != nil {
		return nil, err
	}
	if s.log, err = eventlog.Open(filepath.Join(dir, "log"), eventlog.Options{}); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// OpenWithoutLog opens the database only, for tools (such as key
// management) that may run beside a server: the event log methods fail.
func OpenWithoutLog(ctx context.Context, dir string) (*Store, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	path := filepath.Join(dir, "overture.db")
	dsn := "file:" + path + "?_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_pragma=busy_timeout(10000)&_pragma=cache_size(-32768)&_pragma=wal_autocheckpoint(16384)&_pragma=mmap_size(1073741824)&_pragma=temp_store(memory)&_pragma=foreign_keys(off)&_txlock=immediate"
	w, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open sqlite: %w", err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	s := &Store{w: w}
	if err := s.migrate(ctx); err != nil {
		w.Close()
		return nil, err
	}
	r, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)&_pragma=query_only(true)&_pragma=cache_size(-16384)&_pragma=mmap_size(1073741824)")
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("open sqlite reader: %w", err)
	}
	r.SetMaxOpenConns(4)
	r.SetMaxIdleConns(4)
	s.r = r
	return s, nil
}

// Close closes both connections.
func (s *Store) Close() error {
	err := s.w.Close()
	if s.log != nil {
		if e := s.log.Close(); err == nil {
			err = e
		}
	}
	if s.r != nil {
		if e := s.r.Close(); err == nil {
			err = e
		}
	}
	return err
}

func (s *Store) migrate(ctx context.Context) error {
	if _, err := s.w.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY)`); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return err
	}
	sort.Strings(names)
	for _, name := range names {
		base := strings.TrimPrefix(name, "migrations/")
		v, err := strconv.Atoi(strings.SplitN(base, "_", 2)[0])
		if err != nil {
			return fmt.Errorf("migration %s: bad name", name)
		}
		var n int
		if err := s.w.QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations WHERE version = ?`, v).Scan(&n); err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
		if n > 0 {
			continue
		}
		body, err := migrations.ReadFile(name)
		if err != nil {
			return err
		}
		tx, err := s.w.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, string(body)); err != nil {
			tx.Rollback()
			return fmt.Errorf("migration %s: %w", base, err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version) VALUES (?)`, v); err != nil {
			tx.Rollback()
			return err
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("migration %s: %w", base, err)
		}
	}
	return nil
}

// durably runs fn in a transaction that is fsync'd on commit, on the
// writer connection.
func (s *Store) durably(ctx context.Context, fn func(tx *sql.Tx) error) error {
	conn, err := s.w.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `PRAGMA synchronous = FULL`); err != nil {
		return err
	}
	defer conn.ExecContext(context.WithoutCancel(ctx), `PRAGMA synchronous = NORMAL`)
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := fn(tx); err != nil {
		return err
	}
	return tx.Commit()
}

// execDurably runs one statement durably (see durably) and returns the
// number of rows it affected.
func (s *Store) execDurably(ctx context.Context, query string, args ...any) (int64, error) {
	var n int64
	err := s.durably(ctx, func(tx *sql.Tx) error {
		r, err := tx.ExecContext(ctx, query, args...)
		if err == nil {
			n, _ = r.RowsAffected()
		}
		return err
	})
	return n, err
}

// inTx runs fn in a transaction on the writer with the default
// synchronous=NORMAL.
func (s *Store) inTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := fn(tx); err != nil {
		return err
	}
	return tx.Commit()
}

// inList returns "?,?,?" for n placeholders.
func inList(n int) string {
	return strings.TrimSuffix(strings.Repeat("?,", n), ",")
}

func anys(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

func nanos(t time.Time) int64 { return wire.Nanos(t) }

func fromNanos(n int64) time.Time { return wire.FromNanos(n) }

// chunks calls fn for slices of ids of at most 500 (SQLite's variable limit
// is far higher, but long IN lists plan badly).
func chunks(ids []string, fn func([]string) error) error {
	for len(ids) > 0 {
		n := min(len(ids), 500)
		if err := fn(ids[:n]); err != nil {
			return err
		}
		ids = ids[n:]
	}
	return nil
}

// distinct returns ids without repeats, in their first order.
func distinct(ids []string) []string {
	seen := make(map[string]bool, len(ids))
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}
