package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/overture-cjo/overture/internal/analytics"
	"github.com/overture-cjo/overture/internal/api"
)

const reportUsage = `Usage:
  overture report JOURNEY [--version N] [--from DATE] [--to DATE] [--format text|csv|json]
                          [--outcome goal|event:NAME] [--within D] [--paths] [--drivers]
                          [--top N] [--sample N] [--server URL] [--token TOKEN] [--data DIR]

Prints a journey's analytics from a running server
(GET /v1/journeys/{id}/analytics): per version the funnel of steps
(reached, waiting now, sent, delayed and suppressed by rule, exited, goal),
the goal's conversion and time to goal, the holdout uplift (treatment
against control with 95% intervals and whether the difference is
significant), and per-channel and per-offer performance. --format csv
prints the counters as CSV, --format json the API's answer. --from and
--to (YYYY-MM-DD, UTC) bound the daily series.

Then the top drivers (GET /v1/journeys/{id}/drivers): the traits and event
properties that go with the outcome, ranked by relative risk with 95%
intervals. --outcome goal (the default, when a version has a goal) ranks
the drivers of missing the goal; --outcome event:NAME those of a leak
event (event:contact_center_call) within --within of entry (default the
goal's window, else 7d). --paths adds the most frequent event sequences
from entry to the same end (GET /v1/journeys/{id}/paths). --from and --to
also bound the entry dates of the instances analysed; at most --sample
instances are read (the server's default: 20,000 for paths, 10,000 for
drivers). --format json adds
"drivers" and "paths" members to the answer; --format csv prints the
drivers (--drivers) or the paths (--paths) instead of the counters.

The admin token is --token, else OVERTURE_ADMIN_TOKEN, else the file
admin-token in the data directory (where "overture serve" keeps it).
Exits 1 if the server refuses.
`

func reportCommand(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("report", flag.ContinueOnError)
	fs.SetOutput(stderr)
	server := fs.String("server", envOr("OVERTURE_SERVER", defaultServer), "the server's base URL (env OVERTURE_SERVER)")
	token := fs.String("token", envOr("OVERTURE_ADMIN_TOKEN", ""), "admin API token (env OVERTURE_ADMIN_TOKEN); if empty, read from <data>/admin-token")
	data := fs.String("data", envOr("OVERTURE_DATA", "./overture-data"), "data directory holding admin-token (env OVERTURE_DATA)")
	version := fs.Int("version", 0, "one version only (default: every version)")
	from := fs.String("from", "", "first day of the daily series, YYYY-MM-DD (UTC)")
	to := fs.String("to", "", "last day of the daily series, YYYY-MM-DD (UTC)")
	format := fs.String("format", "text", "text, csv or json")
	var ins insightOptions
	fs.Func("outcome", "the drivers' outcome: goal (missing it) or event:NAME (default goal)", func(v string) error {
		ins.outcome, ins.explicit = v, true
		return nil
	})
	fs.StringVar(&ins.within, "within", "", "the window after entry for drivers and paths (e.g. 2h, 7d; default the goal's, else 7d)")
	fs.BoolVar(&ins.paths, "paths", false, "also print the top paths to the outcome (csv: the paths instead of the counters)")
	fs.BoolVar(&ins.drivers, "drivers", false, "csv: print the drivers instead of the counters")
	fs.IntVar(&ins.top, "top", 0, "how many drivers and paths (default: the server's, 20 drivers and 10 paths)")
	fs.IntVar(&ins.sample, "sample", 0, "the most instances the drivers and paths read (default: the server's, 10000 and 20000)")
	fs.Usage = func() { fmt.Fprint(stderr, reportUsage, "\nFlags:\n"); fs.PrintDefaults() }
	ids, err := parseInterspersed(fs, args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if len(ids) != 1 {
		fs.Usage()
		return errors.New("report: want one journey id")
	}
	if *format != "text" && *format != "csv" && *format != "json" {
		return fmt.Errorf("report: --format %q: want text, csv or json", *format)
	}
	if ins.outcome == "" {
		ins.outcome = "goal"
	}
	if err := ins.validate(); err != nil {
		return err
	}
	if *format == "csv" && ins.drivers && ins.paths {
		return errors.New("report: --format csv prints one table: give --drivers or --paths")
	}
	base, err := serverURL(*server)
	if err != nil {
		return err
	}
	tok, err := adminToken(*token, *data)
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	q := url.Values{}
	if *version > 0 {
		q.Set("version", strconv.Itoa(*version))
	}
	if *from != "" {
		q.Set("from", *from)
	}
	if *to != "" {
		q.Set("to", *to)
	}
	if *format == "csv" {
		q.Set("format", "csv")
	}
	path := "/v1/journeys/" + url.PathEscape(ids[0]) + "/analytics"
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	c := &applyClient{base: base, token: tok, http: &http.Client{Timeout: 60 * time.Second}}
	var body []byte
	if *format == "csv" && (ins.drivers || ins.paths) {
		body, err = c.insightCSV(ctx, ids[0], &ins, *version, *from, *to)
	} else {
		body, err = c.get(ctx, path)
	}
	if err != nil {
		return &exitError{code: 1, err: fmt.Errorf("report %s: %w", ids[0], err)}
	}
	if *format == "csv" {
		_, err = stdout.Write(body)
		return err
	}
	var a api.JourneyAnalytics
	if err := json.Unmarshal(body, &a); err != nil {
		return fmt.Errorf("report: the server's answer: %w", err)
	}
	in, err := c.fetchInsights(ctx, ids[0], &ins, &a, *version, *from, *to)
	if err != nil {
		return &exitError{code: 1, err: fmt.Errorf("report %s: %w", ids[0], err)}
	}
	if *format == "json" {
		if body, err = withInsights(body, in); err != nil {
			return err
		}
		var b bytes.Buffer
		if err := json.Indent(&b, body, "", "  "); err != nil {
			return err
		}
		b.WriteByte('\n')
		_, err = b.WriteTo(stdout)
		return err
	}
	if err := printReport(stdout, &a); err != nil {
		return err
	}
	printInsights(stdout, in)
	return nil
}

// adminToken returns the admin token: tok if set, else the one in the
// data directory's admin-token file.
func adminToken(tok, data string) (string, error) {
	if tok != "" {
		return tok, nil
	}
	path := filepath.Join(data, "admin-token")
	b, err := os.ReadFile(path)
	if err != nil || strings.TrimSpace(string(b)) == "" {
		return "", fmt.Errorf("no admin token: give --token, set OVERTURE_ADMIN_TOKEN, or point --data at the server's data directory (%s: %v)", path, err)
	}
	return strings.TrimSpace(string(b)), nil
}

// get GETs path and returns the answer's body, or the server's error.
func (c *applyClient) get(ctx context.Context, path string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+path, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, answerError(resp.Status, body)
	}
	return body, nil
}

