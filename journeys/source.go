package journeys

import _ "embed" // the types' doc comments describe the journey language

//go:embed journey.go
var typesSource string

// TypesSource is the Go source of the journey types; the JSON Schema takes
// its descriptions from their doc comments, so editors show the same words.
func TypesSource() string { return typesSource }
