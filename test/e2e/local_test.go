package e2e

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/agentic-rag/ragdeploy/internal/localcluster"
	"github.com/agentic-rag/ragdeploy/internal/localcluster/clustertest"
)

// gone reports whether no process with pid exists any more.
func gone(pid int) bool {
	return errors.Is(syscall.Kill(pid, 0), syscall.ESRCH)
}

// waitGone waits up to timeout for every pid to disappear.
func waitGone(t *testing.T, pids map[string]int, timeout time.Duration) {
	t.Helper()
	clustertest.Eventually(t, timeout, fmt.Sprintf("processes %v gone", pids), func(context.Context) (bool, error) {
		for _, pid := range pids {
			if !gone(pid) {
				return false, nil
			}
		}
		return true, nil
	})
}

func TestLocalClusterLifecycle(t *testing.T) {
	work := t.TempDir()
	stateDir := filepath.Join(work, ".ragdeploy", "local")

	up := ragdeploy(t, work, nil, "local", "up")
	if up.code != 0 {
		t.Fatalf("local up failed: %s", up.stderr)
	}
	kubeconfig := filepath.Join(stateDir, "kubeconfig")
	if !strings.Contains(up.stdout, "export KUBECONFIG="+kubeconfig) {
		t.Fatalf("local up does not tell how to use the cluster:\n%s", up.stdout)
	}
	if !strings.Contains(up.stdout, "\n  "+binary+" local down\n") {
		t.Fatalf("local up does not print the exact command that stops it:\n%s", up.stdout)
	}
	state, err := localcluster.ReadState(stateDir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ragdeploy(t, work, nil, "local", "down") })

	// The printed kubeconfig reaches a cluster with three Ready nodes.
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	client := kubernetes.NewForConfigOrDie(cfg)
	nodes, err := client.CoreV1().Nodes().List(t.Context(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(nodes.Items) != 3 {
		t.Fatalf("got %d nodes, want 3", len(nodes.Items))
	}
	for i := range nodes.Items {
		if !localcluster.NodeReady(&nodes.Items[i]) {
			t.Errorf("node %s not Ready", nodes.Items[i].Name)
		}
	}

	// up again is harmless: same cluster, same supervisor.
	again := ragdeploy(t, work, nil, "local", "up")
	if again.code != 0 || !strings.Contains(again.stdout, "already running") {
		t.Fatalf("second local up: exit %d, output %q; want a no-op", again.code, again.stdout)
	}
	if s, _ := localcluster.ReadState(stateDir); s.PID != state.PID {
		t.Fatalf("second local up replaced the supervisor (%d -> %d)", state.PID, s.PID)
	}

	status := ragdeploy(t, work, nil, "local", "status")
	if status.code != 0 {
		t.Fatalf("local status: exit %d", status.code)
	}
	for _, want := range []string{"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok", "kwok-node-0"} {
		if !strings.Contains(status.stdout, want) {
			t.Errorf("local status does not mention %s", want)
		}
	}
	if !strings.Contains(status.stdout, "controller: running") {
		t.Errorf("local status does not report the controller:\n%s", status.stdout)
	}
	// The controller's API is served (local up waits for discovery to list it).
	if _, err := client.Discovery().ServerResourcesForGroupVersion("ragdeploy.io/v1alpha1"); err != nil {
		t.Errorf("Rollout API not served after local up: %v", err)
	}
	if strings.Contains(status.stdout, "exited") {
		t.Errorf("local status reports an exited component:\n%s", status.stdout)
	}
	if kc := ragdeploy(t, work, nil, "local", "kubeconfig"); strings.TrimSpace(kc.stdout) != kubeconfig {
		t.Errorf("local kubeconfig printed %q, want %q", kc.stdout, kubeconfig)
	}

	down := ragdeploy(t, work, nil, "local", "down")
	if down.code != 0 {
		t.Fatalf("local down: exit %d", down.code)
	}
	all := map[string]int{"supervisor": state.PID}
	for name, pid := range state.Components {
		all[name] = pid
	}
	waitGone(t, all, 5*time.Second)
	if _, err := os.Stat(stateDir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("state directory left after down: %v", err)
	}

	// Without a cluster: down is a clear no-op, status says it is not running.
	noop := ragdeploy(t, work, nil, "local", "down")
	if noop.code != 0 || !strings.Contains(noop.stdout, "nothing to stop") {
		t.Errorf("local down without a cluster: exit %d, %q; want a clear no-op", noop.code, noop.stdout)
	}
	if st := ragdeploy(t, work, nil, "local", "status"); st.code != 3 || !strings.Contains(st.stderr, "no local cluster running") {
		t.Errorf("local status without a cluster: exit %d, %q; want exit 3 and a clear message", st.code, st.stderr)
	}
}

func TestKilledSupervisorTakesComponentsDown(t *testing.T) {
	work := t.TempDir()
	stateDir := filepath.Join(work, "state")
	if up := ragdeploy(t, work, nil, "local", "up", "--state-dir", stateDir, "--nodes", "1", "--no-controller"); up.code != 0 {
		t.Fatalf("local up: %s", up.stderr)
	}
	t.Cleanup(func() { ragdeploy(t, work, nil, "local", "down", "--state-dir", stateDir) })
	state, err := localcluster.ReadState(stateDir)
	if err != nil {
		t.Fatal(err)
	}
	// The harshest interruption: no chance to clean up.
	if err := syscall.Kill(state.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitGone(t, state.Components, 10*time.Second)
	// A later up notices the dead cluster and starts a fresh one.
	up := ragdeploy(t, work, nil, "local", "up", "--state-dir", stateDir, "--nodes", "1")
	if up.code != 0 || strings.Contains(up.stdout, "already running") {
		t.Fatalf("local up after a crash: exit %d, %q; want a fresh start", up.code, up.stdout)
	}
}

func TestLocalUpWithoutBinaries(t *testing.T) {
	work := t.TempDir()
	res := ragdeploy(t, work, []string{localcluster.EnvBinDir + "=" + filepath.Join(work, "nowhere")}, "local", "up")
	if res.code != 1 || !strings.Contains(res.stderr, "run `make cluster-bin`") {
		t.Fatalf("local up without binaries: exit %d, stderr %q; want exit 1 telling to run make cluster-bin", res.code, res.stderr)
	}
	if _, err := os.Stat(filepath.Join(work, ".ragdeploy")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("local up without binaries created state: %v", err)
	}
}

func TestLocalUpRejectsBadFlags(t *testing.T) {
	work := t.TempDir()
	res := ragdeploy(t, work, nil, "local", "up", "--nodes", "0")
	if res.code != 1 || !strings.Contains(res.stderr, "--nodes: 0 is out of range") {
		t.Fatalf("local up --nodes 0: exit %d, stderr %q", res.code, res.stderr)
	}
	if _, err := os.Stat(filepath.Join(work, ".ragdeploy")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("rejected flags still created state: %v", err)
	}
}

func TestVersionAndCompletion(t *testing.T) {
	work := t.TempDir()
	if v := ragdeploy(t, work, nil, "--version"); v.code != 0 || !strings.HasPrefix(v.stdout, "ragdeploy ") {
		t.Errorf("--version: exit %d, %q", v.code, v.stdout)
	}
	c := ragdeploy(t, work, nil, "completion", "bash")
	if c.code != 0 || !strings.Contains(c.stdout, "__start_ragdeploy") {
		t.Errorf("completion bash: exit %d, output does not define the completion function", c.code)
	}
}

// TestRealNodesRefusedWhereTheyCannotRun: when something real nodes need is
// missing, local up --real-nodes says what at once and starts nothing.
func TestRealNodesRefusedWhereTheyCannotRun(t *testing.T) {
	work := t.TempDir()
	empty := t.TempDir()
	res := ragdeploy(t, work, []string{localcluster.EnvNodeBinDir + "=" + empty}, "local", "up", "--real-nodes", "1")
	if res.code != 1 || !strings.Contains(res.stderr, "real nodes cannot run here") ||
		!strings.Contains(res.stderr, "image binary pause missing in "+empty+" (run `make cluster-bin`)") {
		t.Fatalf("local up --real-nodes 1 without image binaries: exit %d, stderr %q; want exit 1 naming what is missing", res.code, res.stderr)
	}
	if _, err := os.Stat(filepath.Join(work, ".ragdeploy")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a refused local up created state: %v", err)
	}
	res = ragdeploy(t, work, nil, "local", "up", "--real-nodes", "4")
	if res.code != 1 || !strings.Contains(res.stderr, "--real-nodes: 4 is out of range; use 0..3") {
		t.Fatalf("local up --real-nodes 4: exit %d, stderr %q", res.code, res.stderr)
	}
	// A cluster of another shape already running is not handed over as if
	// it were the one asked for.
	if up := ragdeploy(t, work, nil, "local", "up", "--nodes", "1", "--no-controller"); up.code != 0 {
		t.Fatalf("local up: %s", up.stderr)
	}
	t.Cleanup(func() { ragdeploy(t, work, nil, "local", "down") })
	res = ragdeploy(t, work, nil, "local", "up", "--real-nodes", "1")
	if res.code != 1 || !strings.Contains(res.stderr, "a local cluster with 1 kwok node already runs in") || !strings.Contains(res.stderr, "local down) to start one with --real-nodes 1") {
		t.Fatalf("local up --real-nodes 1 over a kwok-only cluster: exit %d, stderr %q", res.code, res.stderr)
	}
}
