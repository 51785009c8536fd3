// Package layout has no code: its test checks the import rules of the
// package layout (see docs/ARCHITECTURE.md).
package layout
