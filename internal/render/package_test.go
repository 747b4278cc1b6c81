package render_test

import (
	"path/filepath"
	"testing"

	"helm.sh/helm/v4/pkg/chart/v2/loader"

	"github.com/agentic-rag/ragdeploy/internal/render"
)

func TestPackageCharts(t *testing.T) {
	out := t.TempDir()
	tests := []struct {
		chart, file string
		// subcharts that must travel inside the package.
		subcharts int
	}{
		{"ragdeploy", "ragdeploy-0.1.1.tgz", 0},
		{"agentic-rag", "agentic-rag-0.1.1.tgz", 3},
	}
	for _, tt := range tests {
		path, err := render.Package(filepath.Join("..", "..", "charts", tt.chart), out)
		if err != nil {
			t.Fatal(err)
		}
		if filepath.Base(path) != tt.file {
			t.Errorf("packaged %s as %s; want %s", tt.chart, filepath.Base(path), tt.file)
		}
		c, err := loader.LoadFile(path)
		if err != nil {
			t.Fatalf("package %s does not load: %v", path, err)
		}
		if len(c.Dependencies()) != tt.subcharts || c.Schema == nil || len(c.Templates) == 0 {
			t.Errorf("%s: %d subcharts, schema %t, %d templates; want %d subcharts, a schema and templates",
				tt.file, len(c.Dependencies()), c.Schema != nil, len(c.Templates), tt.subcharts)
		}
	}
}
