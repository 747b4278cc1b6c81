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
	// Rollouts are the release's Rollouts (status only).
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

func summaryOf(b *v1alpha1.Rollout) rolloutSummary {
	desired := bluegreen.Replicas(&b.Spec)
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

	env     *envconfig.Environment
	release *release.Manager
}

func (o *releaseOptions) bindFlags(cmd *cobra.Command) {
	bindEnv(cmd, &o.Env, &o.Dir, envRequired)
	bindOutput(cmd, &o.Output)
}

// Complete loads the environment.
func (o *releaseOptions) Complete(*cobra.Command, []string) error {
	env, err := loadEnvironment(o.Dir, o.Env)
	o.env = env
	return err
}

// Connect connects to the environment's release, once the input is valid.
func (o *releaseOptions) Connect(context.Context) error {
	var err error
	o.release, err = release.NewManager(release.TargetOf(o.env, o.kube.Kubeconfig, o.kube.Context))
	return err
}

func (o *releaseOptions) Validate() error { return validateOutput(o.Output) }

// releaseStatusOptions show an environment's release.
type releaseStatusOptions struct{ releaseOptions }

func newStatusCommand(streams Streams, kube *kubeOptions) *cobra.Command {
	o := &releaseStatusOptions{releaseOptions{kube: kube, streams: streams}}
	cmd := &cobra.Command{
		Use:     "status --env ENV",
		Short:   "Show an environment's release: revision, its rollouts' phase and colors, and drift, in one view",
		Example: "  ragdeploy status --env staging\n  ragdeploy status --env staging -o json",
		Args:    cobra.NoArgs,
	}
	o.bindFlags(cmd)
	return runs(cmd, o)
}

func (o *releaseStatusOptions) Run(ctx context.Context) error {
	env, m, out := o.env, o.release, o.streams.Out
	st, err := statusOf(env, m)
	if err == nil && st.Revision > 0 {
		err = st.addDetail(ctx, env, m)
	}
	if err != nil {
		return err
	}
	if o.Output != "text" {
		return printObject(out, o.Output, st)
	}
	fmt.Fprintf(out, "Release:   %s/%s (environment %s)\n", st.Namespace, st.Release, st.Environment)
	if st.Revision == 0 {
		fmt.Fprintf(out, "Status:    not installed (hint: ragdeploy install --env %s)\n", env.Name)
		return nil
	}
	fmt.Fprintf(out, "Status:    revision %d %s\n", st.Revision, st.Status)
	for _, r := range st.Rollouts {
		fmt.Fprintf(out, "Rollout:   %s %s (%s): active %s, stable %s, ready %s", r.Name, r.Phase, r.State, orNone(r.ActiveColor), orNone(r.StableRevision), r.Ready)
		if r.Message != "" {
			fmt.Fprintf(out, " - %s", r.Message)
		}
		fmt.Fprintln(out)
	}
	fmt.Fprintf(out, "Drift:     %s\n", st.Drift)
	return nil
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

// historyOptions list a release's revisions.
type historyOptions struct{ releaseOptions }

func newHistoryCommand(streams Streams, kube *kubeOptions) *cobra.Command {
	o := &historyOptions{releaseOptions{kube: kube, streams: streams}}
	cmd := &cobra.Command{
		Use:     "history --env ENV",
		Short:   "List the revisions of an environment's release, oldest first",
		Example: "  ragdeploy history --env staging\n  ragdeploy history --env staging -o json",
		Args:    cobra.NoArgs,
	}
	o.bindFlags(cmd)
	return runs(cmd, o)
}

func (o *historyOptions) Run(context.Context) error {
	revs, err := o.release.History()
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
		return printObject(o.streams.Out, o.Output, entries)
	}
	w := tabwriter.NewWriter(o.streams.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "REVISION\tSTATUS\tDESCRIPTION")
	for _, e := range entries {
		fmt.Fprintf(w, "%d\t%s\t%s\n", e.Revision, e.Status, e.Description)
	}
	return w.Flush()
}

// listOptions list every environment's release.
type listOptions struct {
	kube        *kubeOptions
	streams     Streams
	dir, output string
	// files are the environment files found (Complete).
	filesDir string
	names    []string
}

func newListCommand(streams Streams, kube *kubeOptions) *cobra.Command {
	o := &listOptions{kube: kube, streams: streams}
	cmd := &cobra.Command{
		Use:     "list",
		Short:   "List every environment's release on the cluster: namespace, revision and status",
		Example: "  ragdeploy list\n  ragdeploy list -o json",
		Args:    cobra.NoArgs,
	}
	bindEnvironmentsDir(cmd, &o.dir)
	bindOutput(cmd, &o.output)
	return runs(cmd, o)
}

func (o *listOptions) Complete(*cobra.Command, []string) error {
	var err error
	o.filesDir, o.names, err = environmentFiles(o.dir)
	return err
}

func (o *listOptions) Validate() error { return validateOutput(o.output) }

func (o *listOptions) Run(context.Context) error {
	entries := []*releaseStatus{}
	for _, name := range o.names {
		env, err := envconfig.Load(filepath.Join(o.filesDir, name+".yaml"))
		if err != nil {
			return fmt.Errorf("%w (hint: ragdeploy env list shows every file's state)", err)
		}
		m, err := release.NewManager(release.TargetOf(env, o.kube.Kubeconfig, o.kube.Context))
		if err != nil {
			return err
		}
		st, err := statusOf(env, m)
		if err != nil {
			return err
		}
		entries = append(entries, st)
	}
	if o.output != "text" {
		return printObject(o.streams.Out, o.output, entries)
	}
	w := tabwriter.NewWriter(o.streams.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "ENVIRONMENT\tNAMESPACE\tRELEASE\tREVISION\tSTATUS")
	for _, e := range entries {
		rev := "-"
		if e.Revision > 0 {
			rev = fmt.Sprint(e.Revision)
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", e.Environment, e.Namespace, e.Release, rev, e.Status)
	}
	return w.Flush()
}
