package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/overture-cjo/overture/internal/api"
)

// insightOptions are report's flags for the drivers and paths tables.
type insightOptions struct {
	outcome  string // "goal" or "event:NAME"
	explicit bool   // --outcome was given
	within   string
	paths    bool // --paths: the top paths too (csv: instead of the counters)
	drivers  bool // --drivers (csv: the drivers instead of the counters)
	top      int
	sample   int
}

// insights is what report fetched besides the analytics.
type insights struct {
	drivers      *api.JourneyDrivers
	driversRaw   json.RawMessage
	driversError string // why there are no drivers (no goal, say)
	paths        *api.JourneyPaths
	pathsRaw     json.RawMessage
}

// insightQuery returns the query of /drivers or /paths (endParam
// "outcome" or "end").
func (o *insightOptions) query(endParam string, version int, from, to string, csv bool) string {
	q := url.Values{}
	q.Set(endParam, o.outcome)
	if o.within != "" {
		q.Set("within", o.within)
	}
	if version > 0 {
		q.Set("version", strconv.Itoa(version))
	}
	if from != "" {
		q.Set("from", from)
	}
	if to != "" {
		q.Set("to", to)
	}
	if o.sample > 0 {
		q.Set("sample", strconv.Itoa(o.sample))
	}
	if o.top > 0 {
		if endParam == "end" {
			q.Set("top", strconv.Itoa(o.top))
		} else {
			q.Set("limit", strconv.Itoa(o.top))
		}
	}
	if csv {
		q.Set("format", "csv")
	}
	return "?" + q.Encode()
}

// validate checks the flags.
func (o *insightOptions) validate() error {
	if o.outcome != "goal" && (!strings.HasPrefix(o.outcome, "event:") || len(o.outcome) == len("event:")) {
		return fmt.Errorf("report: --outcome %q: want goal or event:NAME", o.outcome)
	}
	return nil
}

// wantDrivers reports whether the drivers table belongs in a report of a:
// an outcome was asked for, or a version has a goal.
func (o *insightOptions) wantDrivers(a *api.JourneyAnalytics) bool {
	if o.explicit || o.drivers {
		return true
	}
	for _, v := range a.Versions {
		if v.Goal != nil && v.Goal.Event != "" {
			return true
		}
	}
	return false
}

// fetchInsights GETs the drivers (if wanted) and the paths (with
// --paths) of journey id. A refusal of the drivers because the journey
// has no goal is kept as a note; other errors fail the report.
func (c *applyClient) fetchInsights(ctx context.Context, id string, o *insightOptions, a *api.JourneyAnalytics, version int, from, to string) (*insights, error) {
	in := &insights{}
	base := "/v1/journeys/" + url.PathEscape(id)
	if o.wantDrivers(a) {
		body, err := c.get(ctx, base+"/drivers"+o.query("outcome", version, from, to, false))
		switch {
		case err != nil && !o.explicit && strings.Contains(err.Error(), "has no goal"):
			in.driversError = "no goal: give --outcome event:NAME for drivers"
		case err != nil:
			return nil, err
		default:
			in.driversRaw = body
			in.drivers = new(api.JourneyDrivers)
			if err := json.Unmarshal(body, in.drivers); err != nil {
				return nil, fmt.Errorf("the server's drivers: %w", err)
			}
		}
	}
	if o.paths {
		body, err := c.get(ctx, base+"/paths"+o.query("end", version, from, to, false))
		if err != nil {
			return nil, err
		}
		in.pathsRaw = body
		in.paths = new(api.JourneyPaths)
		if err := json.Unmarshal(body, in.paths); err != nil {
			return nil, fmt.Errorf("the server's paths: %w", err)
		}
	}
	return in, nil
}

// withInsights adds "drivers" and "paths" members to the analytics
// answer (the report's JSON form).
func withInsights(analytics []byte, in *insights) ([]byte, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(analytics, &m); err != nil {
		return nil, err
	}
	if in.driversRaw != nil {
		m["drivers"] = in.driversRaw
	}
	if in.pathsRaw != nil {
		m["paths"] = in.pathsRaw
	}
	return json.Marshal(m)
}

// endTitle names an outcome for a table's title: "contact_center_call"
// for event:contact_center_call, "missing the goal" for goal.
func endTitle(outcome string, failure bool) string {
	if name, ok := strings.CutPrefix(outcome, "event:"); ok {
		return name
	}
	if failure {
		return "missing the goal"
	}
	return "the goal"
}

// sampleNote says how many instances a table read.
func sampleNote(s api.InsightSample) string {
	note := fmt.Sprintf("%d instances", s.SampleSize)
	if s.Sampled {
		note = fmt.Sprintf("a sample of %d of %d instances", s.SampleSize, s.Population)
	}
	if s.Open > 0 {
		note += fmt.Sprintf(", %d still in their window", s.Open)
	}
	return note
}

// printInsights prints the drivers and paths tables.
func printInsights(w io.Writer, in *insights) {
	if in.driversError != "" {
		fmt.Fprintf(w, "\nDrivers: %s\n", in.driversError)
	}
	if d := in.drivers; d != nil {
		fmt.Fprintf(w, "\nTop drivers of %s within %s (%s): %d of %d had it (%s)\n", endTitle(d.Outcome, true), d.Within, sampleNote(d.InsightSample),
			d.Outcomes, d.Observations, pct(d.Rate))
		if len(d.Drivers) == 0 {
			fmt.Fprintln(w, "no feature is shared by enough instances (see --sample, or the API's min_support)")
		} else {
			tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "RANK\tDRIVER\tSUPPORT\tRATE\tOTHERS\tRELATIVE RISK\t95% CI")
			for i, dr := range d.Drivers {
				fmt.Fprintf(tw, "%d\t%s\t%d\t%s\t%s\t%.2f\t[%.2f, %.2f]\n", i+1, dr.Label(), dr.Support, pct(dr.Rate), pct(dr.OthersRate),
					dr.RelativeRisk, dr.CI.Lo, dr.CI.Hi)
			}
			tw.Flush()
		}
	}
	if p := in.paths; p != nil {
		fmt.Fprintf(w, "\nTop paths to %s within %s (%s): %d of %d reached it\n", endTitle(p.End, false), p.Within, sampleNote(p.InsightSample),
			p.Reached, p.Sequences)
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "RANK\tCOUNT\tSHARE\tPATH")
		for i, pc := range p.Top {
			fmt.Fprintf(tw, "%d\t%d\t%s\t%s\n", i+1, pc.Count, pct(pc.Share), strings.Join(pc.Steps, " > "))
		}
		tw.Flush()
	}
}

// insightCSV GETs the drivers or paths CSV for report --format csv with
// --drivers or --paths.
func (c *applyClient) insightCSV(ctx context.Context, id string, o *insightOptions, version int, from, to string) ([]byte, error) {
	route, param := "/drivers", "outcome"
	if o.paths {
		route, param = "/paths", "end"
	}
	return c.get(ctx, "/v1/journeys/"+url.PathEscape(id)+route+o.query(param, version, from, to, true))
}
