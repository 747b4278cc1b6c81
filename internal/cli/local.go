package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/agentic-rag/ragdeploy/charts"
	"github.com/agentic-rag/ragdeploy/internal/controller"
	"github.com/agentic-rag/ragdeploy/internal/image"
	"github.com/agentic-rag/ragdeploy/internal/localcluster"
	"github.com/agentic-rag/ragdeploy/internal/release"
	"github.com/agentic-rag/ragdeploy/internal/render"
)

// defaultLocalStateDir is relative to the working directory.
const defaultLocalStateDir = ".ragdeploy/local"

// localOptions are shared by the local subcommands.
type localOptions struct {
	streams  Streams
	StateDir string
}

func (o *localOptions) bindFlags(cmd *cobra.Command) {
	cmd.Flags().StringVar(&o.StateDir, "state-dir", defaultLocalStateDir, "directory holding the cluster's certificates, data, logs and kubeconfig")
}

// Complete makes --state-dir absolute (the background supervisor runs
// elsewhere).
func (o *localOptions) Complete(*cobra.Command, []string) error {
	if o.StateDir == "" {
		return errors.New("--state-dir: must not be empty")
	}
	abs, err := filepath.Abs(o.StateDir)
	if err != nil {
		return fmt.Errorf("--state-dir: %w", err)
	}
	o.StateDir = abs
	return nil
}

// running returns the state of the cluster supervised from StateDir, or
// ok=false when none is running there.
func (o *localOptions) running() (localcluster.State, bool) {
	s, err := localcluster.ReadState(o.StateDir)
	if err != nil {
		return s, false
	}
	return s, localcluster.ProcessAlive(s.PID, "local")
}

func newLocalCommand(streams Streams) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "local",
		Short: "Run a real local Kubernetes control plane (etcd, kube-apiserver, controller-manager, scheduler, kwok nodes)",
		Long: "The local cluster runs the real Kubernetes control plane on loopback with kwok\n" +
			"simulating nodes and pods, for development, the demo and tests.\n" +
			"Its binaries are built once by `make cluster-bin`.",
	}
	cmd.AddCommand(newLocalUpCommand(streams), newLocalDownCommand(streams),
		newLocalStatusCommand(streams), newLocalKubeconfigCommand(streams), newLocalLoadCommand(streams), newLocalServeCommand(streams))
	return cmd
}

// localUpOptions start a background cluster.
type localUpOptions struct {
	localOptions
	Nodes int
	// RealNodes run real containers beside the kwok nodes.
	RealNodes int
	// realNodesAsked: --real-nodes was given, so a running cluster with
	// another number of them is not the one asked for.
	realNodesAsked bool
	Timeout        time.Duration
	// NoController skips running the Rollout controller next to
	// the control plane (tests that run their own use it).
	NoController bool
}

func (o *localUpOptions) bindUpFlags(cmd *cobra.Command) {
	o.bindFlags(cmd)
	cmd.Flags().IntVar(&o.Nodes, "nodes", localcluster.DefaultOptions().Nodes, "number of kwok nodes")
	cmd.Flags().IntVar(&o.RealNodes, "real-nodes", 0, fmt.Sprintf("number of real nodes (kubelet, kube-proxy, containerd; needs root and make deps), 0..%d", localcluster.MaxRealNodes))
	cmd.Flags().DurationVar(&o.Timeout, "timeout", 2*time.Minute, "how long to wait for the cluster to become ready")
	cmd.Flags().BoolVar(&o.NoController, "no-controller", false, "do not run the Rollout controller (and do not install its CRD)")
}

func newLocalUpCommand(streams Streams) *cobra.Command {
	o := &localUpOptions{localOptions: localOptions{streams: streams}}
	cmd := &cobra.Command{
		Use:         "up",
		Example:     "  ragdeploy local up\n  ragdeploy local up --real-nodes 1          # one real node (kubelet, containerd): pods really run\n  ragdeploy local up --state-dir /tmp/c1    # a second cluster beside the first",
		Annotations: map[string]string{annotationOwnLogger: "true"},
		Short:       "Start the local cluster in the background (no-op when it already runs)",
		Args:        cobra.NoArgs,
	}
	o.bindUpFlags(cmd)
	return runs(cmd, o)
}

