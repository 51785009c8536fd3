package sqlite

import (
	"context"
	"fmt"

	"github.com/overture-cjo/overture/internal/core"
)

// LookupIdentities implements core.Store.
func (s *Store) LookupIdentities(ctx context.Context, keys []string) (map[string]string, error) {
	out := make(map[string]string, len(keys))
	err := chunks(keys, func(part []string) error {
		rows, err := s.r.QueryContext(ctx, `SELECT key, profile_id FROM identities WHERE key IN (`+inList(len(part))+`)`, anys(part)...)
		if err != nil {
			return fmt.Errorf("lookup identities: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			var k, p string
			if err := rows.Scan(&k, &p); err != nil {
				return err
			}
			out[k] = p
		}
		return rows.Err()
	})
	return out, err
}

// IdentitiesOf implements core.Store.
func (s *Store) IdentitiesOf(ctx context.Context, profileIDs []string) (map[string][]core.Identifier, error) {
	out := make(map[string][]core.Identifier, len(profileIDs))
	err := chunks(profileIDs, func(part []string) error {
		rows, err := s.r.QueryContext(ctx, `SELECT profile_id, kind, value FROM identities WHERE profile_id IN (`+inList(len(part))+`) ORDER BY profile_id, kind, value`, anys(part)...)
		if err != nil {
			return fmt.Errorf("identities of: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			var p string
			var id core.Identifier
			if err := rows.Scan(&p, &id.Kind, &id.Value); err != nil {
				return err
			}
			out[p] = append(out[p], id)
		}
		return rows.Err()
	})
	return out, err
}

// CommitIdentities implements core.Store.
func (s *Store) CommitIdentities(ctx context.Context, ops []core.IdentityOp) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("commit identities: %w", err)
	}
	defer tx.Rollback()
	// Runs of bindings go in multi-row statements (a row later in a run
	// wins over an earlier one with the same key, as one statement each
	// would); a merge ends a run, since it must see the bindings before it.
	var run []core.IdentityOp
	flush := func() error {
		if len(run) == 0 {
			return nil
		}
		err := multiRow(ctx, tx, len(run), 4, `INSERT INTO identities (key, kind, value, profile_id) VALUES `,
			` ON CONFLICT (key) DO UPDATE SET profile_id = excluded.profile_id`,
			func(args []any, i int) ([]any, error) {
				b := run[i]
				return append(args, b.Bind.Key(), b.Bind.Kind, b.Bind.Value, b.ProfileID), nil
			})
		run = run[:0]
		if err != nil {
			return fmt.Errorf("bind identities: %w", err)
		}
		return nil
	}
	for _, op := range ops {
		switch {
		case op.Bind != nil:
			run = append(run, op)
		case op.Merge != nil:
			if err := flush(); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `UPDATE identities SET profile_id = ? WHERE profile_id = ?`, op.Merge.Into, op.Merge.From); err != nil {
				return fmt.Errorf("merge identities: %w", err)
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO merges (from_id, into_id) VALUES (?, ?)`, op.Merge.From, op.Merge.Into); err != nil {
				return fmt.Errorf("record merge: %w", err)
			}
		}
	}
	if err := flush(); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit identities: %w", err)
	}
	return nil
}

// PendingMerges implements core.Store.
func (s *Store) PendingMerges(ctx context.Context) ([]core.Merge, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT from_id, into_id FROM merges ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("pending merges: %w", err)
	}
	defer rows.Close()
	var out []core.Merge
	for rows.Next() {
		var m core.Merge
		if err := rows.Scan(&m.From, &m.Into); err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, rows.Err()
}
