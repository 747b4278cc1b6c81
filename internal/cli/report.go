package cli

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/agentic-rag/ragdeploy/api/v1alpha1"
	"github.com/agentic-rag/ragdeploy/internal/bluegreen"
	"github.com/agentic-rag/ragdeploy/internal/drift"
	"github.com/agentic-rag/ragdeploy/internal/report"
)

// reportOptions compute an environment's deployment quality figures.
type reportOptions struct {
	releaseOptions
	Since string

	since time.Duration
}

func newReportCommand(streams Streams, kube *kubeOptions) *cobra.Command {
	o := &reportOptions{releaseOptions: releaseOptions{kube: kube, streams: streams}}
	cmd := &cobra.Command{
		Use:     "report --env ENV",
		Short:   "Deployment quality of an environment: success and change failure rates, deployment, lead and recovery times, rollbacks, drift, automation",
		Example: "  ragdeploy report --env staging\n  ragdeploy report --env production --since 7d -o json",
		Long: "Computed from what the cluster records, as the controller's metrics are: the\n" +
			"rollouts' history (every rollout of the newest revisionHistoryLimit+1\n" +
			"revisions, at most 100), the drift Events (kept as long as the API server\n" +
			"keeps Events: --event-ttl, 1h by default) and the Helm release history. A\n" +
			"change failure is a rollout aborted or rolled back, or a promoted one rolled\n" +
			"back later by hand; recovery time is how long users were served a failed\n" +
			"version; automation coverage is the share of rollouts promoted and rolled\n" +
			"back without a person's command.",
		Args: cobra.NoArgs,
	}
	o.bindFlags(cmd)
	cmd.Flags().StringVar(&o.Since, "since", "30d", "the window: a duration back from now (30d, 12h, 90m)")
	return runs(cmd, o)
}

func (o *reportOptions) Validate() error {
	d, err := parseSince(o.Since)
	if err != nil {
		return err
	}
	o.since = d
	return o.releaseOptions.Validate()
}

// parseSince reads a window: Go's durations plus whole days (30d).
func parseSince(s string) (time.Duration, error) {
	d, err := time.ParseDuration(s)
	if days, ok := strings.CutSuffix(s, "d"); ok && err != nil {
		n, nerr := strconv.Atoi(days)
		d, err = time.Duration(n)*24*time.Hour, nerr
	}
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("--since %q: want a positive duration such as 30d, 12h or 90m", s)
	}
	return d, nil
}

func (o *reportOptions) Run(ctx context.Context) error {
	revs, err := o.release.History()
	if err != nil {
		return installHint(err, o.Env)
	}
	c, ns := o.release.Client(), o.env.Release.Namespace
	src := report.Sources{Environment: o.Env, Namespace: ns}
	var rollouts v1alpha1.RolloutList
	if err := c.List(ctx, &rollouts, client.InNamespace(ns), client.MatchingLabels{"app.kubernetes.io/instance": o.env.Release.Name}); err != nil {
		return fmt.Errorf("list rollouts: %w", err)
	}
	src.Rollouts = rollouts.Items
	var events corev1.EventList
	if err := c.List(ctx, &events, client.InNamespace(ns)); err != nil {
		return fmt.Errorf("list events: %w", err)
	}
	for _, e := range events.Items {
		if e.Reason == drift.ReasonDriftDetected || e.Reason == drift.ReasonDriftResolved {
			src.Events = append(src.Events, e)
		}
	}
	for _, r := range revs {
		src.Revisions = append(src.Revisions, report.Revision{Status: r.Status, Deployed: r.Deployed})
	}
	now := time.Now()
	r := report.Compute(src, now.Add(-o.since), now)
	if o.Output != "text" {
		return printObject(o.streams.Out, o.Output, r)
	}
	return writeReport(o.streams.Out, r, o.Since)
}

