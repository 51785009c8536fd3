// Package journey holds journey definitions: the Go types of a journey file,
// loading them from a directory (YAML or JSON, one journey per file),
// validating them against the published JSON Schema
// (schema/journey.schema.json) and checking them semantically: every step
// target exists, every step is reachable, ids are unique, durations parse,
// and every CEL expression compiles and type-checks.
//
// Every problem is reported as an Error naming FILE:LINE:COLUMN and the
// field path (e.g. "cart.yaml:14:11: steps.check.cases[0].when: ..."); Load
// collects all of a directory's problems into one ErrorList instead of
// stopping at the first.
//
// Execution (the step machine) is not here yet.
package journey
