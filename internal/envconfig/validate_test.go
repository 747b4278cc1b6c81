package envconfig_test

import (
	"bufio"
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"regexp"
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

// TestDecodeErrorsSpeakYAML: a file that does not decode is reported in
// its own terms (key paths, YAML kinds, YAML line numbers), never with the
// decoder's Go types or prefixes.
func TestDecodeErrorsSpeakYAML(t *testing.T) {
	for _, tt := range []struct{ content, want string }{
		{"release: [1, 2]\n", "release: Invalid value: want a map, got a list"},
		{"secrets: {generate: \"yes\"}\n", "secrets.generate: Invalid value: want a boolean, got a string"},
		{"releese: {name: x}\n", "releese: Unsupported value: unknown field (hint: the top-level keys are"},
		{"release: {name: x, namespace: y, title: z}\n", "release.title: Unsupported value: unknown field"},
		{"drift: {ignore: [{kind: Deployment, jsonPointer: [/a]}]}\n", "drift.ignore[0].jsonPointer: Unsupported value: unknown field"},
		{"release:\n  name: x\n  - bad\n", "<file>: Invalid value: not valid YAML: line 2: did not find expected key"},
		{"release: {name: x}\nrelease: {name: y}\n", `<file>: Invalid value: not valid YAML: line 2: key "release" already set in map`},
	} {
		_, err := envconfig.Parse("env.yaml", []byte(tt.content))
		if err == nil || !strings.Contains(err.Error(), "env.yaml: "+tt.want) {
			t.Errorf("%q: got %v; want %q", tt.content, err, tt.want)
		}
		if err != nil && regexp.MustCompile(`json:|Go |envconfig\.|unmarshal|converting`).MatchString(err.Error()) {
			t.Errorf("%q: %v speaks of the decoder", tt.content, err)
		}
	}
}
