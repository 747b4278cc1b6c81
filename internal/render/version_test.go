package render_test

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// git runs git in the repository root.
func git(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command("git", append([]string{"-C", filepath.Join("..", "..")}, args...)...).Output() //nolint:gosec // G204: runs the binary or tool the test built or pinned, arguments as a list
	if err != nil {
		t.Fatalf("git %v: %v", args, err)
	}
	return strings.TrimSpace(string(out))
}

// A commit that changes a chart must change its version: compare the last
// commit that touched each chart with the one before it.
func TestChartVersionBumpedWithContent(t *testing.T) {
	for _, chart := range []string{"ragdeploy", "agentic-rag"} {
		dir := "charts/" + chart
		commits := strings.Fields(git(t, "log", "-n", "2", "--format=%H", "--", dir))
		if len(commits) < 2 {
			if git(t, "rev-parse", "--is-shallow-repository") == "true" {
				t.Skipf("a shallow clone holds %d commit(s) of %s: the version bump cannot be checked (fetch the history: git fetch --unshallow)", len(commits), dir)
			}
			continue // the chart's first commit
		}
		if exec.Command("git", "-C", filepath.Join("..", ".."), "cat-file", "-e", commits[1]+":"+dir+"/Chart.yaml").Run() != nil { //nolint:gosec // G204: runs the binary or tool the test built or pinned, arguments as a list
			continue // the chart had no Chart.yaml yet before its latest change
		}
		version := func(commit string) string {
			var meta struct {
				Version string `json:"version"`
			}
			if err := yaml.Unmarshal([]byte(git(t, "show", commit+":"+dir+"/Chart.yaml")), &meta); err != nil {
				t.Fatal(err)
			}
			return meta.Version
		}
		latest, previous := version(commits[0]), version(commits[1])
		if latest == previous {
			t.Errorf("%s changed in %.8s but its version stayed %s (as in %.8s): bump version in %s/Chart.yaml",
				chart, commits[0], latest, commits[1], dir)
		}
	}
}
