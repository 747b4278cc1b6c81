package e2e

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/agentic-rag/ragdeploy/internal/report"
)

// The demo `make demo` runs: the controller chart, the staging environment
// with encrypted secrets, a blue-green rollout, a regression rolled back
// automatically and a clean drift check, against a cluster started with
// `ragdeploy local up` (controller included).
func TestDemo(t *testing.T) {
	work := t.TempDir()
	// The first hour runs from a repository root: its environments.
	if err := os.CopyFS(filepath.Join(work, "environments"), os.DirFS("../../environments")); err != nil {
		t.Fatal(err)
	}
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
		"upgrade to 1.3.0 as a canary (old color green serves)",
		"canary step 2/4 (pause 5s) at 33% (1 of 3 pods)",
		"canary step 4/4 (pause 5s) at 50% (2 of 4 pods)",
		"green kept warm for the scale-down delay, then scaled to 0; 1.3.0 stable on blue",
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("demo output lacks %q", want)
		}
	}
	demoReport(t, work)
	firstHour(t, work)
}

// firstHour runs the README's first hour (the sh block between its
// first-hour markers) line by line, as written: bin/ragdeploy is the
// binary under test, $PWD the test's working directory; a comment saying
// "exit N" is the exit code the line must have, otherwise 0. A line of any
// other kind fails the test, so the README cannot show a step nothing runs.
func firstHour(t *testing.T, work string) {
	t.Helper()
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, block, ok := strings.Cut(string(readme), "<!-- first-hour -->")
	block, _, ok2 := strings.Cut(block, "<!-- /first-hour -->")
	if !ok || !ok2 {
		t.Fatal("README.md has no first-hour block")
	}
	var env []string
	exitCode := regexp.MustCompile(`\bexit (\d+)\b`)
	ran := 0
	for _, line := range strings.Split(block, "\n") {
		command, comment, _ := strings.Cut(line, " #")
		args := strings.Fields(command)
		want := 0
		if m := exitCode.FindStringSubmatch(comment); m != nil {
			want, _ = strconv.Atoi(m[1])
		}
		var res result
		switch {
		case len(args) == 0 || strings.HasPrefix(args[0], "```"):
			continue
		case args[0] == "export" && len(args) == 2:
			env = append(env, strings.ReplaceAll(args[1], "$PWD", work))
			continue
		case args[0] == "bin/ragdeploy":
			res = ragdeploy(t, work, env, args[1:]...)
		case strings.Join(args, " ") == "make demo-down":
			res = ragdeploy(t, work, env, "local", "down")
		default:
			t.Fatalf("README first hour: no way to run %q", line)
		}
		ran++
		if res.code != want {
			t.Errorf("README first hour: %q: exit %d; want %d\n%s%s", strings.TrimSpace(command), res.code, want, res.stdout, res.stderr)
		}
	}
	if ran < 5 {
		t.Fatalf("README first hour: only %d commands ran", ran)
	}
}

// demoReport checks `ragdeploy report --env staging` after the demo: its
// four deployments (1.0.0, 1.1.0 promoted; 1.2.0-regress rolled back by
// its failed post-promotion check; 1.3.0 promoted as a canary), the
// automatic rollback and the time users were served the regression until
// the stable version served again.
func demoReport(t *testing.T, work string) {
	t.Helper()
	res := ragdeploy(t, work, nil, "report", "--env", "staging", "--kubeconfig", filepath.Join(work, ".ragdeploy", "local", "kubeconfig"), "-o", "json")
	if res.code != 0 {
		t.Fatalf("report: exit %d: %s", res.code, res.stderr)
	}
	var r report.Report
	if err := json.Unmarshal([]byte(res.stdout), &r); err != nil {
		t.Fatal(err)
	}
	if len(r.Apps) != 1 {
		t.Fatalf("report of %d apps; want the api rollout", len(r.Apps))
	}
	a := r.Apps[0]
	if a.Environment != "staging" || a.Deployments != 4 || a.Promoted != 3 || a.RolledBack != 1 || a.ChangeFailures != 1 ||
		a.Rollbacks.Automatic != 1 || a.Rollbacks.Manual != 0 || a.RecoveryTime.Count != 1 || a.RecoveryTime.MeanSeconds <= 0 {
		t.Fatalf("report %+v; want environment staging, 4 deployments (3 promoted, 1 rolled back), 1 change failure, 1 automatic rollback and its recovery time", a)
	}
	if h := a.History; len(h) != 4 || !strings.HasSuffix(h[0].Images[0], ":1.3.0") || h[0].Outcome != "Promoted" ||
		!strings.HasSuffix(h[1].Images[0], ":1.2.0-regress") || h[1].Reason != "PostPromotionAnalysisFailed" {
		t.Fatalf("report history %+v; want the canary 1.3.0 promoted, newest, after the regression rolled back by its post-promotion check", h)
	}
}
