package cli

import (
	"context"
	"time"

	"github.com/spf13/cobra"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/agentic-rag/ragdeploy/internal/controller"
)

// controllerOptions run the BlueGreenDeployment controller.
type controllerOptions struct {
	kube    *kubeOptions
	streams Streams
	controller.Options
	Verbose bool
}

func newControllerCommand(streams Streams, kube *kubeOptions) *cobra.Command {
	o := &controllerOptions{kube: kube, streams: streams, Options: controller.DefaultOptions()}
	cmd := &cobra.Command{
		Use:   "controller",
		Short: "Run the BlueGreenDeployment controller (the container entrypoint of charts/ragdeploy)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return o.run(cmd.Context())
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.MetricsAddr, "metrics-bind-address", o.MetricsAddr, `address of /metrics ("0" disables it)`)
	f.StringVar(&o.ProbeAddr, "health-probe-bind-address", o.ProbeAddr, `address of /healthz and /readyz ("0" disables them)`)
	f.BoolVar(&o.LeaderElection, "leader-elect", o.LeaderElection, "elect a leader so several replicas can run")
	f.StringVar(&o.LeaderElectionNamespace, "leader-election-namespace", "", "namespace of the leader Lease (default: the pod's namespace)")
	f.DurationVar(&o.LeaseDuration, "lease-duration", 15*time.Second, "leader Lease duration")
	f.StringVar(&o.Namespace, "watch-namespace", "", "only manage BlueGreenDeployments in this namespace (default: all)")
	f.BoolVarP(&o.Verbose, "verbose", "v", false, "debug logging")
	return cmd
}

func (o *controllerOptions) run(ctx context.Context) error {
	ctrl.SetLogger(zap.New(zap.WriteTo(o.streams.ErrOut), zap.UseDevMode(o.Verbose)))
	cfg, err := o.kube.restConfig()
	if err != nil {
		return err
	}
	mgr, err := controller.New(cfg, o.Options)
	if err != nil {
		return err
	}
	return mgr.Start(ctx)
}
