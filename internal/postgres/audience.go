package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/overture-cjo/overture/internal/core"
	"github.com/overture-cjo/overture/internal/wire"
)

// upsertMembersSQL adds or updates memberships in one statement; the
// (audience, profile) pairs must be distinct.
const upsertMembersSQL = `INSERT INTO audience_members (audience, profile_id, since)
	SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[])
	ON CONFLICT (audience, profile_id) DO UPDATE SET since = excluded.since`

// deleteMembersSQL removes memberships in one statement.
const deleteMembersSQL = `DELETE FROM audience_members m
	USING unnest($1::text[], $2::text[]) AS d(audience, profile_id)
	WHERE m.audience = d.audience AND m.profile_id = d.profile_id`

// insertEmitsSQL stores events in one statement, in the order given (so
// ids follow it).
const insertEmitsSQL = `INSERT INTO emits (profile_id, body)
	SELECT p, b FROM unnest($1::text[], $2::bytea[]) WITH ORDINALITY AS u(p, b, n)
	ORDER BY n`

// memberKey identifies a membership row.
type memberKey struct{ audience, profile string }

// queueAudienceWrites adds to b the membership changes and emits of c,
// then the removal of the memberships of c's merged profiles (the engine
// evaluates the survivors' audiences again). Only the last change of an
// (audience, profile) counts, as if they were applied one after the
// other.
func queueAudienceWrites(b *pgx.Batch, c *core.PartitionCommit) {
	if len(c.Members) > 0 {
		last := make(map[memberKey]int, len(c.Members))
		for i, m := range c.Members {
			last[memberKey{m.Audience, m.ProfileID}] = i
		}
		var upA, upP, delA, delP []string
		var since []int64
		for i, m := range c.Members {
			switch {
			case last[memberKey{m.Audience, m.ProfileID}] != i:
			case m.Member:
				upA, upP, since = append(upA, m.Audience), append(upP, m.ProfileID), append(since, nanos(m.Since))
			default:
				delA, delP = append(delA, m.Audience), append(delP, m.ProfileID)
			}
		}
		if len(upA) > 0 {
			b.Queue(upsertMembersSQL, upA, upP, since)
		}
		if len(delA) > 0 {
			b.Queue(deleteMembersSQL, delA, delP)
		}
	}
	if len(c.Emits) > 0 {
		profiles := make([]string, len(c.Emits))
		bodies := make([][]byte, len(c.Emits))
		for i, e := range c.Emits {
			profiles[i], bodies[i] = e.ProfileID, e.AppendJSON(nil)
		}
		b.Queue(insertEmitsSQL, profiles, bodies)
	}
	for _, m := range c.Merges {
		b.Queue(`DELETE FROM audience_members WHERE profile_id = $1`, m.From)
	}
}

// AudienceMembers implements core.Store.
func (s *Store) AudienceMembers(ctx context.Context, audience, afterID string, limit int) ([]core.Member, error) {
	if !isStorable(audience) {
		return nil, nil
	}
	rows, err := s.pool.Query(ctx, `SELECT profile_id, since FROM audience_members
		WHERE audience = $1 AND profile_id > $2 ORDER BY profile_id LIMIT $3`, audience, afterID, limitOf(limit))
	if err != nil {
		return nil, fmt.Errorf("audience members: %w", err)
	}
	defer rows.Close()
	var out []core.Member
	for rows.Next() {
		var m core.Member
		var since int64
		if err := rows.Scan(&m.ProfileID, &since); err != nil {
			return nil, fmt.Errorf("audience members: %w", err)
		}
		m.Since = fromNanos(since)
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("audience members: %w", err)
	}
	return out, nil
}

// AudienceSizes implements core.Store.
func (s *Store) AudienceSizes(ctx context.Context) (map[string]int64, error) {
	rows, err := s.pool.Query(ctx, `SELECT audience, count(*) FROM audience_members GROUP BY audience`)
	if err != nil {
		return nil, fmt.Errorf("audience sizes: %w", err)
	}
	defer rows.Close()
	out := make(map[string]int64)
	for rows.Next() {
		var a string
		var n int64
		if err := rows.Scan(&a, &n); err != nil {
			return nil, fmt.Errorf("audience sizes: %w", err)
		}
		out[a] = n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("audience sizes: %w", err)
	}
	return out, nil
}

// SaveRefresh implements core.Store.
func (s *Store) SaveRefresh(ctx context.Context, r *core.Refresh) error {
	err := s.pool.QueryRow(ctx, `INSERT INTO audience_refreshes (audience, version, triggered_by, started_at, finished_at, scanned, size, entered, exited)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id`,
		r.Audience, int32(r.Version), r.Trigger, nanos(r.StartedAt), nanos(r.FinishedAt), r.Scanned, r.Size, r.Entered, r.Exited).Scan(&r.ID)
	if err != nil {
		return fmt.Errorf("save refresh: %w", err)
	}
	return nil
}

// Refreshes implements core.Store.
func (s *Store) Refreshes(ctx context.Context, audience string, limit int) ([]*core.Refresh, error) {
	if !isStorable(audience) {
		return nil, nil
	}
	rows, err := s.pool.Query(ctx, `SELECT id, version, triggered_by, started_at, finished_at, scanned, size, entered, exited
		FROM audience_refreshes WHERE audience = $1 ORDER BY id DESC LIMIT $2`, audience, limitOf(limit))
	if err != nil {
		return nil, fmt.Errorf("refreshes: %w", err)
	}
	defer rows.Close()
	var out []*core.Refresh
	for rows.Next() {
		r := &core.Refresh{Audience: audience}
		var version int32
		var started, finished int64
		if err := rows.Scan(&r.ID, &version, &r.Trigger, &started, &finished, &r.Scanned, &r.Size, &r.Entered, &r.Exited); err != nil {
			return nil, fmt.Errorf("refreshes: %w", err)
		}
		r.Version, r.StartedAt, r.FinishedAt = int(version), fromNanos(started), fromNanos(finished)
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("refreshes: %w", err)
	}
	return out, nil
}

// PendingEmits implements core.Store.
//
// Partition workers commit concurrently, so an emit may commit after one
// with a higher id was read (see PendingOutbox): a reader that deletes
// what it appended and reads from 0 again finds it.
func (s *Store) PendingEmits(ctx context.Context, afterID int64, limit int) ([]*core.Emit, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, body FROM emits WHERE id > $1 ORDER BY id LIMIT $2`, afterID, limitOf(limit))
	if err != nil {
		return nil, fmt.Errorf("pending emits: %w", err)
	}
	defer rows.Close()
	var out []*core.Emit
	var id int64
	var body []byte
	for rows.Next() {
		if err := rows.Scan(&id, &body); err != nil {
			return nil, fmt.Errorf("pending emits: %w", err)
		}
		e, err := wire.DecodeEvent(body)
		if err != nil {
			return nil, fmt.Errorf("decode emit %d: %w", id, err)
		}
		out = append(out, &core.Emit{ID: id, Event: e})
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("pending emits: %w", err)
	}
	return out, nil
}

// DeleteEmits implements core.Store.
func (s *Store) DeleteEmits(ctx context.Context, ids []int64) error {
	if len(ids) == 0 {
		return nil
	}
	if _, err := s.pool.Exec(ctx, `DELETE FROM emits WHERE id = ANY($1)`, ids); err != nil {
		return fmt.Errorf("delete emits: %w", err)
	}
	return nil
}
