package render_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	chart "helm.sh/helm/v4/pkg/chart/v2"
	"helm.sh/helm/v4/pkg/chart/v2/loader"

	"github.com/agentic-rag/ragdeploy/internal/render"
)

func TestPackageCharts(t *testing.T) {
	out := t.TempDir()
	tests := []struct {
		chart string
		// subcharts that must travel inside the package (the datastore
		// library among them).
		subcharts int
	}{
		{"ragdeploy", 0},
		{"agentic-rag", 4},
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

// What a chart's .helmignore lists stays out of its package and out of what
// ragdeploy loads, for both charts.
func TestHelmignoreLeavesFilesOut(t *testing.T) {
	for _, name := range []string{"ragdeploy", "agentic-rag"} {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), name)
			if err := os.CopyFS(dir, os.DirFS(filepath.Join("..", "..", "charts", name))); err != nil {
				t.Fatal(err)
			}
			for _, f := range []string{"values.yaml.bak", "templates/notes.swp"} {
				if err := os.WriteFile(filepath.Join(dir, f), []byte("scratch"), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			path, err := render.Package(dir, t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			packaged, err := loader.LoadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			loaded, err := render.LoadChart(os.DirFS(filepath.Dir(dir)), name)
			if err != nil {
				t.Fatal(err)
			}
			for how, c := range map[string]*chart.Chart{"packaged": packaged, "loaded": loaded} {
				for _, f := range c.Raw {
					if strings.HasSuffix(f.Name, ".bak") || strings.HasSuffix(f.Name, ".swp") {
						t.Errorf("%s chart holds %s, which .helmignore lists", how, f.Name)
					}
				}
				if len(c.Templates) == 0 {
					t.Errorf("%s chart has no templates", how)
				}
			}
		})
	}
}
