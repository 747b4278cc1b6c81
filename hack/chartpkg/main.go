// Command chartpkg packages every chart under charts/ into a directory
// (`make chart-package` -> dist/).
package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/agentic-rag/ragdeploy/internal/render"
)

func main() {
	out := "dist"
	if len(os.Args) > 1 {
		out = os.Args[1]
	}
	if err := os.MkdirAll(out, 0o755); err != nil { //nolint:gosec // G301: output directory meant to be shared (rendered manifests, charts); it holds no secret
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	for _, chart := range []string{"ragdeploy", "agentic-rag"} {
		path, err := render.Package(filepath.Join("charts", chart), out)
		if err != nil {
			fmt.Fprintf(os.Stderr, "chartpkg: %v\n", err)
			os.Exit(1)
		}
		fmt.Println(path)
	}
}
