package e2e

import (
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The demo `make demo` runs: the controller chart, the staging environment
// with encrypted secrets, a blue-green rollout, a regression rolled back
// automatically and a clean drift check, against a cluster started with
// `ragdeploy local up` (controller included).
func TestDemo(t *testing.T) {
	work := t.TempDir()
	if up := ragdeploy(t, work, nil, "local", "up"); up.code != 0 {
		t.Fatalf("local up: %s", up.stderr)
	}
	t.Cleanup(func() { ragdeploy(t, work, nil, "local", "down") })
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	demo := exec.CommandContext(ctx, "go", "run", "./hack/demo", "--kubeconfig", filepath.Join(work, ".ragdeploy", "local", "kubeconfig"), //nolint:gosec // G204: runs the binary or tool the test built or pinned, arguments as a list
		"--state", filepath.Join(work, "demo-state"))
	demo.Dir = "../.."
	out, err := demo.CombinedOutput()
	t.Logf("demo output:\n%s", out)
	if err != nil {
		t.Fatalf("demo failed: %v", err)
	}
	for _, want := range []string{
		"controller chart",
		"platform installed: release agentic-rag-staging/agentic-rag revision 1",
		"1.1.0 ready on green, pre-promotion check passed",
		"active Service switched blue -> green",
		"blue kept warm for the scale-down delay, then scaled to 0; 1.1.0 stable on green",
		"post-promotion check of 1.2.0-regress failed: PostPromotionAnalysisFailed",
		"rolled back automatically: active Service back on green",
		"none drifted",
		"1.2.0-regress failed check -> active Service back on green",
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("demo output lacks %q", want)
		}
	}
}