func (o *localUpOptions) Complete(cmd *cobra.Command, args []string) error {
	o.realNodesAsked = cmd.Flags().Changed("real-nodes")
	return o.localOptions.Complete(cmd, args)
}

func (o *localUpOptions) Validate() error {
	if o.Nodes < 1 || o.Nodes > 100 {
		return fmt.Errorf("--nodes: %d is out of range; use 1..100", o.Nodes)
	}
	if o.Timeout <= 0 {
		return fmt.Errorf("--timeout: must be positive, got %v", o.Timeout)
	}
	if o.RealNodes < 0 || o.RealNodes > localcluster.MaxRealNodes {
		return fmt.Errorf("--real-nodes: %d is out of range; use 0..%d", o.RealNodes, localcluster.MaxRealNodes)
	}
	if _, ok := o.running(); ok {
		return nil // already running: nothing to check
	}
	_, err := localcluster.Options{RealNodes: o.RealNodes, StateDir: o.StateDir}.Resolve()
	return err
}

func (o *localUpOptions) Run(ctx context.Context) error {
	if s, ok := o.running(); ok {
		if o.realNodesAsked && len(s.RealNodes) != o.RealNodes {
			// Not the cluster asked for: say so rather than hand it over.
			return fmt.Errorf("a local cluster with %s already runs in %s; stop it first (%s local down) to start one with --real-nodes %d",
				nodeCounts(len(s.Nodes), len(s.RealNodes)), o.StateDir, invokedAs(), o.RealNodes)
		}
		fmt.Fprintf(o.streams.Out, "Local cluster already running (pid %d, %s).\n", s.PID, s.Server)
		printUsage(o.streams, s, o.StateDir)
		return nil
	}
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	fmt.Fprintf(o.streams.ErrOut, "Starting local cluster (%s) in %s ...\n", nodeCounts(o.Nodes, o.RealNodes), o.StateDir)
	s, err := localcluster.StartBackground(ctx, o.StateDir, []string{exe, "local", "serve", "--state-dir", o.StateDir,
		"--nodes", strconv.Itoa(o.Nodes), "--real-nodes", strconv.Itoa(o.RealNodes), "--timeout", o.Timeout.String(),
		"--no-controller=" + strconv.FormatBool(o.NoController)}, o.Timeout+10*time.Second)
	if err != nil {
		return err
	}
	fmt.Fprintf(o.streams.Out, "Local cluster ready in %.1fs: %s, API server %s.\n", s.ReadySeconds, nodeCounts(len(s.Nodes), len(s.RealNodes)), s.Server)
	printUsage(o.streams, s, o.StateDir)
	return nil
}

// printUsage tells how to use and stop the cluster, with the command as it
// was invoked and the state directory when it is not the default.
func printUsage(streams Streams, s localcluster.State, stateDir string) {
	down := invokedAs() + " local down"
	if def, err := filepath.Abs(defaultLocalStateDir); err != nil || def != stateDir {
		down += " --state-dir " + stateDir
	}
	fmt.Fprintf(streams.Out, "\nUse it with:\n  export KUBECONFIG=%s\n  kubectl get nodes\n\nStop it with:\n  %s\n", s.Kubeconfig, down)
}

// invokedAs is how the user ran ragdeploy (bin/ragdeploy, ./ragdeploy or
// ragdeploy from PATH), so printed commands can be pasted as they are.
func invokedAs() string {
	if len(os.Args) == 0 || os.Args[0] == "" || strings.HasSuffix(os.Args[0], ".test") {
		return "ragdeploy"
	}
	return os.Args[0]
}

// newLocalServeCommand is the supervisor `local up` starts in the background:
// it runs the cluster, publishes its state, and stops it on SIGTERM/SIGINT.
func newLocalServeCommand(streams Streams) *cobra.Command {
	o := &localServeOptions{localUpOptions{localOptions: localOptions{streams: streams}}}
	cmd := &cobra.Command{
		Use:    "serve",
		Short:  "Run the local cluster in the foreground until interrupted",
		Hidden: true,
		Args:   cobra.NoArgs,
	}
	o.bindUpFlags(cmd)
	return runs(cmd, o)
}

