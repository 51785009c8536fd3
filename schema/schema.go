// Package schema ships the JSON Schemas of Overture's definition files, so
// editors can validate them and the loaders embed the same bytes.
package schema

import _ "embed"

// Journey is the JSON Schema (2020-12) of a journey definition file.
//
//go:embed journey.schema.json
var Journey []byte

// Audience is the JSON Schema (2020-12) of an audience definition file.
//
//go:embed audience.schema.json
var Audience []byte

// Offer is the JSON Schema (2020-12) of an offer definition file.
//
//go:embed offer.schema.json
var Offer []byte

// Interaction is the JSON Schema (2020-12) of an interaction policy file.
//
//go:embed interaction.schema.json
var Interaction []byte

// Policy is the JSON Schema (2020-12) of the contact policy file.
//
//go:embed policy.schema.json
var Policy []byte

// Template is the JSON Schema (2020-12) of a message template file.
//
//go:embed template.schema.json
var Template []byte
