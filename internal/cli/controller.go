package cli

import (
	"context"
	"errors"
	"time"

	"github.com/spf13/cobra"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/agentic-rag/ragdeploy/internal/controller"
	"github.com/agentic-rag/ragdeploy/internal/driftwatch"
)

// controllerOptions run the Rollout controller.
type controllerOptions struct {
	kube    *kubeOptions
	streams Streams
	controller.Options
	Verbose       bool
	DriftReleases []string
	DriftInterval time.Duration
}

func newControllerCommand(streams Streams, kube *kubeOptions) *cobra.Command {
	o := &controllerOptions{kube: kube, streams: streams, Options: controller.DefaultOptions()}
	cmd := &cobra.Command{
		Use:         "controller",
		Example:     "  ragdeploy controller --leader-elect --metrics-bind-address :8080\n  ragdeploy controller --namespace agentic-rag-staging -v   # one namespace, verbose",
		Annotations: map[string]string{annotationOwnLogger: "true"},
		Short:       "Run the Rollout controller (the container entrypoint of charts/ragdeploy)",
		Args:        cobra.NoArgs,
	}
	f := cmd.Flags()
	f.StringVar(&o.MetricsAddr, "metrics-bind-address", o.MetricsAddr, `address of /metrics ("0" disables it)`)
	f.StringVar(&o.ProbeAddr, "health-probe-bind-address", o.ProbeAddr, `address of /healthz and /readyz ("0" disables them)`)
	f.StringVar(&o.PprofAddr, "pprof-bind-address", "", `address of Go's /debug/pprof profiles (default: off)`)
	f.BoolVar(&o.LeaderElection, "leader-elect", o.LeaderElection, "elect a leader so several replicas can run")
	f.StringVar(&o.LeaderElectionNamespace, "leader-election-namespace", "", "namespace of the leader Lease (default: the pod's namespace)")
	f.DurationVar(&o.LeaseDuration, "lease-duration", 15*time.Second, "leader Lease duration")
	f.IntVar(&o.Workers, "workers", o.Workers, "rollouts reconciled at once (one rollout is never reconciled twice at once)")
	f.StringVar(&o.Namespace, "watch-namespace", "", "only manage Rollouts in this namespace (default: all)")
	f.BoolVarP(&o.Verbose, "verbose", "v", false, "debug logging")
	f.StringArrayVar(&o.DriftReleases, "drift-release", nil, "check this Helm release (namespace/name) for drift; repeatable (opt-in; needs read access to its namespace's Secrets)")
	f.DurationVar(&o.DriftInterval, "drift-interval", 5*time.Minute, "how often to check the --drift-release releases")
	return runs(cmd, o)
}

// Complete sets the controller's logger: the first one set is the one that
// stays, so it comes before anything that logs.
func (o *controllerOptions) Complete(*cobra.Command, []string) error {
	ctrl.SetLogger(zap.New(zap.WriteTo(o.streams.ErrOut), zap.UseDevMode(o.Verbose)))
	return nil
}

func (o *controllerOptions) Validate() error {
	if o.DriftInterval < time.Second {
		return errors.New("--drift-interval must be at least 1s")
	}
	return nil
}

func (o *controllerOptions) Run(ctx context.Context) error {
	cfg, err := o.kube.restConfig()
	if err != nil {
		return err
	}
	releases, err := driftwatch.ParseReleases(cfg, o.DriftReleases)
	if err != nil {
		return err
	}
	mgr, err := controller.New(cfg, o.Options)
	if err != nil {
		return err
	}
	if len(releases) > 0 {
		dm := driftwatch.NewMetrics()
		metrics.Registry.MustRegister(dm.Collectors()...)
		if err := mgr.Add(&driftwatch.Watcher{Client: mgr.GetClient(), Releases: releases, Interval: o.DriftInterval,
			Metrics: dm, Source: "ragdeploy-controller", Log: mgr.GetLogger().WithName("drift")}); err != nil {
			return err
		}
	}
	return mgr.Start(ctx)
}
