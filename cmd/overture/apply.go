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
	"strings"
	"time"

	"github.com/overture-cjo/overture/internal/catalog"
	"github.com/overture-cjo/overture/internal/journey"
)

const applyUsage = `Usage:
  overture apply DIR [--server URL] [--token TOKEN] [--data DIR]

Validates every definition in DIR as "overture validate" does (and on any
problem prints them all and applies nothing), then sends them to the
server: first the contact policy of DIR/policy (PUT /v1/policy), each
offer of DIR/offers (PUT /v1/offers/{id}), message template of
DIR/templates (PUT /v1/templates/{id}) and interaction policy of
DIR/interactions (PUT /v1/interactions/{id}), then each computed trait of
DIR/traits (PUT /v1/traits/{name}), each audience of DIR/audiences (PUT
/v1/audiences/{id}), then each journey file as it is (PUT
/v1/journeys/{id}). A new or changed computed
trait is backfilled from stored events while ingestion goes on. A definition equal to the
journey's newest version changes nothing; any other is stored as a new
version (new entries use it; running instances finish on theirs). A new
journey starts active. Journeys that others enter (enter_journey) are
applied first. Prints one line per definition:

  created contact policy version 1
  created offer free-shipping version 1
  created trait orders_7d version 1
  unchanged audience contract-ending version 1
  created cart-abandonment version 2
  unchanged follow-up version 1

The admin token is --token, else OVERTURE_ADMIN_TOKEN, else the file
admin-token in the data directory (where "overture serve" keeps it).
Exits 1 if a definition is invalid or the server refuses one.
`

// defaultServer is where "overture serve" listens by default.
const defaultServer = "http://127.0.0.1:8420"

