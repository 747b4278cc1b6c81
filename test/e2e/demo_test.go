package e2e

import (
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The demo `make demo` runs: a blue-green rollout and an automatic rollback,
// against a cluster started with `ragdeploy local up` (controller included).
func TestDemo(t *testing.T) {
	work := t.TempDir()
	if up := ragdeploy(t, work, nil, "local", "up"); up.code != 0 {
		t.Fatalf("local up: %s", up.stderr)
	}
	t.Cleanup(func() { ragdeploy(t, work, nil, "local", "down") })
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	demo := exec.CommandContext(ctx, "go", "run", "./hack/demo", "--kubeconfig", filepath.Join(work, ".ragdeploy", "local", "kubeconfig"))
	demo.Dir = "../.."
	out, err := demo.CombinedOutput()
	t.Logf("demo output:\n%s", out)
	if err != nil {
		t.Fatalf("demo failed: %v", err)
	}
	for _, want := range []string{
		"healthy: revision",
		"active Service switched blue -> green",
		"blue keeps 3 replicas warm",
		"rolled back automatically: PostPromotionAnalysisFailed",
		"the broken version took traffic for",
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("demo output lacks %q", want)
		}
	}
}
