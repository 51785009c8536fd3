package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/overture-cjo/overture/internal/core"
)

// LookupIdentities implements core.Store.
func (s *Store) LookupIdentities(ctx context.Context, keys []string) (map[string]string, error) {
	out := make(map[string]string, len(keys))
	if len(keys) == 0 {
		return out, nil
	}
	rows, err := s.pool.Query(ctx, `SELECT key, profile_id FROM identities WHERE key = ANY($1)`, byteStrings(keys))
	if err != nil {
		return nil, fmt.Errorf("lookup identities: %w", err)
	}
	defer rows.Close()
	var k []byte
	var p string
	for rows.Next() {
		if err := rows.Scan(&k, &p); err != nil {
			return nil, fmt.Errorf("lookup identities: %w", err)
		}
		out[string(k)] = p
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("lookup identities: %w", err)
	}
	return out, nil
}

// IdentitiesOf implements core.Store.
func (s *Store) IdentitiesOf(ctx context.Context, profileIDs []string) (map[string][]core.Identifier, error) {
	out := make(map[string][]core.Identifier, len(profileIDs))
	ids := storable(profileIDs)
	if len(ids) == 0 {
		return out, nil
	}
	rows, err := s.pool.Query(ctx, `SELECT profile_id, kind, value FROM identities WHERE profile_id = ANY($1) ORDER BY profile_id, kind, value`, ids)
	if err != nil {
		return nil, fmt.Errorf("identities of: %w", err)
	}
	defer rows.Close()
	var p string
	var v []byte
	for rows.Next() {
		var id core.Identifier
		if err := rows.Scan(&p, &id.Kind, &v); err != nil {
			return nil, fmt.Errorf("identities of: %w", err)
		}
		id.Value = string(v)
		out[p] = append(out[p], id)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("identities of: %w", err)
	}
	return out, nil
}

// CommitIdentities implements core.Store: the ops go in order, in one
// transaction and one round trip.
func (s *Store) CommitIdentities(ctx context.Context, ops []core.IdentityOp) error {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("commit identities: %w", err)
	}
	defer tx.Rollback(ctx)
	// Derived from the durable log and replayed from the checkpoint after
	// a crash, so it need not wait for its own WAL flush (see package doc).
	if _, err := tx.Exec(ctx, "SET LOCAL synchronous_commit = off"); err != nil {
		return fmt.Errorf("commit identities: %w", err)
	}
	// Runs of bindings go in one statement each; within a run the last
	// binding of a key is the one that counts (as one statement per binding
	// would give), and a merge ends a run since it must see the bindings
	// before it.
	b := &pgx.Batch{}
	var run []core.IdentityOp
	flush := func() {
		if len(run) == 0 {
			return
		}
		last := make(map[string]int, len(run))
		for i, op := range run {
			last[op.Bind.Key()] = i
		}
		var keys, values [][]byte
		var kinds, profiles []string
		for i, op := range run {
			if k := op.Bind.Key(); last[k] == i {
				keys = append(keys, []byte(k))
				kinds = append(kinds, op.Bind.Kind)
				values = append(values, []byte(op.Bind.Value))
				profiles = append(profiles, op.ProfileID)
			}
		}
		b.Queue(`INSERT INTO identities (key, kind, value, profile_id)
			SELECT * FROM unnest($1::bytea[], $2::text[], $3::bytea[], $4::text[])
			ON CONFLICT (key) DO UPDATE SET profile_id = excluded.profile_id`, keys, kinds, values, profiles)
		run = run[:0]
	}
	for _, op := range ops {
		switch {
		case op.Bind != nil:
			run = append(run, op)
		case op.Merge != nil:
			flush()
			b.Queue(`UPDATE identities SET profile_id = $1 WHERE profile_id = $2`, op.Merge.Into, op.Merge.From)
			b.Queue(`INSERT INTO merges (from_id, into_id) VALUES ($1, $2)`, op.Merge.From, op.Merge.Into)
		}
	}
	flush()
	if err := execBatch(ctx, tx, b); err != nil {
		return fmt.Errorf("commit identities: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("commit identities: %w", err)
	}
	return nil
}

// PendingMerges implements core.Store.
func (s *Store) PendingMerges(ctx context.Context) ([]core.Merge, error) {
	rows, err := s.pool.Query(ctx, `SELECT from_id, into_id FROM merges ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("pending merges: %w", err)
	}
	defer rows.Close()
	var out []core.Merge
	for rows.Next() {
		var m core.Merge
		if err := rows.Scan(&m.From, &m.Into); err != nil {
			return nil, fmt.Errorf("pending merges: %w", err)
		}
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("pending merges: %w", err)
	}
	return out, nil
}
