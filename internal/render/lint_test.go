package render_test

import (
	"path/filepath"
	"testing"

	"helm.sh/helm/v4/pkg/chart/v2/lint"
	"helm.sh/helm/v4/pkg/chart/v2/lint/support"
)

// helm lint --strict, through the SDK: no warning or error for either chart,
// with its defaults or with any environment's values.
func TestChartsLintStrict(t *testing.T) {
	cases := []struct {
		chart  string
		values map[string]any
		name   string
	}{
		{chart: "ragdeploy", name: "ragdeploy defaults"},
	}
	for _, env := range environments {
		_, values := environment(t, env)
		cases = append(cases, struct {
			chart  string
			values map[string]any
			name   string
		}{"agentic-rag", values, "agentic-rag " + env})
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res := lint.RunAll(filepath.Join("..", "..", "charts", c.chart), c.values, "lint")
			for _, m := range res.Messages {
				if m.Severity >= support.WarningSev {
					t.Errorf("%s", m)
				}
			}
		})
	}
}

// The linter does check values: the platform's bare defaults lack the
// credentials Secret references and must not pass.
func TestChartsLintCatchesMissingSecrets(t *testing.T) {
	res := lint.RunAll(filepath.Join("..", "..", "charts", "agentic-rag"), nil, "lint")
	if res.HighestSeverity < support.ErrorSev {
		t.Fatalf("lint of the bare defaults passed; messages: %v", res.Messages)
	}
}
