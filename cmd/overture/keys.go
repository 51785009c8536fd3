package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/overture-cjo/overture/internal/api"
	"github.com/overture-cjo/overture/internal/core"
)

const keysUsage = `Usage:
  overture keys create --name NAME [--data DIR | --store URL] [--json]
  overture keys list [--data DIR | --store URL] [--json]
  overture keys revoke ID [--data DIR | --store URL]

Manages ingestion write keys in the store (safe while a server runs; a
revoked key stops working within 5 seconds). The secret is printed once, at
creation; the store keeps only its SHA-256.
`

func keysCommand(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "--help" || args[0] == "-h" || args[0] == "help" {
		fmt.Fprint(stderr, keysUsage)
		if len(args) == 0 {
			return fmt.Errorf("keys: a subcommand is required")
		}
		return nil
	}
	sub := args[0]
	fs := flag.NewFlagSet("keys "+sub, flag.ContinueOnError)
	fs.SetOutput(stderr)
	var sf storeFlags
	sf.register(fs)
	asJSON := fs.Bool("json", false, "print JSON")
	name := ""
	if sub == "create" {
		fs.StringVar(&name, "name", "", "a name for the key, e.g. the source it is for (required)")
	}
	fs.Usage = func() { fmt.Fprint(stderr, keysUsage, "\nFlags:\n"); fs.PrintDefaults() }
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	open := func() (core.Store, error) { return sf.open(ctx, false) }
	switch sub {
	case "create":
		if name == "" {
			return fmt.Errorf("keys create: --name is required")
		}
		st, err := open()
		if err != nil {
			return err
		}
		defer st.Close()
		secret, k := api.NewWriteKey(name, core.RealClock{}.Now())
		if err := st.CreateKey(ctx, k); err != nil {
			return err
		}
		if *asJSON {
			return json.NewEncoder(stdout).Encode(map[string]any{"key": secret, "writeKey": k})
		}
		fmt.Fprintf(stdout, "created write key %s (%s)\n%s\n", k.ID, k.Name, secret)
		return nil
	case "list":
		st, err := open()
		if err != nil {
			return err
		}
		defer st.Close()
		keys, err := st.ListKeys(ctx)
		if err != nil {
			return err
		}
		if *asJSON {
			return json.NewEncoder(stdout).Encode(map[string]any{"keys": keys})
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tNAME\tPREFIX\tCREATED\tREVOKED")
		for _, k := range keys {
			rev := "-"
			if k.RevokedAt != nil {
				rev = k.RevokedAt.Format(time.RFC3339)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s…\t%s\t%s\n", k.ID, k.Name, k.Prefix, k.CreatedAt.Format(time.RFC3339), rev)
		}
		return tw.Flush()
	case "revoke":
		if fs.NArg() != 1 {
			return fmt.Errorf("keys revoke: give exactly one key ID")
		}
		st, err := open()
		if err != nil {
			return err
		}
		defer st.Close()
		if err := st.RevokeKey(ctx, fs.Arg(0), core.RealClock{}.Now()); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "revoked %s\n", fs.Arg(0))
		return nil
	}
	fmt.Fprint(stderr, keysUsage)
	return fmt.Errorf("keys: unknown subcommand %q", sub)
}
