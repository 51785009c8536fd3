package postgres

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/overture-cjo/overture/internal/core"
)

// SaveDefinition implements core.Store as SaveJourney does for journeys:
// it locks the definition's row (creating it first if need be), so
// concurrent saves of one definition take turns. Saving a deleted
// definition adds a version even if its source is unchanged, and makes it
// active again.
func (s *Store) SaveDefinition(ctx context.Context, kind, id, source string, now time.Time) (*core.DefinitionVersion, bool, error) {
	if !isStorable(kind) {
		return nil, false, core.Errorf(core.EINVALID, "kind", "definition kind %q has a NUL byte or invalid UTF-8", kind)
	}
	if !isStorable(id) {
		return nil, false, core.Errorf(core.EINVALID, "id", "%s id %q has a NUL byte or invalid UTF-8", kind, id)
	}
	sum := sha256.Sum256([]byte(source))
	hash := hex.EncodeToString(sum[:])
	now = fromNanos(nanos(now))
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return nil, false, fmt.Errorf("save %s: %w", kind, err)
	}
	defer tx.Rollback(ctx)
	// Version 0 marks a new definition; it is never committed.
	if _, err := tx.Exec(ctx, `INSERT INTO definitions (kind, id, version, updated_at) VALUES ($1, $2, 0, $3) ON CONFLICT (kind, id) DO NOTHING`,
		kind, id, nanos(now)); err != nil {
		return nil, false, fmt.Errorf("save %s: %w", kind, err)
	}
	var version int32
	var deleted, at *int64
	var src []byte
	var lastHash *string
	if err := tx.QueryRow(ctx, `SELECT d.version, d.deleted_at, v.source, v.hash, v.created_at FROM definitions d
		LEFT JOIN definition_versions v ON v.kind = d.kind AND v.id = d.id AND v.version = d.version
		WHERE d.kind = $1 AND d.id = $2 FOR UPDATE OF d`, kind, id).Scan(&version, &deleted, &src, &lastHash, &at); err != nil {
		return nil, false, fmt.Errorf("save %s: %w", kind, err)
	}
	if version > 0 && lastHash != nil && *lastHash == hash && deleted == nil {
		// The rollback leaves everything as it was.
		return &core.DefinitionVersion{Kind: kind, ID: id, Version: int(version), Source: string(src), Hash: hash, CreatedAt: fromNanos(*at)}, false, nil
	}
	v := &core.DefinitionVersion{Kind: kind, ID: id, Version: int(version) + 1, Source: source, Hash: hash, CreatedAt: now}
	b := &pgx.Batch{}
	b.Queue(`UPDATE definitions SET version = $3, deleted_at = NULL, updated_at = $4 WHERE kind = $1 AND id = $2`,
		kind, id, int32(v.Version), nanos(now))
	b.Queue(`INSERT INTO definition_versions (kind, id, version, source, hash, created_at) VALUES ($1, $2, $3, $4, $5, $6)`,
		kind, id, int32(v.Version), []byte(source), hash, nanos(now))
	if err := execBatch(ctx, tx, b); err != nil {
		return nil, false, fmt.Errorf("save %s: %w", kind, err)
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, false, fmt.Errorf("save %s: %w", kind, err)
	}
	return v, true, nil
}

// Definitions implements core.Store.
func (s *Store) Definitions(ctx context.Context, kind string) ([]*core.DefinitionVersion, error) {
	if !isStorable(kind) {
		return nil, nil
	}
	rows, err := s.pool.Query(ctx, `SELECT d.id, d.deleted_at, v.version, v.source, v.hash, v.created_at FROM definitions d
		JOIN definition_versions v ON v.kind = d.kind AND v.id = d.id AND v.version = d.version
		WHERE d.kind = $1 ORDER BY d.id`, kind)
	if err != nil {
		return nil, fmt.Errorf("definitions: %w", err)
	}
	defer rows.Close()
	var out []*core.DefinitionVersion
	for rows.Next() {
		v := &core.DefinitionVersion{Kind: kind}
		var deleted *int64
		var version int32
		var src []byte
		var created int64
		if err := rows.Scan(&v.ID, &deleted, &version, &src, &v.Hash, &created); err != nil {
			return nil, fmt.Errorf("definitions: %w", err)
		}
		v.Version, v.Source, v.CreatedAt, v.Deleted = int(version), string(src), fromNanos(created), deleted != nil
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("definitions: %w", err)
	}
	return out, nil
}

// DeleteDefinition implements core.Store. Deleting a deleted definition
// changes nothing.
func (s *Store) DeleteDefinition(ctx context.Context, kind, id string, now time.Time) error {
	var n int64
	if isStorable(kind) && isStorable(id) {
		ct, err := s.pool.Exec(ctx, `UPDATE definitions SET deleted_at = coalesce(deleted_at, $1), updated_at = $1
			WHERE kind = $2 AND id = $3`, nanos(now), kind, id)
		if err != nil {
			return fmt.Errorf("delete %s: %w", kind, err)
		}
		n = ct.RowsAffected()
	}
	if n == 0 {
		return core.Errorf(core.ENOTFOUND, "id", "%s %q not found", kind, id)
	}
	return nil
}
