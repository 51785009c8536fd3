package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/overture-cjo/overture/internal/core"
)

func payloads(events []*core.Event) [][]byte {
	out := make([][]byte, len(events))
	for i, e := range events {
		out[i] = e.AppendJSON(nil)
	}
	return out
}

func BenchmarkScratchAppend(b *testing.B) {
	url := newSchema(b)
	s := open(b, url)
	defer s.Close()
	conn, err := pgx.Connect(context.Background(), url)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close(context.Background())
	now := time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)
	p := payloads(benchEvents(batchSize, 100, 0, now))
	ctx := context.Background()
	b.Run("encode", func(b *testing.B) {
		ev := benchEvents(batchSize, 100, 0, now)
		for b.Loop() {
			payloads(ev)
		}
	})
	b.Run("cte", func(b *testing.B) {
		for b.Loop() {
			rows, _ := conn.Query(ctx, `WITH s AS MATERIALIZED (
	SELECT nextval('log_seq') AS seq FROM generate_series(1, cardinality($1::bytea[]))
), r AS (
	SELECT seq, row_number() OVER (ORDER BY seq) AS i FROM s
)
INSERT INTO log (seq, body)
SELECT r.seq, t.body FROM r JOIN unnest($1::bytea[]) WITH ORDINALITY AS t(body, i) USING (i)
RETURNING seq`, p)
			if _, err := pgx.CollectRows(rows, pgx.RowTo[int64]); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("simple", func(b *testing.B) {
		for b.Loop() {
			rows, _ := conn.Query(ctx, `INSERT INTO log (seq, body) SELECT nextval('log_seq'), body FROM unnest($1::bytea[]) AS t(body) RETURNING seq`, p)
			if _, err := pgx.CollectRows(rows, pgx.RowTo[int64]); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("copy", func(b *testing.B) {
		for b.Loop() {
			rows, _ := conn.Query(ctx, `SELECT nextval('log_seq') FROM generate_series(1, $1)`, len(p))
			seqs, err := pgx.CollectRows(rows, pgx.RowTo[int64])
			if err != nil {
				b.Fatal(err)
			}
			rs := make([][]any, len(p))
			for i := range p {
				rs[i] = []any{seqs[i], p[i]}
			}
			if _, err := conn.CopyFrom(ctx, pgx.Identifier{"log"}, []string{"seq", "body"}, pgx.CopyFromRows(rs)); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("select-only", func(b *testing.B) {
		for b.Loop() {
			var n int64
			if err := conn.QueryRow(ctx, `SELECT sum(length(body)) FROM unnest($1::bytea[]) AS t(body)`, p).Scan(&n); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("unlogged-cmp-synccommit-off", func(b *testing.B) {
		conn.Exec(ctx, `SET synchronous_commit = off`)
		defer conn.Exec(ctx, `SET synchronous_commit = on`)
		for b.Loop() {
			rows, _ := conn.Query(ctx, `INSERT INTO log (seq, body) SELECT nextval('log_seq'), body FROM unnest($1::bytea[]) AS t(body) RETURNING seq`, p)
			if _, err := pgx.CollectRows(rows, pgx.RowTo[int64]); err != nil {
				b.Fatal(err)
			}
		}
	})
}
