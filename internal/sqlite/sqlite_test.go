package sqlite_test

import (
	"testing"

	"github.com/overture-cjo/overture/internal/core"
	"github.com/overture-cjo/overture/internal/sqlite"
	"github.com/overture-cjo/overture/internal/storetest"
)

func TestStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) core.Store {
		s, err := sqlite.Open(t.Context(), t.TempDir())
		if err != nil {
			t.Fatalf("open: %v", err)
		}
		return s
	})
}
