package envconfig_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/agentic-rag/ragdeploy/internal/envconfig"
)

// FuzzParse feeds arbitrary bytes to the environment loader: it returns an
// environment or a ValidationError naming the file, and never panics.
func FuzzParse(f *testing.F) {
	for _, glob := range []string{"../../environments/*.yaml", "testdata/invalid/*.yaml"} {
		files, _ := filepath.Glob(glob)
		for _, file := range files {
			data, err := os.ReadFile(file) //nolint:gosec // G304: test fixture path
			if err != nil {
				f.Fatal(err)
			}
			f.Add(data)
		}
	}
	f.Add([]byte("release: {name: a, namespace: b}\nvalues: {api: {replicas: 3}}\nvalues: {}"))
	f.Add([]byte("\x00\xff: ["))
	f.Fuzz(func(t *testing.T, data []byte) {
		env, err := envconfig.Parse("fuzz.yaml", data)
		if err != nil {
			var verr *envconfig.ValidationError
			if !errors.As(err, &verr) || !strings.HasPrefix(err.Error(), "fuzz.yaml: ") || len(verr.Errs) == 0 {
				t.Fatalf("error is not a ValidationError naming the file: %v", err)
			}
			return
		}
		if env.Release.Name == "" || env.Release.Namespace == "" || env.Values == nil {
			t.Fatalf("accepted an environment without a release target: %+v", env)
		}
		if _, err := env.MergedValues(nil); err != nil {
			t.Fatalf("accepted values that cannot be copied: %v", err)
		}
	})
}
