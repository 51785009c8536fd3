package sqlite

import (
	"context"
	"fmt"
	"testing"

	"github.com/overture-cjo/overture/internal/storetest"
)

// BenchmarkApplyJourneyStats: see storetest.BenchApplyJourneyStats.
func BenchmarkApplyJourneyStats(b *testing.B) {
	for _, counters := range []bool{false, true} {
		b.Run(fmt.Sprintf("counters=%v", counters), func(b *testing.B) {
			s, err := Open(context.Background(), b.TempDir())
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			storetest.BenchApplyJourneyStats(b, s, counters)
		})
	}
}