// localServeOptions run the cluster in the foreground: the supervisor `local
// up` starts, with the flags up passes on (already validated there).
type localServeOptions struct{ localUpOptions }

func (o *localServeOptions) Validate() error { return nil }

func (o *localServeOptions) Run(ctx context.Context) error {
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	started := time.Now()
	c, err := localcluster.Start(ctx, localcluster.Options{StateDir: o.StateDir, Nodes: o.Nodes, RealNodes: o.RealNodes, ReadyTimeout: o.Timeout, KeepStateDir: true})
	if err != nil {
		return err
	}
	defer c.Stop()
	state := c.StateOf(os.Getpid(), started, time.Since(started))
	switch {
	case o.NoController:
	case len(c.RealNodes) > 0:
		// Real nodes run the controller as it runs on any cluster: the
		// chart's Deployment, from an image of this very binary.
		exe, err := os.Executable()
		if err != nil {
			return err
		}
		if err := InstallInClusterController(ctx, c, exe); err != nil {
			return fmt.Errorf("controller: %w", err)
		}
		state.ControllerRelease = localControllerNamespace + "/" + localControllerRelease
		state.ReadySeconds = time.Since(started).Seconds()
	default:
		state.ControllerLog = filepath.Join(o.StateDir, "logs", "ragdeploy-controller.log")
		stopController, err := runLocalController(ctx, c, state.ControllerLog)
		if err != nil {
			return err
		}
		defer stopController()
	}
	if err := localcluster.WriteState(o.StateDir, state); err != nil {
		return err
	}
	fmt.Fprintf(o.streams.Out, "ready: %s\n", c.Server)
	<-ctx.Done()
	fmt.Fprintln(o.streams.Out, "stopping")
	_ = os.Remove(filepath.Join(o.StateDir, localcluster.StateFile))
	return nil
}

// localDownOptions stop the background cluster and remove its state.
type localDownOptions struct {
	localOptions
	Timeout time.Duration
}

func newLocalDownCommand(streams Streams) *cobra.Command {
	o := &localDownOptions{localOptions: localOptions{streams: streams}}
	cmd := &cobra.Command{
		Use:     "down",
		Example: "  ragdeploy local down\n  ragdeploy local down --state-dir /tmp/c1",
		Short:   "Stop the local cluster and remove its state (no-op when none runs)",
		Args:    cobra.NoArgs,
	}
	o.bindFlags(cmd)
	cmd.Flags().DurationVar(&o.Timeout, "timeout", 30*time.Second, "how long to wait for the cluster to stop before killing it")
	return runs(cmd, o)
}

func (o *localDownOptions) Validate() error {
	if o.Timeout <= 0 {
		return fmt.Errorf("--timeout: must be positive, got %v", o.Timeout)
	}
	return nil
}

func (o *localDownOptions) Run(context.Context) error {
	stopped, err := localcluster.StopBackground(o.StateDir, o.Timeout)
	switch {
	case err != nil:
		return err
	case !stopped:
		fmt.Fprintf(o.streams.Out, "No local cluster in %s: nothing to stop.\n", o.StateDir)
	default:
		fmt.Fprintf(o.streams.Out, "Local cluster stopped; removed %s.\n", o.StateDir)
	}
	return nil
}

// localStatusOptions show the local cluster's state.
type localStatusOptions struct{ localOptions }

func newLocalStatusCommand(streams Streams) *cobra.Command {
	o := &localStatusOptions{localOptions{streams: streams}}
	cmd := &cobra.Command{
		Use:     "status",
		Example: "  ragdeploy local status",
		Short:   "Show whether the local cluster runs, its components and nodes (exit 3 when not running)",
		Args:    cobra.NoArgs,
	}
	o.bindFlags(cmd)
	return runs(cmd, o)
}

func (o *localStatusOptions) Validate() error { return nil }

func (o *localStatusOptions) Run(ctx context.Context) error { return localStatus(ctx, &o.localOptions) }

// localKubeconfigOptions print the local cluster's kubeconfig path.
type localKubeconfigOptions struct{ localOptions }

