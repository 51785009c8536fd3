package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/overture-cjo/overture/internal/core"
)

// CreateKey implements core.Store.
func (s *Store) CreateKey(ctx context.Context, k *core.WriteKey) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO write_keys (id, name, hash, prefix, created_at) VALUES ($1, $2, $3, $4, $5)`,
		k.ID, []byte(k.Name), k.Hash, k.Prefix, nanos(k.CreatedAt))
	if err != nil {
		return fmt.Errorf("create key: %w", err)
	}
	return nil
}

// ListKeys implements core.Store.
func (s *Store) ListKeys(ctx context.Context) ([]*core.WriteKey, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, name, hash, prefix, created_at, revoked_at FROM write_keys ORDER BY created_at, id`)
	if err != nil {
		return nil, fmt.Errorf("list keys: %w", err)
	}
	defer rows.Close()
	var out []*core.WriteKey
	for rows.Next() {
		k, err := scanKey(rows)
		if err != nil {
			return nil, fmt.Errorf("list keys: %w", err)
		}
		out = append(out, k)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list keys: %w", err)
	}
	return out, nil
}

// RevokeKey implements core.Store. Revoking a revoked key keeps the first
// revocation time.
func (s *Store) RevokeKey(ctx context.Context, id string, at time.Time) error {
	var n int64
	if isStorable(id) {
		ct, err := s.pool.Exec(ctx, `UPDATE write_keys SET revoked_at = coalesce(revoked_at, $1) WHERE id = $2`, nanos(at), id)
		if err != nil {
			return fmt.Errorf("revoke key: %w", err)
		}
		n = ct.RowsAffected()
	}
	if n == 0 {
		return core.Errorf(core.ENOTFOUND, "id", "write key %q not found", id)
	}
	return nil
}

// KeyByHash implements core.Store.
func (s *Store) KeyByHash(ctx context.Context, hash string) (*core.WriteKey, error) {
	if !isStorable(hash) {
		return nil, core.Errorf(core.ENOTFOUND, "writeKey", "unknown write key")
	}
	k, err := scanKey(s.pool.QueryRow(ctx, `SELECT id, name, hash, prefix, created_at, revoked_at FROM write_keys WHERE hash = $1`, hash))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, core.Errorf(core.ENOTFOUND, "writeKey", "unknown write key")
	}
	if err != nil {
		return nil, fmt.Errorf("key by hash: %w", err)
	}
	return k, nil
}

func scanKey(row pgx.Row) (*core.WriteKey, error) {
	k := new(core.WriteKey)
	var name []byte
	var created int64
	var revoked *int64
	if err := row.Scan(&k.ID, &name, &k.Hash, &k.Prefix, &created, &revoked); err != nil {
		return nil, err
	}
	k.Name = string(name)
	k.CreatedAt = fromNanos(created)
	if revoked != nil {
		t := fromNanos(*revoked)
		k.RevokedAt = &t
	}
	return k, nil
}
