package envconfig_test

import (
	"bufio"
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	chart "helm.sh/helm/v4/pkg/chart/v2"

	"github.com/agentic-rag/ragdeploy/charts"
	"github.com/agentic-rag/ragdeploy/internal/envconfig"
	"github.com/agentic-rag/ragdeploy/internal/render"
)

func platformChart(t *testing.T) *chart.Chart {
	t.Helper()
	c, err := render.LoadChart(charts.FS, "agentic-rag")
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestShippedEnvironmentsAreValid(t *testing.T) {
	c := platformChart(t)
	for _, name := range []string{"development", "staging", "production"} {
		env, err := envconfig.Load(filepath.Join("..", "..", "environments", name+".yaml"))
		if err != nil {
			t.Fatal(err)
		}
		if env.PolicyName() != name {
			t.Errorf("%s uses policy %s", name, env.PolicyName())
		}
		objs, err := envconfig.Validate(t.Context(), env, c, env.Values)
		if err != nil {
			t.Errorf("%s: %v", name, err)
		}
		if len(objs) == 0 {
			t.Errorf("%s: nothing rendered", name)
		}
	}
}

// TestInvalidEnvironments loads each file in testdata/invalid; its first line
// (# want: <field path>...) names the field paths the error must report.
func TestInvalidEnvironments(t *testing.T) {
	c := platformChart(t)
	files, err := filepath.Glob(filepath.Join("testdata", "invalid", "*.yaml"))
	if err != nil || len(files) < 15 {
		t.Fatalf("%d invalid environment files (err %v); want at least 15", len(files), err)
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".yaml"), func(t *testing.T) {
			want := WantedPaths(t, file)
			env, err := envconfig.Load(file)
			if err == nil {
				_, err = envconfig.Validate(t.Context(), env, c, env.Values)
			}
			var verr *envconfig.ValidationError
			if !errors.As(err, &verr) {
				t.Fatalf("got %v; want a ValidationError", err)
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, file+": ") {
				t.Errorf("error does not start with the file name:\n%s", msg)
			}
			for _, path := range want {
				if !strings.Contains(msg, file+": "+path) {
					t.Errorf("error does not name %s:\n%s", path, msg)
				}
			}
			if len(verr.Errs) < len(want) {
				t.Errorf("%d errors, want at least %d (all at once)", len(verr.Errs), len(want))
			}
		})
	}
}

// WantedPaths reads the "# want:" header of an invalid environment file.
func WantedPaths(t *testing.T, file string) []string {
	t.Helper()
	data, err := os.ReadFile(file) //nolint:gosec // G304: test fixture path
	if err != nil {
		t.Fatal(err)
	}
	line, _ := bufio.NewReader(bytes.NewReader(data)).ReadString('\n')
	rest, ok := strings.CutPrefix(strings.TrimSpace(line), "# want: ")
	if !ok {
		t.Fatalf("%s: first line is not # want: <paths>", file)
	}
	return strings.Fields(rest)
}

func TestSetOverridesComeLast(t *testing.T) {
	env, err := envconfig.Load(filepath.Join("..", "..", "environments", "staging.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	vals, err := env.MergedValues([]string{"api.replicas=5", "api.config.LOG_LEVEL=debug"})
	if err != nil {
		t.Fatal(err)
	}
	api := vals["api"].(map[string]any)
	if api["replicas"] != int64(5) || api["config"].(map[string]any)["LOG_LEVEL"] != "debug" {
		t.Fatalf("overrides not applied: replicas %v config %v", api["replicas"], api["config"])
	}
	if env.Values["api"].(map[string]any)["replicas"] != float64(2) {
		t.Fatal("MergedValues modified the environment")
	}
	if _, err := env.MergedValues([]string{"api.replicas"}); err == nil || !strings.Contains(err.Error(), "--set") {
		t.Fatalf("malformed --set: %v", err)
	}
}
