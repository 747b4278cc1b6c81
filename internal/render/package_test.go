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
		chart string
		// subcharts that must travel inside the package.
		subcharts int
	}{
		{"ragdeploy", 0},
		{"agentic-rag", 3},
	}
	for _, tt := range tests {
		dir := filepath.Join("..", "..", "charts", tt.chart)
		src, err := loader.LoadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		path, err := render.Package(dir, out)
		if err != nil {
			t.Fatal(err)
		}
		if want := tt.chart + "-" + src.Metadata.Version + ".tgz"; filepath.Base(path) != want {
			t.Errorf("packaged %s as %s; want %s", tt.chart, filepath.Base(path), want)
		}
		c, err := loader.LoadFile(path)
		if err != nil {
			t.Fatalf("package %s does not load: %v", path, err)
		}
		if len(c.Dependencies()) != tt.subcharts || c.Schema == nil || len(c.Templates) == 0 {
			t.Errorf("%s: %d subcharts, schema %t, %d templates; want %d subcharts, a schema and templates",
				filepath.Base(path), len(c.Dependencies()), c.Schema != nil, len(c.Templates), tt.subcharts)
		}
	}
}
