package activation

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"iter"
	"time"
)

// Row is one member of an audience as it is exported: the profile, when it
// last entered the audience, and the values of the traits chosen for the
// export, by name. Values are decoded JSON (string, float64 or
// json.Number, bool, []any, map[string]any) or nil; a trait the profile
// lacks is nil or absent.
type Row struct {
	ProfileID string         `json:"profileId"`
	Since     time.Time      `json:"since"`
	Traits    map[string]any `json:"traits"`
}

// Rows yields the rows of a slice, for the writers.
func Rows(rows []Row) iter.Seq2[Row, error] {
	return func(yield func(Row, error) bool) {
		for _, r := range rows {
			if !yield(r, nil) {
				return
			}
		}
	}
}

// WriteCSV writes rows to w as CSV (RFC 4180): a header
// profile_id,since,<trait>... then one line per row, since in RFC 3339 (UTC)
// and each trait as Text shows it. It stops at the first error rows yields
// and returns it. Output is buffered: nothing reaches w before some 4 KiB
// are ready or the rows end.
func WriteCSV(w io.Writer, traits []string, rows iter.Seq2[Row, error]) error {
	cw := csv.NewWriter(w)
	rec := make([]string, 2+len(traits))
	rec[0], rec[1] = "profile_id", "since"
	copy(rec[2:], traits)
	if err := cw.Write(rec); err != nil {
		return err
	}
	for r, err := range rows {
		if err != nil {
			return err
		}
		rec[0], rec[1] = r.ProfileID, stamp(r.Since)
		for i, t := range traits {
			rec[2+i] = Text(r.Traits[t])
		}
		if err := cw.Write(rec); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// WriteNDJSON writes rows to w as newline-delimited JSON, one object per
// row: {"profileId","since","traits":{...}} where traits holds exactly the
// chosen traits (null for those a profile lacks). It stops at the first
// error rows yields and returns it. Output is buffered as WriteCSV's is.
func WriteNDJSON(w io.Writer, traits []string, rows iter.Seq2[Row, error]) error {
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	type line struct {
		ProfileID string         `json:"profileId"`
		Since     string         `json:"since"`
		Traits    map[string]any `json:"traits"`
	}
	for r, err := range rows {
		if err != nil {
			return err
		}
		l := line{ProfileID: r.ProfileID, Since: stamp(r.Since), Traits: make(map[string]any, len(traits))}
		for _, t := range traits {
			l.Traits[t] = r.Traits[t]
		}
		if err := enc.Encode(l); err != nil {
			return fmt.Errorf("row of profile %s: %w", r.ProfileID, err)
		}
	}
	return bw.Flush()
}

// Text is a trait value as a CSV cell shows it: "" for nil, a string as it
// is (unquoted), a time in RFC 3339, anything else as compact JSON (numbers,
// true, false, lists, objects).
func Text(v any) string {
	switch v := v.(type) {
	case nil:
		return ""
	case string:
		return v
	case json.Number:
		return v.String()
	case time.Time:
		return stamp(v)
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return fmt.Sprint(v)
	}
	return string(bytes.TrimSuffix(b.Bytes(), []byte("\n")))
}

// stamp formats t in RFC 3339 (UTC, with as many fractional digits as it
// has).
func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }
