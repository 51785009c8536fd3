package ingest

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// benchBatch is a 100-event batch of ~400-byte track events, like the load
// generator's.
func benchBatch() []byte {
	var items []string
	for i := 0; i < 100; i++ {
		items = append(items, fmt.Sprintf(`{"type":"track","event":"Product Viewed","userId":"u-%d","anonymousId":"a-%d","messageId":"bench-%d","timestamp":"2026-11-23T11:00:00.123Z","properties":{"product_id":"p-%d","sku":"SKU-%d","category":"Shoes","name":"Trail Runner","price":79.99,"currency":"EUR","quantity":1},"context":{"library":{"name":"overture-bench","version":"1"},"ip":"10.1.2.3"}}`, i, i, i, i, i))
	}
	return []byte(`{"batch":[` + strings.Join(items, ",") + `],"sentAt":"2026-11-23T11:00:01Z"}`)
}

func BenchmarkDecodeBatch(b *testing.B) {
	body := benchBatch()
	d := testDecoder(time.Now())
	b.SetBytes(int64(len(body)))
	for i := 0; i < b.N; i++ {
		if _, bad, _, err := d.DecodeBatch(body); err != nil || len(bad) > 0 {
			b.Fatal(err, bad)
		}
	}
	b.ReportMetric(float64(b.N*100)/b.Elapsed().Seconds(), "events/s")
}