// answerError is the error of a refused admin request: the message of
// the API's error body, or the body.
func answerError(status string, body []byte) error {
	var e struct {
		Error struct {
			Message string `json:"message"`
		} `json:"error"`
	}
	if json.Unmarshal(body, &e) == nil && e.Error.Message != "" {
		return fmt.Errorf("server answered %s:\n%s", status, e.Error.Message)
	}
	return fmt.Errorf("server answered %s: %s", status, bytes.TrimSpace(body))
}

// printReport prints analytics as text tables.
func printReport(w io.Writer, a *api.JourneyAnalytics) error {
	if len(a.Versions) == 0 {
		fmt.Fprintf(w, "Journey %s has no versions.\n", a.Journey)
	}
	for i, v := range a.Versions {
		if i > 0 {
			fmt.Fprintln(w)
		}
		printVersion(w, a.Journey, &v)
	}
	if a.From != "" || a.To != "" {
		printDaily(w, a)
	}
	// The top drivers and paths follow (printInsights).
	return nil
}

func printVersion(w io.Writer, journey string, v *api.VersionAnalytics) {
	fmt.Fprintf(w, "Journey %s version %d", journey, v.Version)
	if v.HoldoutPercent > 0 {
		fmt.Fprintf(w, " (holdout %d%%)", v.HoldoutPercent)
	}
	fmt.Fprintf(w, ": %d entered, %d waiting now", v.Entered, v.Waiting)
	if len(v.Exited) > 0 {
		fmt.Fprintf(w, ", ended: %s", counts(v.Exited))
	}
	fmt.Fprintln(w)

	fmt.Fprintln(w, "\nFunnel")
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "STEP\tTYPE\tREACHED\tOF ENTERED\tWAITING\tSENT\tDELAYED\tSUPPRESSED\tEXITED\tGOAL")
	for _, s := range v.Steps {
		share := 0.0
		if v.Entered > 0 {
			share = float64(s.Reached) / float64(v.Entered)
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%d\t%d\t%s\t%s\t%s\t%d\n", s.Step, s.Type, s.Reached, pct(share), s.Waiting, s.Sent,
			counts(s.Delayed), counts(s.Suppressed), counts(s.Exited), s.Goal)
	}
	tw.Flush()

	if g := v.Goal; g != nil {
		fmt.Fprintf(w, "\nGoal %s", g.Event)
		if g.Within != "" {
			fmt.Fprintf(w, " within %s", g.Within)
		}
		fmt.Fprintf(w, ": %d of %d reached it (%s, 95%% CI %s); time to goal p50 %s, p90 %s\n", g.Reached, v.Entered,
			pct(g.Conversion), interval(g.ConversionCI, pct), seconds(g.TimeToGoal.P50Seconds), seconds(g.TimeToGoal.P90Seconds))
		if u := g.Uplift; u != nil {
			fmt.Fprintln(w, "\nUplift (treatment against the holdout control group)")
			tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ARM\tENTERED\tGOAL\tRATE\t95% CI\tTIME TO GOAL p50")
			for _, arm := range []struct {
				name string
				a    analytics.Arm
			}{{"treatment", u.Treatment}, {"control", u.Control}} {
				fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%s\t%s\n", arm.name, arm.a.N, arm.a.Goal, pct(arm.a.Rate), interval(arm.a.CI, pct),
					seconds(g.ByArm[arm.name].TimeToGoal.P50Seconds))
			}
			tw.Flush()
			verdict := "not significant"
			if u.Significant {
				verdict = "significant"
			}
			fmt.Fprintf(w, "difference %s points, 95%% CI %s", points(u.Difference), interval(u.DifferenceCI, points))
			if u.RelativeLift != nil {
				fmt.Fprintf(w, ", relative lift %+.1f%%", 100**u.RelativeLift)
			}
			fmt.Fprintf(w, ": %s\n", verdict)
		}
	}

	for _, t := range []struct {
		title string
		rows  []api.MessageAnalytics
		name  func(api.MessageAnalytics) string
	}{
		{"Channels", v.Channels, func(m api.MessageAnalytics) string { return m.Channel }},
		{"Offers", v.Offers, func(m api.MessageAnalytics) string { return m.Offer }},
	} {
		if len(t.rows) == 0 {
			continue
		}
		fmt.Fprintf(w, "\n%s\n", t.title)
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintf(tw, "%s\tSENT\tDELIVERED\tOPENED\tCLICKED\tFAILED\tCONVERTED\tCONVERSION\tCOST\n", strings.ToUpper(strings.TrimSuffix(t.title, "s")))
		for _, m := range t.rows {
			fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%d\t%s\t%s\n", t.name(m), m.Sent, m.Delivered, m.Opened, m.Clicked, m.Failed,
				m.Converted, pct(m.ConversionRate), strconv.FormatFloat(m.Cost, 'f', -1, 64))
		}
		tw.Flush()
	}
}

// printDaily prints the daily series, with a column per channel.
func printDaily(w io.Writer, a *api.JourneyAnalytics) {
	var channels []string
	for _, d := range a.Daily {
		for ch := range d.Messages {
			if !slices.Contains(channels, ch) {
				channels = append(channels, ch)
			}
		}
	}
	slices.Sort(channels)
	fmt.Fprintln(w, "\nDaily (UTC)")
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprint(tw, "DATE\tENTERED\tCONVERTED\tSUPPRESSED")
	for _, ch := range channels {
		fmt.Fprint(tw, "\t"+strings.ToUpper(ch))
	}
	fmt.Fprintln(tw, "\tCOST")
	for _, d := range a.Daily {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d", d.Date, d.Entered, d.Converted, d.Suppressed)
		for _, ch := range channels {
			fmt.Fprintf(tw, "\t%d", d.Messages[ch])
		}
		fmt.Fprintf(tw, "\t%s\n", strconv.FormatFloat(d.Cost, 'f', -1, 64))
	}
	tw.Flush()
}

// counts formats counts by key, largest first: "holdout 3, consent:sms 1";
// "0" for none.
func counts(m map[string]int64) string {
	if len(m) == 0 {
		return "0"
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b string) int {
		if m[a] != m[b] {
			if m[a] > m[b] {
				return -1
			}
			return 1
		}
		return strings.Compare(a, b)
	})
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %d", k, m[k])
	}
	return strings.Join(parts, ", ")
}

func pct(f float64) string    { return fmt.Sprintf("%.1f%%", 100*f) }
func points(f float64) string { return fmt.Sprintf("%+.1f", 100*f) }

func interval(iv analytics.Interval, f func(float64) string) string {
	return "[" + f(iv.Lo) + ", " + f(iv.Hi) + "]"
}

// seconds formats a duration in seconds, rounded for reading.
func seconds(s float64) string {
	d := time.Duration(s * float64(time.Second))
	switch {
	case d == 0:
		return "-"
	case d < time.Minute:
		return d.Round(100 * time.Millisecond).String()
	case d < time.Hour:
		return d.Round(time.Second).String()
	}
	return d.Round(time.Minute).String()
}
