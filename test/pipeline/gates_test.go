package pipeline

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// script runs a hack/pipeline step with extra environment and returns its
// output and exit code.
func script(t *testing.T, env []string, name string, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(filepath.Join("..", "..", "hack", "pipeline", name), args...) //nolint:gosec // G204: a step script of this repository, arguments as a list
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	code := 0
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		code = exit.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return string(out), code
}

// The coverage gate is a ratchet: below the recorded floor it fails; above
// it, it says so, and with COVERAGE_RATCHET=1 raises the floor.
func TestCoverageGateRatchets(t *testing.T) {
	dir := t.TempDir()
	profile := filepath.Join(dir, "cover.out")
	test := exec.Command("go", "test", "-count=1", "-coverprofile="+profile, "./internal/bluegreen/") //nolint:gosec // G204: the go tool on a package of this repository, arguments as a list
	test.Dir = filepath.Join("..", "..")
	if out, err := test.CombinedOutput(); err != nil {
		t.Fatalf("go test: %v\n%s", err, out)
	}
	floor := filepath.Join(dir, "floor")
	write := func(v string) {
		if err := os.WriteFile(floor, []byte(v+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	env := []string{"COVERAGE_FLOOR_FILE=" + floor}

	write("100.0")
	if out, code := script(t, env, "coverage-gate.sh", profile); code == 0 || !strings.Contains(out, "fell below the floor") {
		t.Fatalf("below the floor: exit %d\n%s", code, out)
	}
	write("1.0")
	out, code := script(t, env, "coverage-gate.sh", profile)
	if code != 0 || !strings.Contains(out, "coverage rose") {
		t.Fatalf("above the floor: exit %d\n%s", code, out)
	}
	if data, _ := os.ReadFile(floor); strings.TrimSpace(string(data)) != "1.0" { //nolint:gosec // G304: test fixture path
		t.Fatalf("the floor moved without COVERAGE_RATCHET: %s", data)
	}
	out, code = script(t, append(env, "COVERAGE_RATCHET=1"), "coverage-gate.sh", profile)
	data, _ := os.ReadFile(floor) //nolint:gosec // G304: test fixture path
	raised := strings.TrimSpace(string(data))
	if code != 0 || raised == "1.0" || !strings.Contains(out, "coverage "+raised+"%") {
		t.Fatalf("ratchet: exit %d, floor %s\n%s", code, raised, out)
	}
	// The repository's floor is a number the gate can read.
	if data, err := os.ReadFile(filepath.Join("..", "..", "hack", "pipeline", "coverage-floor")); err != nil || strings.TrimSpace(string(data)) == "" {
		t.Fatalf("hack/pipeline/coverage-floor: %q (err %v)", data, err)
	}
}

// The manifest scan passes on the shipped charts and fails on a critical
// finding (a workload without probes or resources).
func TestManifestScanFailsOnCriticalFindings(t *testing.T) {
	out, code := script(t, nil, "manifest-scan.sh")
	if code != 0 || !strings.Contains(out, "kube-score production: 0 critical") || !strings.Contains(out, "kube-score controller: 0 critical") {
		t.Fatalf("scan of the shipped charts: exit %d\n%s", code, out)
	}
	bad := t.TempDir()
	if err := os.WriteFile(filepath.Join(bad, "bad.yaml"), []byte(`apiVersion: apps/v1
kind: Deployment
metadata: {name: bad, namespace: x}
spec:
  replicas: 2
  selector: {matchLabels: {app: bad}}
  template:
    metadata: {labels: {app: bad}}
    spec:
      containers:
      - {name: bad, image: "bad:latest"}
`), 0o600); err != nil {
		t.Fatal(err)
	}
	out, code = script(t, []string{"MANIFEST_SCAN_DIRS=" + bad}, "manifest-scan.sh")
	if code == 0 || !strings.Contains(out, "[CRITICAL]") {
		t.Fatalf("scan of a bad manifest: exit %d\n%s", code, out)
	}
}
