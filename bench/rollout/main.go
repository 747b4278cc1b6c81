// Command rollout measures the rollout controller on the local cluster,
// every figure taken from watch events as this process (an outside
// observer) receives them:
//
//   - blue-green, 3 replicas: image patched -> active Service switched;
//     last new pod Ready (pod watch) -> switched; switched -> its
//     EndpointSlices list only the new pods; template reverted while the
//     old pods are warm -> switched back; `rollout promote` -> switched;
//     `rollout abort` or a failed post-promotion check -> old color serving;
//   - canary, 3 replicas, steps 25% and 50%: image patched -> first step
//     scaled; a step's last canary pod Ready (and listed ready behind the
//     active Service) -> next step scaled; last pod Ready -> switched;
//   - rolling, 3 replicas one at a time: image patched -> batch 1 scaled;
//     a batch's pod Ready -> stable scaled down and -> next batch scaled;
//     last pod Ready -> switched;
//   - scale: N one-replica blue-green Rollouts patched at once: patch ->
//     switch per rollout, the first patch to the last switch, and the
//     controller's peak resident memory.
//
// The controller runs as a `ragdeploy controller` process built from this
// checkout. Figures only.
//
//	go run ./bench/rollout [-rounds 50] [-scale 1000] [-only bluegreen,canary,rolling,scale]
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
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/agentic-rag/ragdeploy/bench/internal/stats"
	"github.com/agentic-rag/ragdeploy/internal/controller"
	"github.com/agentic-rag/ragdeploy/internal/localcluster"
)

func main() {
	rounds := flag.Int("rounds", 50, "rounds of each timed change")
	scale := flag.Int("scale", 1000, "Rollouts patched at once in the scale run")
	only := flag.String("only", "bluegreen,canary,rolling,scale", "sections to run")
	workers := flag.Int("workers", controller.DefaultWorkers, "the controller's --workers")
	flag.Parse()
	if err := run(*rounds, *scale, *workers, strings.Split(*only, ",")); err != nil {
		fmt.Fprintf(os.Stderr, "bench/rollout: %v\n", err)
		os.Exit(1)
	}
}

// podsPerNode is a kwok node's pod capacity (localcluster's node stage).
const podsPerNode = 110

func run(rounds, scale, workers int, sections []string) error {
	ctx := context.Background()
	// The scale run holds two pods per rollout during its switch.
	nodes := 3
	if slices.Contains(sections, "scale") {
		nodes = max(nodes, (2*scale+50)/podsPerNode+1)
	}
	cluster, err := localcluster.Start(ctx, localcluster.Options{Nodes: nodes})
	if err != nil {
		return err
	}
	defer cluster.Stop()
	h, err := newHarness(ctx, cluster)
	if err != nil {
		return err
	}
	ctrl, err := startController(cluster.Kubeconfig, workers)
	if err != nil {
		return err
	}
	defer ctrl.stop()

	fmt.Printf("bench/rollout: local cluster (%d kwok nodes), %d rounds; times from this process's watch events (ms)\n", len(cluster.Nodes), rounds)
	for _, section := range sections {
		var err error
		switch section {
		case "bluegreen":
			err = h.blueGreen(ctx, rounds)
		case "canary":
			var f canaryFigures
			if f, err = h.canaryRounds(ctx, rounds); err == nil {
				fmt.Println("canary, 3 replicas, steps 25% (1 canary pod) and 50% (3):")
				report("image patched -> step 1 scaled", f.patchToStep)
				report("step's last pod Ready -> next step scaled", f.readyToStep)
				report("step's last pod listed -> next step scaled", f.listedToStep)
				report("last canary pod Ready -> switched", f.readyToSwitch)
				report("last canary pod listed -> switched", f.listedToSwitch)
			}
		case "rolling":
			var f rollingFigures
			if f, err = h.rollingRounds(ctx, rounds); err == nil {
				fmt.Println("rolling, 3 replicas, one pod at a time (maxSurge 1, maxUnavailable 0):")
				report("image patched -> batch 1 scaled", f.patchToBatch)
				report("batch's pod Ready -> stable scaled down", f.readyToStableDown)
				report("batch's pod listed -> stable scaled down", f.listedToStableDown)
				report("batch's pod Ready -> next batch scaled", f.readyToBatch)
				report("last pod Ready -> switched", f.readyToSwitch)
			}
		case "scale":
			base, baseLast, berr := h.baselineRun(ctx, scale)
			if berr != nil {
				err = berr
				break
			}
			fmt.Printf("scale baseline, %d one-replica Deployments patched at once (no rollout controller):\n", scale)
			report("patch -> new pod Ready", base)
			fmt.Printf("  %-44s %.1f s\n", "first patch -> last new pod Ready", baseLast.Seconds())
			var f scaleFigures
			if f, err = h.scaleRun(ctx, scale, ctrl); err == nil {
				fmt.Printf("scale, %d one-replica blue-green Rollouts patched at once:\n", scale)
				report("patch -> switch", f.patchToSwitch)
				report("  patch -> idle color re-templated (controller)", f.patchToTemplated)
				report("  re-templated -> new pod Ready (control plane)", f.templatedToReady)
				report("  new pod Ready -> switch (controller)", f.readyToSwitch)
				fmt.Printf("  %-44s %.1f s; controller peak RSS %.0f MiB\n", "first patch -> last switch", f.lastSwitch.Seconds(), f.peakRSS)
				fmt.Printf("  %-44s p50 %.2f  p99 %.2f  last %.2f\n", "ratio to the baseline", stats.Percentile(f.patchToSwitch, 0.5)/stats.Percentile(base, 0.5),
					stats.Percentile(f.patchToSwitch, 0.99)/stats.Percentile(base, 0.99), f.lastSwitch.Seconds()/baseLast.Seconds())
			}
		default:
			err = fmt.Errorf("unknown section %q (bluegreen, canary, rolling, scale)", section)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", section, err)
		}
	}
	fmt.Printf("controller RSS at the end: %.0f MiB\n", ctrl.rssMiB())
	return nil
}

// blueGreen runs and reports the blue-green rounds.
func (h *harness) blueGreen(ctx context.Context, rounds int) error {
	health := &healthEndpoint{}
	health.ok.Store(true)
	srv := httptest.NewServer(health)
	defer srv.Close()
	sw, err := h.switchRounds(ctx, rounds)
	if err != nil {
		return err
	}
	revert, err := h.revertRounds(ctx, rounds)
	if err != nil {
		return err
	}
	rb, err := h.rollbackRounds(ctx, rounds, srv.URL, health)
	if err != nil {
		return err
	}
	fmt.Println("blue-green, 3 replicas, automatic promotion:")
	report("image patched -> switched", sw.patchToSwitch)
	report("  patched -> Deployment re-templated", sw.patchToTemplated)
	report("  re-templated -> new pods created", sw.templatedToCreated)
	report("  created -> last new pod Ready", sw.createdToReady)
	report("last new pod Ready -> switched", sw.readyToSwitch)
	report("switched -> endpoints only new pods", sw.switchToEndpoints)
	report("template reverted (old pods warm) -> back", revert)
	report("promote (paused rollout) -> switched", sw.promoteToSwitch)
	report("abort -> old color serving", rb.abort)
	report("failed check -> old color serving", rb.failedCheck)
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

func startController(kubeconfig string, workers int) (*controllerProcess, error) {
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
		"--metrics-bind-address=0", "--health-probe-bind-address=0", "--workers", strconv.Itoa(workers))
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
