// Command receiver serves nurture's HTTP edge and the console (package
// receivercmd). `receiver -h` lists its settings.
package main

import (
	"os"

	"github.com/nurture-dev/nurture/internal/receivercmd"
)

func main() { os.Exit(receivercmd.Main(os.Args[1:])) }