func newLocalKubeconfigCommand(streams Streams) *cobra.Command {
	o := &localKubeconfigOptions{localOptions{streams: streams}}
	cmd := &cobra.Command{
		Use:     "kubeconfig",
		Example: "  export KUBECONFIG=$(ragdeploy local kubeconfig)",
		Short:   "Print the path of the local cluster's admin kubeconfig",
		Args:    cobra.NoArgs,
	}
	o.bindFlags(cmd)
	return runs(cmd, o)
}

func (o *localKubeconfigOptions) Validate() error { return nil }

func (o *localKubeconfigOptions) Run(context.Context) error {
	s, ok := o.running()
	if !ok {
		return errNotRunning(o.StateDir)
	}
	fmt.Fprintln(o.streams.Out, s.Kubeconfig)
	return nil
}

func errNotRunning(dir string) error {
	return &ExitError{Code: 3, Err: fmt.Errorf("no local cluster running in %s; start one with `ragdeploy local up`", dir)}
}

// nodeCounts says "3 kwok nodes" or "3 kwok nodes, 1 real node".
func nodeCounts(kwok, real int) string {
	s := plural(kwok, "kwok node")
	if real > 0 {
		s += ", " + plural(real, "real node")
	}
	return s
}

// plural returns "1 node", "3 nodes".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// The in-cluster controller's Helm release on a local cluster with real nodes.
const (
	localControllerNamespace = "ragdeploy-system"
	localControllerRelease   = "ragdeploy"
	controllerRepository     = "agentic-rag/ragdeploy"
)

// InstallInClusterController pushes an image of the ragdeploy executable
// exe (a static build) into the local registry (tagged by its digest, so a
// rebuilt binary rolls the pods) and installs charts/ragdeploy with it on
// the real nodes: 2 replicas with leader election, the chart's security
// context, probes and RBAC.
func InstallInClusterController(ctx context.Context, c *localcluster.Cluster, exe string) error {
	img, err := image.FromExecutable(exe, Version, Commit)
	if err != nil {
		return err
	}
	digest, err := img.Digest()
	if err != nil {
		return err
	}
	tag := "local-" + digest.Hex[:12]
	if err := c.PushImage(controllerRepository+":"+tag, img); err != nil {
		return err
	}
	ch, err := render.LoadChart(charts.FS, "ragdeploy")
	if err != nil {
		return err
	}
	values := map[string]any{
		"image":        map[string]any{"repository": controllerRepository, "tag": tag},
		"nodeSelector": map[string]any{localcluster.RealNodeLabel: "real"},
		"tolerations":  []any{map[string]any{"key": localcluster.RealNodeTaintKey, "operator": "Exists", "effect": "NoSchedule"}},
	}
	t := release.Target{Kubeconfig: c.Kubeconfig, Namespace: localControllerNamespace, Name: localControllerRelease}
	plan, err := release.PrepareChart(ctx, ch, t, values)
	if err != nil {
		return err
	}
	m, err := release.NewManager(t)
	if err != nil {
		return err
	}
	_, err = m.ApplyChart(ctx, plan, release.Options{Timeout: 2 * time.Minute})
	return err
}

// runLocalController installs the CRDs and runs the controller in this
// process (pods on kwok nodes run nothing, so it cannot run as a pod here).
// It logs to logPath and is stopped by the returned function.
func runLocalController(ctx context.Context, c *localcluster.Cluster, logPath string) (func(), error) {
	if err := controller.InstallCRDs(ctx, c.RESTConfig); err != nil {
		return nil, err
	}
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600) //nolint:gosec // G304: reads the file the user named (flag, environment or state dir); reading it is the point
	if err != nil {
		return nil, err
	}
	ctrl.SetLogger(zap.New(zap.WriteTo(logFile)))
	opts := controller.DefaultOptions()
	opts.MetricsAddr, opts.ProbeAddr, opts.LeaderElection = "0", "0", false
	stop, err := controller.Start(c.RESTConfig, opts)
	if err != nil {
		_ = logFile.Close()
		return nil, err
	}
	return func() {
		if err := stop(); err != nil {
			fmt.Fprintf(logFile, "controller stopped: %v\n", err)
		}
		_ = logFile.Close()
	}, nil
}
