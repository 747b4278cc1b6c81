package cli

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/go-logr/logr/funcr"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/spf13/cobra"

	"github.com/agentic-rag/ragdeploy/internal/drift"
	"github.com/agentic-rag/ragdeploy/internal/driftwatch"
)

// driftOptions are `ragdeploy drift`'s.
type driftOptions struct {
	clusterEnvOptions
	Output      string
	Fix         bool
	Watch       time.Duration
	MetricsAddr string
}

func newDriftCommand(streams Streams, kube *kubeOptions) *cobra.Command {
	o := &driftOptions{clusterEnvOptions: newClusterEnvOptions(kube, streams)}
	cmd := &cobra.Command{
		Use:     "drift --env ENV",
		Example: "  ragdeploy drift --env production\n  ragdeploy drift --env production --fix\n  ragdeploy drift --env production -o json",
		Short:   "Compare the live cluster with the last deployed release; exit 0 clean, 2 drift, 1 error",
		Long: "Each object of the release's last deployed revision (and each of the environment's\n" +
			"Secrets) is applied as a server-side dry run and compared with the live object,\n" +
			"so defaults, canonical quantities and fields other managers own (an HPA's\n" +
			"replicas) are not drift. The report lists each drifted object and field; Secret\n" +
			"values are compared by fingerprint and never shown.\n\n" +
			"--fix re-applies only the drifted objects. --watch INTERVAL checks continuously,\n" +
			"emits a Warning Event per drifted object and exports ragdeploy_drift_objects on\n" +
			"--metrics-addr.",
		Args: cobra.NoArgs,
	}
	o.bindFlags(cmd)
	bindOutput(cmd, &o.Output)
	cmd.Flags().BoolVar(&o.Fix, "fix", false, "re-apply the drifted objects (only those)")
	cmd.Flags().DurationVar(&o.Watch, "watch", 0, "check again every INTERVAL until interrupted")
	cmd.Flags().StringVar(&o.MetricsAddr, "metrics-addr", "", "with --watch: serve Prometheus metrics on this address (e.g. :9090)")
	return runs(cmd, o)
}

func (o *driftOptions) Validate() error {
	if err := validateOutput(o.Output); err != nil {
		return err
	}
	if o.Watch < 0 || (o.Watch > 0 && o.Watch < time.Second) {
		return errors.New("--watch: the interval must be at least 1s")
	}
	if o.MetricsAddr != "" && o.Watch == 0 {
		return errors.New("--metrics-addr only goes with --watch")
	}
	return nil
}

func (o *driftOptions) Run(ctx context.Context) error {
	if o.Watch > 0 {
		return o.watch(ctx)
	}
	report, err := o.checkOnce(ctx)
	if err != nil || report.Clean() {
		return err
	}
	return found("%s: %d objects drifted", o.target, len(report.Objects))
}

// checkOnce checks, prints the report, and with --fix repairs and checks
// again; the report returned is the final state.
func (o *driftOptions) checkOnce(ctx context.Context) (*drift.Report, error) {
	start := time.Now()
	report, err := o.release.Drift(ctx, o.plan)
	if err != nil {
		return nil, installHint(err, o.Env)
	}
	o.print(report, time.Since(start))
	if !o.Fix || report.Clean() {
		return report, nil
	}
	if err := o.release.FixDrift(ctx, o.plan, report); err != nil {
		return nil, err
	}
	fmt.Fprintf(o.streams.ErrOut, "re-applied %d drifted objects\n", len(report.Objects))
	after, err := o.release.Drift(ctx, o.plan)
	if err != nil {
		return nil, err
	}
	o.print(after, 0)
	return after, nil
}

func (o *driftOptions) print(r *drift.Report, took time.Duration) {
	if o.Output != "text" {
		_ = printObject(o.streams.Out, o.Output, r)
		return
	}
	if r.Clean() {
		fmt.Fprintf(o.streams.Out, "%s: no drift (%d objects checked in %dms)\n", o.target, r.Checked, took.Milliseconds())
		return
	}
	fmt.Fprintf(o.streams.Out, "%s: %d of %d objects drifted\n", o.target, len(r.Objects), r.Checked)
	printReport(o.streams.Out, r, nil, driftVerbs)
}

// watch checks every interval until the context ends, exporting metrics and
// emitting Events: the controller's drift watch, run on this command's check.
func (o *driftOptions) watch(ctx context.Context) error {
	reg := prometheus.NewRegistry()
	w := &driftwatch.Watcher{
		Client:   o.release.Client(),
		Releases: []driftwatch.Release{{Target: o.target, Check: o.checkOnce}},
		Interval: o.Watch, Metrics: driftwatch.NewMetrics(),
		Source: "ragdeploy-drift",
		Log:    funcr.New(func(_, args string) { fmt.Fprintln(o.streams.ErrOut, args) }, funcr.Options{}),
	}
	reg.MustRegister(w.Metrics.Collectors()...)
	if o.MetricsAddr != "" {
		ln, err := net.Listen("tcp", o.MetricsAddr)
		if err != nil {
			return fmt.Errorf("--metrics-addr: %w", err)
		}
		srv := &http.Server{Handler: promhttp.HandlerFor(reg, promhttp.HandlerOpts{}), ReadHeaderTimeout: 5 * time.Second}
		go func() { _ = srv.Serve(ln) }()
		defer srv.Close()
		fmt.Fprintf(o.streams.ErrOut, "metrics on http://%s/metrics\n", ln.Addr())
	}
	return w.Start(ctx)
}
