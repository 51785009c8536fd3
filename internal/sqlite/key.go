package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/overture-cjo/overture/internal/core"
)

// CreateKey implements core.Store.
func (s *Store) CreateKey(ctx context.Context, k *core.WriteKey) error {
	err := s.durably(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO write_keys (id, name, hash, prefix, created_at) VALUES (?, ?, ?, ?, ?)`,
			k.ID, k.Name, k.Hash, k.Prefix, nanos(k.CreatedAt))
		return err
	})
	if err != nil {
		return fmt.Errorf("create key: %w", err)
	}
	return nil
}

// ListKeys implements core.Store.
func (s *Store) ListKeys(ctx context.Context) ([]*core.WriteKey, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT id, name, hash, prefix, created_at, revoked_at FROM write_keys ORDER BY created_at, id`)
	if err != nil {
		return nil, fmt.Errorf("list keys: %w", err)
	}
	defer rows.Close()
	var out []*core.WriteKey
	for rows.Next() {
		k, err := scanKey(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, k)
	}
	return out, rows.Err()
}

// RevokeKey implements core.Store.
func (s *Store) RevokeKey(ctx context.Context, id string, at time.Time) error {
	n, err := s.execDurably(ctx, `UPDATE write_keys SET revoked_at = coalesce(revoked_at, ?) WHERE id = ?`, nanos(at), id)
	if err != nil {
		return fmt.Errorf("revoke key: %w", err)
	}
	if n == 0 {
		return core.Errorf(core.ENOTFOUND, "id", "write key %q not found", id)
	}
	return nil
}

// KeyByHash implements core.Store.
func (s *Store) KeyByHash(ctx context.Context, hash string) (*core.WriteKey, error) {
	k, err := scanKey(s.r.QueryRowContext(ctx, `SELECT id, name, hash, prefix, created_at, revoked_at FROM write_keys WHERE hash = ?`, hash))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, core.Errorf(core.ENOTFOUND, "writeKey", "unknown write key")
	}
	return k, err
}

func scanKey(row interface{ Scan(...any) error }) (*core.WriteKey, error) {
	k := new(core.WriteKey)
	var created int64
	var revoked sql.NullInt64
	if err := row.Scan(&k.ID, &k.Name, &k.Hash, &k.Prefix, &created, &revoked); err != nil {
		return nil, err
	}
	k.CreatedAt = fromNanos(created)
	if revoked.Valid {
		t := fromNanos(revoked.Int64)
		k.RevokedAt = &t
	}
	return k, nil
}
