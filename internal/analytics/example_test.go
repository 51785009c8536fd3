package analytics_test

import (
	"fmt"
	"time"

	"github.com/overture-cjo/overture/internal/analytics"
)

func ExampleUplift() {
	// 1,300 of 10,000 treated customers reached the goal, against 1,000
	// of 10,000 held out.
	r := analytics.Uplift(1300, 10000, 1000, 10000, 0.95)
	fmt.Printf("difference %+.4f [%+.4f, %+.4f], lift %+.0f%%, significant %v\n",
		r.Difference, r.DifferenceCI.Lo, r.DifferenceCI.Hi, 100**r.RelativeLift, r.Significant)
	// Output: difference +0.0300 [+0.0212, +0.0388], lift +30%, significant true
}

func ExampleDrivers() {
	var obs []analytics.Observation
	add := func(n, called int, features ...string) {
		for i := range n {
			obs = append(obs, analytics.Observation{Features: features, Outcome: i < called})
		}
	}
	add(1000, 350, "context.os.name=iOS", "event.document_upload=true")
	add(1000, 60, "context.os.name=iOS", "event.document_upload=false")
	add(1000, 60, "context.os.name=Android", "event.document_upload=true")
	add(1000, 60, "context.os.name=Android", "event.document_upload=false")
	r := analytics.Drivers(obs, analytics.DriverOptions{MinSupport: 30, Pairs: analytics.DefaultPairs, Limit: 3})
	for _, d := range r.Drivers {
		fmt.Printf("%-50s %4d %.2f RR %.2f [%.2f, %.2f]\n", d.Label(), d.Support, d.Rate, d.RelativeRisk, d.CI.Lo, d.CI.Hi)
	}
	// Output:
	// context.os.name=iOS & event.document_upload=true   1000 0.35 RR 5.83 [4.95, 6.88]
	// context.os.name=iOS                                2000 0.20 RR 3.42 [2.81, 4.15]
	// event.document_upload=true                         2000 0.20 RR 3.42 [2.81, 4.15]
}

func ExamplePaths() {
	r := analytics.Paths([][]string{
		{"email_opened", "page_viewed", "goal"},
		{"email_opened", "page_viewed", "goal"},
		{"email_opened", "contact_center_call"},
	}, analytics.PathOptions{TopK: 2})
	for _, p := range r.Top {
		fmt.Println(p.Count, p.Steps)
	}
	for _, l := range r.Sankey.Links {
		fmt.Println(r.Sankey.Nodes[l.Source].ID, "->", r.Sankey.Nodes[l.Target].ID, l.Value)
	}
	// Output:
	// 2 [email_opened page_viewed goal]
	// 1 [email_opened contact_center_call]
	// 1:email_opened -> 2:page_viewed 2
	// 1:email_opened -> 2:contact_center_call 1
	// 2:page_viewed -> 3:goal 2
}

func ExampleQuantile() {
	counts := make([]int64, analytics.DurationBuckets)
	for _, d := range []time.Duration{3 * time.Minute, 10 * time.Minute, 25 * time.Minute, 2 * time.Hour} {
		counts[analytics.Bucket(d)]++
	}
	// The median lies at the top of the bucket holding 10 minutes.
	fmt.Println(analytics.Quantile(counts, 0.5).Round(time.Second))
	// Output: 10m9s
}
