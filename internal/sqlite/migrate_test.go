package sqlite

import (
	"database/sql"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/overture-cjo/overture/internal/core"
)

// TestUpgrade: a database made before the journey and audience tables existed
// (only migration 1 applied) gains them on Open, and keeps its data.
func TestUpgrade(t *testing.T) {
	dir := t.TempDir()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "overture.db"))
	if err != nil {
		t.Fatal(err)
	}
	body, err := migrations.ReadFile("migrations/0001_init.sql")
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY)`,
		string(body),
		`INSERT INTO schema_migrations (version) VALUES (1)`,
		`INSERT INTO meta (key, value) VALUES ('checkpoint', '42')`,
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("set up version 1: %v", err)
		}
	}
	db.Close()

	s, err := OpenWithoutLog(t.Context(), dir)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	defer s.Close()
	rows, err := s.r.QueryContext(t.Context(), `SELECT version FROM schema_migrations ORDER BY version`)
	if err != nil {
		t.Fatal(err)
	}
	var versions []int
	for rows.Next() {
		var v int
		rows.Scan(&v)
		versions = append(versions, v)
	}
	rows.Close()
	if !slices.Equal(versions, []int{1, 2, 3, 4, 5, 6, 7}) {
		t.Errorf("schema_migrations = %v, want [1 2 3 4 5 6 7]", versions)
	}
	if cp, err := s.Checkpoint(t.Context()); err != nil || cp != 42 {
		t.Errorf("checkpoint after upgrade = %d, %v; want 42", cp, err)
	}
	if _, created, err := s.SaveJourney(t.Context(), "welcome", "id: welcome\n", time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)); err != nil || !created {
		t.Errorf("save journey after upgrade: created %v, %v", created, err)
	}
	if _, created, err := s.SaveDefinition(t.Context(), core.KindAudience, "vip", "id: vip\n", time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)); err != nil || !created {
		t.Errorf("save audience after upgrade: created %v, %v", created, err)
	}
}
