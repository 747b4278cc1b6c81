package cli

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/agentic-rag/ragdeploy/api/v1alpha1"
	"github.com/agentic-rag/ragdeploy/internal/bluegreen"
	"github.com/agentic-rag/ragdeploy/internal/envconfig"
	"github.com/agentic-rag/ragdeploy/internal/release"
)

// releaseStatus is one environment's release as `status` and `list` show it.
type releaseStatus struct {
	Environment string `json:"environment"`
	Namespace   string `json:"namespace"`
	Release     string `json:"release"`
	// Revision is the deployed revision (0: not installed).
	Revision int    `json:"revision"`
	Status   string `json:"status"`
	// Rollouts are the release's BlueGreenDeployments (status only).
	Rollouts []rolloutSummary `json:"rollouts"`
	// Drift is the drift summary (status only; "" when not installed).
	Drift string `json:"drift,omitempty"`
}

// rolloutSummary is one rollout's state in a release's status and in
// rollout list.
type rolloutSummary struct {
	Name           string `json:"name"`
	Namespace      string `json:"namespace"`
	Phase          string `json:"phase"`
	State          string `json:"state"`
	ActiveColor    string `json:"activeColor"`
	StableRevision string `json:"stableRevision"`
	Ready          string `json:"ready"`
	Message        string `json:"message,omitempty"`
}

func summaryOf(b *v1alpha1.BlueGreenDeployment) rolloutSummary {
	desired := int32(1)
	if b.Spec.Replicas != nil {
		desired = *b.Spec.Replicas
	}
	return rolloutSummary{
		Name: b.Name, Namespace: b.Namespace, Phase: string(b.Status.Phase), State: string(bluegreen.StateOf(b)),
		ActiveColor: string(b.Status.ActiveColor), StableRevision: b.Status.StableRevision,
		Ready: fmt.Sprintf("%d/%d", b.Status.ReadyReplicas, desired), Message: b.Status.Message,
	}
}

// releaseOptions are the release verbs' (status, history): an environment,
// with no secrets decrypted and nothing rendered.
type releaseOptions struct {
	kube    *kubeOptions
	streams Streams
	Env     string
	Dir     string
	Output  string
}

func (o *releaseOptions) bindFlags(cmd *cobra.Command) {
	bindEnv(cmd, &o.Env, &o.Dir, envRequired)
	bindOutput(cmd, &o.Output)
}

// connect loads the environment and connects to its release.
func (o *releaseOptions) connect() (*envconfig.Environment, *release.Manager, error) {
	if err := validateOutput(o.Output); err != nil {
		return nil, nil, err
	}
	env, err := loadEnvironment(o.Dir, o.Env)
	if err != nil {
		return nil, nil, err
	}
	m, err := release.NewManager(release.TargetOf(env, o.kube.Kubeconfig, o.kube.Context))
	return env, m, err
}

func newStatusCommand(streams Streams, kube *kubeOptions) *cobra.Command {
	o := &releaseOptions{kube: kube, streams: streams}
	cmd := &cobra.Command{
		Use:     "status --env ENV",
		Short:   "Show an environment's release: revision, its rollouts' phase and colors, and drift, in one view",
		Example: "  ragdeploy status --env staging\n  ragdeploy status --env staging -o json",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			env, m, err := o.connect()
			if err != nil {
				return err
			}
			st, err := statusOf(env, m)
			if err == nil && st.Revision > 0 {
				err = st.addDetail(cmd.Context(), env, m)
			}
			if err != nil {
				return err
			}
			if o.Output != "text" {
				return printObject(streams.Out, o.Output, st)
			}
			fmt.Fprintf(streams.Out, "Release:   %s/%s (environment %s)\n", st.Namespace, st.Release, st.Environment)
			if st.Revision == 0 {
				fmt.Fprintf(streams.Out, "Status:    not installed (hint: ragdeploy install --env %s)\n", env.Name)
				return nil
			}
			fmt.Fprintf(streams.Out, "Status:    revision %d %s\n", st.Revision, st.Status)
			for _, r := range st.Rollouts {
				fmt.Fprintf(streams.Out, "Rollout:   %s %s (%s): active %s, stable %s, ready %s", r.Name, r.Phase, r.State, orNone(r.ActiveColor), orNone(r.StableRevision), r.Ready)
				if r.Message != "" {
					fmt.Fprintf(streams.Out, " - %s", r.Message)
				}
				fmt.Fprintln(streams.Out)
			}
			fmt.Fprintf(streams.Out, "Drift:     %s\n", st.Drift)
			return nil
		},
	}
	o.bindFlags(cmd)
	return cmd
}

