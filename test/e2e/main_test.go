// Package e2e runs whole user flows through the ragdeploy binary, built once
// per test run, against real local clusters it starts itself.
package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/agentic-rag/ragdeploy/api/v1alpha1"
	"github.com/agentic-rag/ragdeploy/internal/controller"
	"github.com/agentic-rag/ragdeploy/internal/localcluster"
	"github.com/agentic-rag/ragdeploy/internal/release"
)

// binary is the ragdeploy executable under test.
var binary string

// binDir holds the control-plane binaries the ragdeploy binary is told about.
var binDir string

func TestMain(m *testing.M) {
	// Tests that start a real node in-process re-execute this binary as
	// its sandbox.
	localcluster.MaybeRunNodeSandbox()
	os.Exit(run(m))
}

func run(m *testing.M) int {
	// The in-process controllers' logs are not the tests' output.
	ctrllog.SetLogger(logr.Discard())
	// Some tests install the in-cluster controller's chart in-process.
	release.UseHelmFieldManager()
	binDir = localcluster.FindBinDir()
	if binDir == "" {
		fmt.Fprintln(os.Stderr, "e2e: control-plane binaries not found; run `make cluster-bin`")
		return 1
	}
	tmp, err := os.MkdirTemp("", "ragdeploy-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer func() { _ = os.RemoveAll(tmp) }()
	binary = filepath.Join(tmp, "ragdeploy")
	build := exec.Command("go", "build", "-o", binary, "../../cmd/ragdeploy") //nolint:gosec // G204: runs the binary or tool the test built or pinned, arguments as a list
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	// Static, as make build does: real nodes run it as the controller image.
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if err := build.Run(); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: build ragdeploy: %v\n", err)
		return 1
	}
	return m.Run()
}

// result is what one ragdeploy invocation did.
type result struct {
	stdout, stderr string
	code           int
}

// ragdeploy runs the binary in dir with args and the given extra environment.
func ragdeploy(t *testing.T, dir string, env []string, args ...string) result {
	t.Helper()
	// Not t.Context(): cleanups run commands after it is canceled.
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...) //nolint:gosec // G204: runs the binary or tool the test built or pinned, arguments as a list
	cmd.Dir = dir
	cmd.Env = append(append(os.Environ(), localcluster.EnvBinDir+"="+binDir), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	res := result{stdout: stdout.String(), stderr: stderr.String()}
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		res.code = exit.ExitCode()
	case err != nil:
		t.Fatalf("ragdeploy %v: %v", args, err)
	}
	t.Logf("ragdeploy %v -> exit %d\nstdout:\n%s\nstderr:\n%s", args, res.code, res.stdout, res.stderr)
	return res
}

// startCluster starts a local cluster with the ragdeploy CRDs installed,
// stopped when the test ends, and a client for it.
func startCluster(t *testing.T) (*localcluster.Cluster, client.Client) {
	t.Helper()
	cluster, err := localcluster.Start(context.Background(), localcluster.Options{Nodes: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cluster.Stop)
	if err := controller.InstallCRDs(t.Context(), cluster.RESTConfig); err != nil {
		t.Fatal(err)
	}
	c, err := client.New(cluster.RESTConfig, client.Options{Scheme: v1alpha1.Scheme()})
	if err != nil {
		t.Fatal(err)
	}
	return cluster, c
}
