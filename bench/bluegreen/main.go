// Command bluegreen measures the blue-green controller on the local cluster:
//
//   - ready -> switch: the last pod of the new color observed ready, to the
//     active Service observed selecting the new color;
//   - switch -> endpoints: the selector change, to the active Service's
//     EndpointSlices listing only ready pods of the new color;
//   - promotion -> endpoints: `rollout promote` (status patch) to the same;
//   - warm rollback: `rollout abort` of a paused rollout, or a failed
//     post-promotion check, to the active Service back on the old color with
//     only its ready pods listed;
//   - scale: N Rollouts rolled out at once, all complete, and the
//     controller's peak resident memory.
//
// The controller runs as a `ragdeploy controller` process; times are taken
// from watch events as this process receives them. Figures only.
//
//	go run ./bench/bluegreen [-rounds 50] [-scale 200]
package main

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/agentic-rag/ragdeploy/internal/localcluster"
)

func main() {
	rounds := flag.Int("rounds", 50, "sequential rollouts (and rollbacks) to time")
	switchRounds := flag.Bool("switch", true, "time switches")
	scale := flag.Int("scale", 200, "Rollouts rolled out at once")
	flag.Parse()
	if err := run(*rounds, *scale, *switchRounds); err != nil {
		fmt.Fprintf(os.Stderr, "bench/bluegreen: %v\n", err)
		os.Exit(1)
	}
}

func run(rounds, scale int, switches bool) error {
	ctx := context.Background()
	cluster, err := localcluster.Start(ctx, localcluster.Options{})
	if err != nil {
		return err
	}
	defer cluster.Stop()
	h, err := newHarness(ctx, cluster)
	if err != nil {
		return err
	}
	ctrl, err := startController(cluster.Kubeconfig)
	if err != nil {
		return err
	}
	defer ctrl.stop()

	health := &healthEndpoint{}
	health.ok.Store(true)
	srv := httptest.NewServer(health)
	defer srv.Close()

	fmt.Printf("bench/bluegreen: local cluster (%d nodes), 3 replicas, %d rounds\n", len(cluster.Nodes), rounds)
	if switches {
		sw, err := h.switchRounds(ctx, rounds)
		if err != nil {
			return err
		}
		report("ready -> switch (ms)", sw.readyToSwitch)
		report("switch -> endpoints (ms)", sw.switchToEndpoints)
		report("promote -> switch (ms)", sw.promoteToSwitch)
		report("promote -> endpoints (ms)", sw.promoteToEndpoints)
	}
	rb, err := h.rollbackRounds(ctx, rounds, srv.URL, health)
	if err != nil {
		return err
	}
	report("abort -> old color serving (ms)", rb.abort)
	report("failed check -> old color serving (ms)", rb.failedCheck)
	fmt.Printf("controller RSS after %d rounds: %.0f MiB\n", rounds, ctrl.rssMiB())

	took, peak, err := h.scaleRollout(ctx, scale, ctrl)
	if err != nil {
		return err
	}
	fmt.Printf("scale: %d Rollouts rolled out at once, all Healthy on the new revision after %.1fs; controller peak RSS %.0f MiB (goal <= 256)\n",
		scale, took.Seconds(), peak)
	return nil
}

// healthEndpoint answers 200 or 503 for the post-promotion check.
type healthEndpoint struct{ ok atomic.Bool }

func (h *healthEndpoint) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	if h.ok.Load() {
		w.WriteHeader(http.StatusOK)
		return
	}
	w.WriteHeader(http.StatusServiceUnavailable)
}

// controllerProcess is `ragdeploy controller` built from this checkout.
type controllerProcess struct {
	cmd *exec.Cmd
	dir string
}

func startController(kubeconfig string) (*controllerProcess, error) {
	dir, err := os.MkdirTemp("", "bench-bluegreen-")
	if err != nil {
		return nil, err
	}
	bin := filepath.Join(dir, "ragdeploy")
	build := exec.Command("go", "build", "-o", bin, "./cmd/ragdeploy") //nolint:gosec // G204: runs a binary this program built or pinned, with arguments as a list (no shell)
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		return nil, fmt.Errorf("build ragdeploy: %w", err)
	}
	log, err := os.Create(filepath.Join(dir, "controller.log")) //nolint:gosec // G304: reads the file the user named (flag, environment or state dir); reading it is the point
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "controller", "--kubeconfig", kubeconfig, "--leader-elect=false", //nolint:gosec // G204: runs a binary this program built or pinned, with arguments as a list (no shell)
		"--metrics-bind-address=0", "--health-probe-bind-address=0")
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	return &controllerProcess{cmd: cmd, dir: dir}, nil
}

func (c *controllerProcess) rssMiB() float64 {
	mib, err := localcluster.ProcessRSSMiB(c.cmd.Process.Pid)
	if err != nil {
		return -1
	}
	return mib
}

func (c *controllerProcess) stop() {
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = c.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = c.cmd.Process.Kill()
	}
	_ = os.RemoveAll(c.dir)
}