// statusOf reads an environment's release: its deployed revision.
func statusOf(env *envconfig.Environment, m *release.Manager) (*releaseStatus, error) {
	t := m.Target
	st := &releaseStatus{Environment: env.Name, Namespace: t.Namespace, Release: t.Name, Status: "not installed", Rollouts: []rolloutSummary{}}
	rev, err := m.Deployed()
	if err != nil {
		return nil, err
	}
	if rev != nil {
		st.Revision, st.Status = rev.Number, rev.Status
	}
	return st, nil
}

// addDetail adds the release's rollouts and its drift summary.
func (st *releaseStatus) addDetail(ctx context.Context, env *envconfig.Environment, m *release.Manager) error {
	rollouts, err := release.RolloutsOf(ctx, m.Client(), m.Target)
	if err != nil {
		return err
	}
	for i := range rollouts {
		st.Rollouts = append(st.Rollouts, summaryOf(&rollouts[i]))
	}
	report, err := m.StoredDrift(ctx)
	if err != nil {
		return err
	}
	if report.Clean() {
		st.Drift = fmt.Sprintf("none (%d objects compared)", report.Checked)
	} else {
		var what []string
		for _, obj := range report.Objects {
			what = append(what, obj.Object+" "+strings.ToLower(string(obj.State)))
		}
		st.Drift = fmt.Sprintf("%d of %d objects: %s (hint: ragdeploy drift --env %s)", len(report.Objects), report.Checked, strings.Join(what, ", "), env.Name)
	}
	return nil
}

func newHistoryCommand(streams Streams, kube *kubeOptions) *cobra.Command {
	o := &releaseOptions{kube: kube, streams: streams}
	cmd := &cobra.Command{
		Use:     "history --env ENV",
		Short:   "List the revisions of an environment's release, oldest first",
		Example: "  ragdeploy history --env staging\n  ragdeploy history --env staging -o json",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, m, err := o.connect()
			if err != nil {
				return err
			}
			revs, err := m.History()
			if err != nil {
				return installHint(err, o.Env)
			}
			type entry struct {
				Revision    int    `json:"revision"`
				Status      string `json:"status"`
				Description string `json:"description"`
			}
			entries := []entry{}
			for _, r := range revs {
				entries = append(entries, entry{Revision: r.Number, Status: r.Status, Description: r.Description})
			}
			if o.Output != "text" {
				return printObject(streams.Out, o.Output, entries)
			}
			w := tabwriter.NewWriter(streams.Out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "REVISION\tSTATUS\tDESCRIPTION")
			for _, e := range entries {
				fmt.Fprintf(w, "%d\t%s\t%s\n", e.Revision, e.Status, e.Description)
			}
			return w.Flush()
		},
	}
	o.bindFlags(cmd)
	return cmd
}

func newListCommand(streams Streams, kube *kubeOptions) *cobra.Command {
	var dir, output string
	cmd := &cobra.Command{
		Use:     "list",
		Short:   "List every environment's release on the cluster: namespace, revision and status",
		Example: "  ragdeploy list\n  ragdeploy list -o json",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := validateOutput(output); err != nil {
				return err
			}
			d, names, err := environmentFiles(dir)
			if err != nil {
				return err
			}
			entries := []*releaseStatus{}
			for _, name := range names {
				env, err := envconfig.Load(filepath.Join(d, name+".yaml"))
				if err != nil {
					return fmt.Errorf("%w (hint: ragdeploy env list shows every file's state)", err)
				}
				m, err := release.NewManager(release.TargetOf(env, kube.Kubeconfig, kube.Context))
				if err != nil {
					return err
				}
				st, err := statusOf(env, m)
				if err != nil {
					return err
				}
				entries = append(entries, st)
			}
			if output != "text" {
				return printObject(streams.Out, output, entries)
			}
			w := tabwriter.NewWriter(streams.Out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "ENVIRONMENT\tNAMESPACE\tRELEASE\tREVISION\tSTATUS")
			for _, e := range entries {
				rev := "-"
				if e.Revision > 0 {
					rev = fmt.Sprint(e.Revision)
				}
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", e.Environment, e.Namespace, e.Release, rev, e.Status)
			}
			return w.Flush()
		},
	}
	bindEnvironmentsDir(cmd, &dir)
	bindOutput(cmd, &output)
	return cmd
}