// writeReport is the text view of a report.
func writeReport(out io.Writer, r *report.Report, window string) error {
	fmt.Fprintf(out, "Deployment report: environment %s (namespace %s), last %s (%s to %s)\n",
		r.Environment, r.Namespace, window, r.Since.UTC().Format(time.RFC3339), r.Until.UTC().Format(time.RFC3339))
	if len(r.Apps) == 0 {
		fmt.Fprintln(out, "\nNo rollout in this release.")
	}
	for _, a := range r.Apps {
		w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
		fmt.Fprintf(w, "\n%s (%s), rollout %s\n", a.App, a.Strategy, a.Rollout)
		fmt.Fprintf(w, "  deployments\t%d (%d promoted, %d aborted, %d rolled back; %d superseded not counted)\n", a.Deployments, a.Promoted, a.Aborted, a.RolledBack, a.Superseded)
		fmt.Fprintf(w, "  success rate\t%s\n", ratio(a.Promoted, a.Deployments))
		fmt.Fprintf(w, "  change failure rate\t%s\n", ratio(a.ChangeFailures, a.Deployments))
		fmt.Fprintf(w, "  deployment time\t%s\n", statsText(a.DeploymentTime, "promoted rollouts"))
		fmt.Fprintf(w, "  mean time to deploy\t%s\n", meanText(a.DeploymentTime))
		fmt.Fprintf(w, "  lead time\t%s\n", statsText(a.LeadTime, "promotions whose image gives its creation time"))
		fmt.Fprintf(w, "  rollbacks\t%d automatic, %d manual\n", a.Rollbacks.Automatic, a.Rollbacks.Manual)
		fmt.Fprintf(w, "  recovery time\t%s\n", statsText(a.RecoveryTime, "failures that reached users"))
		fmt.Fprintf(w, "  automation coverage\t%s without a person's command\n", ratio(a.Automated, a.Deployments))
		if err := w.Flush(); err != nil {
			return err
		}
		if len(a.History) > 0 {
			w = tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "\n  FINISHED\tREVISION\tOUTCOME\tBY\tDURATION\tRECOVERY\tIMAGES")
			for i := range a.History {
				h := &a.History[i]
				fmt.Fprintf(w, "  %s\t%s\t%s\t%s\t%s\t%s\t%s\n", h.FinishedAt.UTC().Format(time.RFC3339), h.Revision, outcomeText(h),
					orNone(string(h.DecidedBy)), durationText(h), recoveryText(h), orNone(strings.Join(h.Images, ",")))
			}
			if err := w.Flush(); err != nil {
				return err
			}
		}
	}
	d := r.Drift
	fmt.Fprintf(out, "\ndrift: %d detected; lasted %s", d.Detections, statsText(d.Lasted, "resolved"))
	if len(d.Open) > 0 {
		fmt.Fprintf(out, "; drifted now: %s", strings.Join(d.Open, ", "))
	}
	fmt.Fprintf(out, "\nhelm release: %d revisions deployed, %d failed\n", r.Release.Revisions, r.Release.Failed)
	return nil
}

func ratio(n, of int) string {
	if of == 0 {
		return "- (no deployments)"
	}
	return fmt.Sprintf("%.0f%% (%d of %d)", 100*float64(n)/float64(of), n, of)
}

func statsText(s report.Stats, over string) string {
	if s.Count == 0 {
		return "- (no " + over + ")"
	}
	return fmt.Sprintf("mean %s, p50 %s, max %s (%s: %d)", seconds(s.MeanSeconds), seconds(s.P50Seconds), seconds(s.MaxSeconds), over, s.Count)
}

func meanText(s report.Stats) string {
	if s.Count == 0 {
		return "-"
	}
	return seconds(s.MeanSeconds)
}

// seconds prints a duration given in seconds, to the millisecond.
func seconds(s float64) string {
	return time.Duration(s * float64(time.Second)).Round(time.Millisecond).String()
}

func outcomeText(h *v1alpha1.RevisionRecord) string {
	if h.RollbackOf != "" {
		return string(h.Outcome) + " (rollback of " + h.RollbackOf + ")"
	}
	if h.Reason != "" && h.Outcome != v1alpha1.OutcomePromoted {
		return string(h.Outcome) + " (" + h.Reason + ")"
	}
	return string(h.Outcome)
}

// recoveryText is the rollout's recovery time as the figures count it
// (bluegreen.Recovery): none for an abort before the switch, the undo's
// own time for a rollback by hand.
func recoveryText(h *v1alpha1.RevisionRecord) string {
	d, ok := bluegreen.Recovery(h)
	if !ok {
		return "-"
	}
	return d.Round(time.Millisecond).String()
}

func durationText(h *v1alpha1.RevisionRecord) string {
	d, ok := bluegreen.Duration(h)
	if !ok {
		return "-"
	}
	return d.Round(time.Millisecond).String()
}
