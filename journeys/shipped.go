package journeys

import (
	"embed"
	"fmt"
	"io/fs"
)

//go:embed *.yaml
var shipped embed.FS

// Shipped returns the example journeys that come with nurture, as files.
func Shipped() fs.FS { return shipped }

// LoadShipped loads one shipped journey by file name (b2b-nurture.yaml) and
// returns it with its source, which is what gets published.
func LoadShipped(name string) (*Journey, []byte, error) {
	data, err := fs.ReadFile(shipped, name)
	if err != nil {
		return nil, nil, fmt.Errorf("read shipped journey %q: %w", name, err)
	}
	j, err := Parse("journeys/"+name, data)
	if err != nil {
		return nil, nil, err
	}
	return j, data, nil
}
