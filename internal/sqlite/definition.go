package sqlite

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/overture-cjo/overture/internal/core"
)

// SaveDefinition implements core.Store, durably, as SaveJourney does for
// journeys; saving a deleted definition adds a version even if its source
// is unchanged, and makes it active again.
func (s *Store) SaveDefinition(ctx context.Context, kind, id, source string, now time.Time) (*core.DefinitionVersion, bool, error) {
	sum := sha256.Sum256([]byte(source))
	hash := hex.EncodeToString(sum[:])
	now = fromNanos(nanos(now))
	var v *core.DefinitionVersion
	created := false
	err := s.durably(ctx, func(tx *sql.Tx) error {
		last := &core.DefinitionVersion{Kind: kind, ID: id}
		var at int64
		var deleted sql.NullInt64
		err := tx.QueryRowContext(ctx, `SELECT v.version, v.source, v.hash, v.created_at, d.deleted_at FROM definitions d
			JOIN definition_versions v ON v.kind = d.kind AND v.id = d.id AND v.version = d.version
			WHERE d.kind = ? AND d.id = ?`, kind, id).Scan(&last.Version, &last.Source, &last.Hash, &at, &deleted)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		if err == nil && last.Hash == hash && !deleted.Valid {
			last.CreatedAt = fromNanos(at)
			v = last
			return nil
		}
		v = &core.DefinitionVersion{Kind: kind, ID: id, Version: last.Version + 1, Source: source, Hash: hash, CreatedAt: now}
		if _, err := tx.ExecContext(ctx, `INSERT INTO definitions (kind, id, version, deleted_at, updated_at) VALUES (?, ?, ?, NULL, ?)
			ON CONFLICT (kind, id) DO UPDATE SET version = excluded.version, deleted_at = NULL, updated_at = excluded.updated_at`,
			kind, id, v.Version, nanos(now)); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO definition_versions (kind, id, version, source, hash, created_at) VALUES (?, ?, ?, ?, ?, ?)`,
			kind, id, v.Version, source, hash, nanos(now)); err != nil {
			return err
		}
		created = true
		return nil
	})
	if err != nil {
		return nil, false, fmt.Errorf("save %s: %w", kind, err)
	}
	return v, created, nil
}

// Definitions implements core.Store.
func (s *Store) Definitions(ctx context.Context, kind string) ([]*core.DefinitionVersion, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT d.id, d.deleted_at, v.version, v.source, v.hash, v.created_at FROM definitions d
		JOIN definition_versions v ON v.kind = d.kind AND v.id = d.id AND v.version = d.version
		WHERE d.kind = ? ORDER BY d.id`, kind)
	if err != nil {
		return nil, fmt.Errorf("definitions: %w", err)
	}
	defer rows.Close()
	var out []*core.DefinitionVersion
	for rows.Next() {
		v := &core.DefinitionVersion{Kind: kind}
		var deleted sql.NullInt64
		var created int64
		if err := rows.Scan(&v.ID, &deleted, &v.Version, &v.Source, &v.Hash, &created); err != nil {
			return nil, fmt.Errorf("definitions: %w", err)
		}
		v.CreatedAt, v.Deleted = fromNanos(created), deleted.Valid
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("definitions: %w", err)
	}
	return out, nil
}

// DeleteDefinition implements core.Store, durably. Deleting a deleted
// definition changes nothing.
func (s *Store) DeleteDefinition(ctx context.Context, kind, id string, now time.Time) error {
	n, err := s.execDurably(ctx, `UPDATE definitions SET deleted_at = coalesce(deleted_at, ?), updated_at = ? WHERE kind = ? AND id = ?`,
		nanos(now), nanos(now), kind, id)
	if err != nil {
		return fmt.Errorf("delete %s: %w", kind, err)
	}
	if n == 0 {
		return core.Errorf(core.ENOTFOUND, "id", "%s %q not found", kind, id)
	}
	return nil
}
