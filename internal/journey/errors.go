package journey

import (
	"fmt"
	"sort"
	"strings"
)

// Pos is a position in a definition file; Line and Column are 1-based.
type Pos struct {
	File   string
	Line   int
	Column int
}

func (p Pos) String() string { return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Column) }

// Error is one problem in a definition file: where, which field, what.
type Error struct {
	Pos
	Path    string // field path, e.g. "steps.check.cases[0].when"; empty for the whole file
	Message string
}

// Error implements the error interface: "FILE:LINE:COL: PATH: MESSAGE".
func (e *Error) Error() string {
	if e.Path == "" {
		return fmt.Sprintf("%s: %s", e.Pos, e.Message)
	}
	return fmt.Sprintf("%s: %s: %s", e.Pos, e.Path, e.Message)
}

// ErrorList is every problem found, sorted by file, line and column.
type ErrorList []*Error

// Error implements the error interface: one problem per line.
func (l ErrorList) Error() string {
	s := make([]string, len(l))
	for i, e := range l {
		s[i] = e.Error()
	}
	return strings.Join(s, "\n")
}

// Sort sorts the problems by file, line, column, field path and message,
// keeping the order of equal ones.
func (l ErrorList) Sort() {
	sort.SliceStable(l, func(i, j int) bool {
		a, b := l[i], l[j]
		if a.File != b.File {
			return a.File < b.File
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		if a.Column != b.Column {
			return a.Column < b.Column
		}
		if a.Path != b.Path {
			return a.Path < b.Path
		}
		return a.Message < b.Message
	})
}

// err returns the list as an error, or nil if it is empty.
func (l ErrorList) err() error {
	if len(l) == 0 {
		return nil
	}
	l.Sort()
	return l
}