func applyCommand(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("apply", flag.ContinueOnError)
	fs.SetOutput(stderr)
	server := fs.String("server", envOr("OVERTURE_SERVER", defaultServer), "the server's base URL (env OVERTURE_SERVER)")
	token := fs.String("token", envOr("OVERTURE_ADMIN_TOKEN", ""), "admin API token (env OVERTURE_ADMIN_TOKEN); if empty, read from <data>/admin-token")
	data := fs.String("data", envOr("OVERTURE_DATA", "./overture-data"), "data directory holding admin-token (env OVERTURE_DATA)")
	fs.Usage = func() { fmt.Fprint(stderr, applyUsage, "\nFlags:\n"); fs.PrintDefaults() }
	dirs, err := parseInterspersed(fs, args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if len(dirs) != 1 {
		fs.Usage()
		return errors.New("apply: want one directory")
	}
	dir := dirs[0]

	defs, err := journey.Load(dir)
	var ex *extras
	if err == nil {
		ex, err = loadDerived(dir, defs, true)
	}
	if n := printProblems(stderr, err); n > 0 {
		return &exitError{code: 1, err: fmt.Errorf("apply: %d problem(s) in %s; nothing applied", n, dir)}
	}
	if err != nil {
		return &exitError{code: 1, err: fmt.Errorf("apply: %w", err)}
	}

	base, err := serverURL(*server)
	if err != nil {
		return err
	}
	tok, err := adminToken(*token, *data)
	if err != nil {
		return fmt.Errorf("apply: %w", err)
	}

	c := &applyClient{base: base, token: tok, http: &http.Client{Timeout: 30 * time.Second}}
	if ex.policy != nil {
		src, err := os.ReadFile(ex.policyFile)
		if err != nil {
			return &exitError{code: 1, err: fmt.Errorf("apply: %w", err)}
		}
		a, err := c.put(ctx, "/v1/policy", ex.policyFile, src)
		if err != nil {
			return &exitError{code: 1, err: fmt.Errorf("apply %s: %w", ex.policyFile, err)}
		}
		fmt.Fprintf(stdout, "%s contact policy version %d\n", appliedWord(a), a.Version)
	}
	for _, o := range ex.offers {
		if err := putFile(ctx, c, stdout, "/v1/offers/"+url.PathEscape(o.ID), o.Pos.File, "offer "+o.ID); err != nil {
			return err
		}
	}
	for _, t := range ex.templates {
		if err := putFile(ctx, c, stdout, "/v1/templates/"+url.PathEscape(t.ID), t.Pos.File, "template "+t.ID); err != nil {
			return err
		}
	}
	for _, p := range ex.interactions {
		if err := putFile(ctx, c, stdout, "/v1/interactions/"+url.PathEscape(p.ID), p.Pos.File, "interaction policy "+p.ID); err != nil {
			return err
		}
	}
	for _, t := range ex.traits.Traits {
		a, err := c.put(ctx, "/v1/traits/"+url.PathEscape(t.Name), ".yaml", []byte(t.Source()))
		if err != nil {
			return &exitError{code: 1, err: fmt.Errorf("apply %s (trait %s): %w", t.Pos.File, t.Name, err)}
		}
		fmt.Fprintf(stdout, "%s trait %s version %d\n", appliedWord(a), a.ID, a.Version)
	}
	for _, au := range ex.audiences {
		src, err := os.ReadFile(au.Pos.File)
		if err != nil {
			return &exitError{code: 1, err: fmt.Errorf("apply: %w", err)}
		}
		a, err := c.put(ctx, "/v1/audiences/"+url.PathEscape(au.ID), au.Pos.File, src)
		if err != nil {
			return &exitError{code: 1, err: fmt.Errorf("apply %s: %w", au.Pos.File, err)}
		}
		fmt.Fprintf(stdout, "%s audience %s version %d\n", appliedWord(a), a.ID, a.Version)
	}
	for _, d := range applyOrder(defs) {
		src, err := os.ReadFile(d.File)
		if err != nil {
			return &exitError{code: 1, err: fmt.Errorf("apply: %w", err)}
		}
		a, err := c.put(ctx, "/v1/journeys/"+url.PathEscape(d.ID), d.File, src)
		if err != nil {
			return &exitError{code: 1, err: fmt.Errorf("apply %s: %w", d.File, err)}
		}
		fmt.Fprintf(stdout, "%s %s version %d\n", appliedWord(a), a.ID, a.Version)
	}
	return nil
}

// putFile applies one definition file and prints what became of it.
func putFile(ctx context.Context, c *applyClient, stdout io.Writer, path, file, what string) error {
	src, err := os.ReadFile(file)
	if err != nil {
		return &exitError{code: 1, err: fmt.Errorf("apply: %w", err)}
	}
	a, err := c.put(ctx, path, file, src)
	if err != nil {
		return &exitError{code: 1, err: fmt.Errorf("apply %s: %w", file, err)}
	}
	fmt.Fprintf(stdout, "%s %s version %d\n", appliedWord(a), what, a.Version)
	return nil
}

func appliedWord(a catalog.Applied) string {
	if a.Created {
		return "created"
	}
	return "unchanged"
}

// serverURL checks --server and returns it without a trailing slash;
// "host:port" means http://host:port.
func serverURL(s string) (string, error) {
	if !strings.Contains(s, "://") {
		s = "http://" + s
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("--server %q: want a URL like %s", s, defaultServer)
	}
	return strings.TrimSuffix(s, "/"), nil
}

// applyOrder puts every journey after those it enters with enter_journey,
// so that no customer is sent into a journey the server does not have yet.
// Otherwise it keeps the order of defs (by file name).
func applyOrder(defs []*journey.Definition) []*journey.Definition {
	byID := make(map[string]*journey.Definition, len(defs))
	for _, d := range defs {
		byID[d.ID] = d
	}
	seen := map[string]bool{}
	var out []*journey.Definition
	var visit func(d *journey.Definition)
	visit = func(d *journey.Definition) {
		if seen[d.ID] {
			return
		}
		seen[d.ID] = true // before the targets: a cycle ends here
		for _, name := range d.StepOrder {
			if s := d.Steps[name]; s.Type == journey.StepEnterJourney && byID[s.Journey] != nil {
				visit(byID[s.Journey])
			}
		}
		out = append(out, d)
	}
	for _, d := range defs {
		visit(d)
	}
	return out
}

// applyClient talks to the admin API.
type applyClient struct {
	base, token string
	http        *http.Client
}

// put sends one definition to path.
func (c *applyClient) put(ctx context.Context, path, file string, src []byte) (catalog.Applied, error) {
	var a catalog.Applied
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, c.base+path, bytes.NewReader(src))
	if err != nil {
		return a, err
	}
	ct := "application/yaml"
	if strings.EqualFold(filepath.Ext(file), ".json") {
		ct = "application/json"
	}
	req.Header.Set("Content-Type", ct)
	req.Header.Set("Authorization", "Bearer "+c.token)
	resp, err := c.http.Do(req)
	if err != nil {
		return a, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return a, err
	}
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusCreated {
		return a, answerError(resp.Status, body)
	}
	var named struct {
		catalog.Applied
		Name string `json:"name"` // traits are named, not id'd
	}
	if err := json.Unmarshal(body, &named); err != nil {
		return a, fmt.Errorf("server answered %s with %q: %w", resp.Status, body, err)
	}
	a = named.Applied
	if a.ID == "" {
		a.ID = named.Name
	}
	return a, nil
}

// parseInterspersed parses fs's flags from args, which may come before,
// between or after the positional arguments, and returns those.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for rest := args; ; {
		if err := fs.Parse(rest); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fs.Arg(0))
		rest = fs.Args()[1:]
	}
}
