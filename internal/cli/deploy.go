package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/agentic-rag/ragdeploy/internal/drift"
	"github.com/agentic-rag/ragdeploy/internal/objects"
	"github.com/agentic-rag/ragdeploy/internal/release"
)

// Exit code of diff and drift when there is something to report.
const exitDifferences = 2

// deployOptions are install's and upgrade's.
type deployOptions struct {
	clusterEnvOptions
	DryRun  string
	Timeout time.Duration
	Output  string
}

// deployResult is what install and upgrade print with -o json or yaml.
type deployResult struct {
	Release     string    `json:"release"`
	Namespace   string    `json:"namespace"`
	Environment string    `json:"environment"`
	Revision    int       `json:"revision"`
	Installed   bool      `json:"installed"`
	DryRun      bool      `json:"dryRun"`
	Changes     changeSet `json:"changes"`
	Seconds     float64   `json:"seconds"`
}

// deployVerb is install or upgrade: one command, each refusing what the
// other is for.
type deployVerb struct {
	name, short, example string
	// installs: the release must not exist yet (install); otherwise it must.
	installs bool
}

var (
	verbInstall = deployVerb{name: "install", short: "Install an environment as a Helm release and wait until it is ready", installs: true,
		example: "  ragdeploy install --env development                  # credentials generated on first install\n  ragdeploy install --env staging --dry-run=server     # everything checked, nothing changed"}
	verbUpgrade = deployVerb{name: "upgrade", short: "Upgrade an environment's release and wait until it is ready",
		example: "  ragdeploy upgrade --env staging\n  ragdeploy upgrade --env staging --set api.image.tag=1.2.0"}
)

func newInstallCommand(streams Streams, kube *kubeOptions) *cobra.Command {
	return newDeployCommand(streams, kube, verbInstall)
}

func newUpgradeCommand(streams Streams, kube *kubeOptions) *cobra.Command {
	return newDeployCommand(streams, kube, verbUpgrade)
}

// upgradeOptions install or upgrade an environment's release.
type upgradeOptions struct {
	deployOptions
	verb deployVerb
}

func newDeployCommand(streams Streams, kube *kubeOptions, v deployVerb) *cobra.Command {
	o := &upgradeOptions{deployOptions: deployOptions{clusterEnvOptions: newClusterEnvOptions(kube, streams)}, verb: v}
	cmd := &cobra.Command{
		Use:     v.name + " --env ENV",
		Example: v.example,
		Short:   v.short,
		Long: v.short + ".\n\nThe environment is validated and its secrets decrypted before the cluster is\n" +
			"contacted. The command prints what will change, applies the environment's Secrets\n" +
			"and the chart (server-side apply, a real Helm release), then follows every object\n" +
			"until it is ready, blue-green rollouts included. --dry-run=server sends it all as\n" +
			"a server-side dry run and changes nothing.",
		Args: cobra.NoArgs,
	}
	o.bindFlagsWithSets(cmd)
	o.bindDeployFlags(cmd)
	return runs(cmd, o)
}

func (o *upgradeOptions) Run(ctx context.Context) error {
	prev, err := o.release.Deployed()
	if err != nil {
		return err
	}
	switch {
	case o.verb.installs && prev != nil:
		return fmt.Errorf("release %s is already installed at revision %d (hint: ragdeploy upgrade --env %s)", o.target, prev.Number, o.Env)
	case !o.verb.installs && prev == nil:
		return installHint(&release.NotInstalledError{Target: o.target}, o.Env)
	}
	return o.apply(ctx, o.verb.name, "")
}

// rollbackOptions deploy an earlier revision of a release again.
type rollbackOptions struct {
	deployOptions
	// revision to return to; 0: the one deployed before.
	revision int
}

func newRollbackCommand(streams Streams, kube *kubeOptions) *cobra.Command {
	o := &rollbackOptions{deployOptions: deployOptions{clusterEnvOptions: newClusterEnvOptions(kube, streams)}}
	short := "Roll an environment's release back to an earlier revision (default: the one deployed before) and wait until it is ready"
	cmd := &cobra.Command{
		Use:     "rollback --env ENV [REVISION]",
		Example: "  ragdeploy rollback --env staging\n  ragdeploy rollback --env staging 3 --dry-run=server",
		Short:   short,
		Long: short + ".\n\nLike helm rollback, it deploys the chart and values that REVISION was deployed\n" +
			"with as a new revision; unlike it, that goes through everything upgrade does:\n" +
			"the environment's validation and policy, its Secrets, the live color kept in\n" +
			"the Service selectors (the rollout switches back blue-green), the undo of a\n" +
			"failed apply, and the wait. Without REVISION: the newest revision before the\n" +
			"deployed one that was itself deployed (failed revisions are skipped).",
		Args: cobra.MaximumNArgs(1),
	}
	o.bindFlags(cmd)
	o.bindDeployFlags(cmd)
	return runs(cmd, o)
}

func (o *rollbackOptions) Complete(cmd *cobra.Command, args []string) error {
	if len(args) == 1 {
		n, err := strconv.Atoi(args[0])
		if err != nil || n < 1 {
			return fmt.Errorf("REVISION %q: want a revision number as ragdeploy history lists them", args[0])
		}
		o.revision = n
	}
	return o.deployOptions.Complete(cmd, args)
}

func (o *rollbackOptions) Run(ctx context.Context) error {
	plan, to, err := o.release.RollbackPlan(ctx, o.plan, o.revision)
	if err != nil {
		return installHint(err, o.Env)
	}
	o.plan = plan
	return o.apply(ctx, fmt.Sprintf("rollback to revision %d of", to), fmt.Sprintf("Rollback to %d", to))
}

// bindDeployFlags adds --dry-run, --timeout and -o.
func (o *deployOptions) bindDeployFlags(cmd *cobra.Command) {
	cmd.Flags().StringVar(&o.DryRun, "dry-run", "", "server: validate everything on the API server and change nothing")
	cmd.Flags().Lookup("dry-run").NoOptDefVal = "server"
	cmd.Flags().DurationVar(&o.Timeout, "timeout", 10*time.Minute, "how long to wait for readiness")
	bindOutput(cmd, &o.Output)
}

func (o *deployOptions) Validate() error {
	if o.DryRun != "" && o.DryRun != "none" && o.DryRun != "server" {
		return fmt.Errorf("--dry-run: %q is not one of none, server", o.DryRun)
	}
	if o.Timeout <= 0 {
		return errors.New("--timeout must be positive")
	}
	return validateOutput(o.Output)
}

// apply applies o.plan (Manager.Upgrade) as a new revision described by
// description ("": Helm's own), printing what changes, the
// progress and the outcome; with -o json or yaml stdout carries the
// result alone and the human account goes to stderr.
func (o *deployOptions) apply(ctx context.Context, what, description string) error {
	human := o.streams.Out
	if o.Output != "text" {
		human = o.streams.ErrOut
	}
	start := time.Now()
	fmt.Fprintf(human, "%s %s (environment %s, policy %s)\n", what, o.target, o.plan.Env.Name, o.plan.Env.PolicyName())
	var changes changeSet
	res, err := o.release.Upgrade(ctx, o.plan, release.Options{
		DryRun: o.DryRun == "server", Timeout: o.Timeout, Progress: human, View: progressView(human), Description: description,
		OnChanges: func(report *drift.Report, removed []objects.Ref) {
			changes = changeSetOf(report, removed)
			fmt.Fprintf(human, "changes (%d of %d objects):\n", len(report.Objects)+len(removed), report.Checked)
			printReport(human, report, removed, diffVerbs)
			fmt.Fprintln(human, "progress:")
		},
	})
	if err != nil {
		return err
	}
	if o.DryRun == "server" {
		fmt.Fprintf(human, "server-side dry run of %s revision %d passed; nothing was changed\n", o.target, res.Revision)
	} else {
		fmt.Fprintf(human, "release %s revision %d ready in %.1fs\n", o.target, res.Revision, time.Since(start).Seconds())
	}
	if o.Output == "text" {
		return nil
	}
	return printObject(o.streams.Out, o.Output, deployResult{
		Release: o.target.Name, Namespace: o.target.Namespace, Environment: o.plan.Env.Name, Revision: res.Revision,
		Installed: res.Installed, DryRun: o.DryRun == "server", Changes: changes, Seconds: time.Since(start).Seconds(),
	})
}

// diffOptions show what an upgrade would change.
type diffOptions struct {
	clusterEnvOptions
	output string
}

func newDiffCommand(streams Streams, kube *kubeOptions) *cobra.Command {
	o := &diffOptions{clusterEnvOptions: newClusterEnvOptions(kube, streams)}
	cmd := &cobra.Command{
		Use:     "diff --env ENV",
		Example: "  ragdeploy diff --env staging\n  ragdeploy diff --env staging --set api.image.tag=1.2.0",
		Short:   "Show what an upgrade would change; exit 0 when nothing, 2 when something",
		Long: "Computes the upgrade with server-side dry-run apply against the live cluster and\n" +
			"prints each object and field that would change, be created or be deleted.\n" +
			"Secret values are shown as fingerprints.",
		Args: cobra.NoArgs,
	}
	o.bindFlagsWithSets(cmd)
	bindOutput(cmd, &o.output)
	return runs(cmd, o)
}

func (o *diffOptions) Validate() error { return validateOutput(o.output) }

func (o *diffOptions) Run(ctx context.Context) error {
	report, removed, err := o.release.Diff(ctx, o.plan)
	if err != nil {
		return err
	}
	clean := report.Clean() && len(removed) == 0
	switch {
	case o.output != "text":
		if err := printObject(o.streams.Out, o.output, struct {
			Release   string `json:"release"`
			Namespace string `json:"namespace"`
			changeSet `json:",inline"`
		}{o.target.Name, o.target.Namespace, changeSetOf(report, removed)}); err != nil {
			return err
		}
	case clean:
		fmt.Fprintf(o.streams.Out, "%s: no changes (%d objects compared)\n", o.target, report.Checked)
	default:
		printReport(o.streams.Out, report, removed, diffVerbs)
	}
	if clean {
		return nil
	}
	return found("%s: %d objects would change", o.target, len(report.Objects)+len(removed))
}

// installHint adds how to install to an error saying that env's release
// is not installed; other errors are returned as they are.
func installHint(err error, env string) error {
	if ni := (*release.NotInstalledError)(nil); errors.As(err, &ni) {
		return fmt.Errorf("%w (hint: ragdeploy install --env %s)", err, env)
	}
	return err
}

// uninstallOptions remove an environment's release.
type uninstallOptions struct {
	clusterEnvOptions
	purge           bool
	confirm, output string
	timeout         time.Duration
}

func newUninstallCommand(streams Streams, kube *kubeOptions) *cobra.Command {
	o := &uninstallOptions{clusterEnvOptions: newClusterEnvOptions(kube, streams)}
	cmd := &cobra.Command{
		Use:     "uninstall --env ENV",
		Example: "  ragdeploy uninstall --env development              # volumes and Secrets stay\n  ragdeploy uninstall --env development --purge-data   # and deletes them (asks first)",
		Short:   "Remove an environment's release; data (volumes, Secrets) stays unless --purge-data",
		Args:    cobra.NoArgs,
	}
	o.bindFlags(cmd)
	cmd.Flags().BoolVar(&o.purge, "purge-data", false, "also delete the PersistentVolumeClaims and the environment's Secrets")
	cmd.Flags().StringVar(&o.confirm, "confirm", "", "with --purge-data: the namespace, instead of typing it")
	cmd.Flags().DurationVar(&o.timeout, "timeout", 5*time.Minute, "how long to wait for objects to be gone")
	bindOutput(cmd, &o.output)
	return runs(cmd, o)
}

func (o *uninstallOptions) Validate() error {
	if o.confirm != "" && !o.purge {
		return errors.New("--confirm only goes with --purge-data")
	}
	return validateOutput(o.output)
}

func (o *uninstallOptions) Run(ctx context.Context) error {
	if o.purge {
		data, err := o.release.Data(ctx, o.plan.Env.Name)
		if err != nil {
			return err
		}
		if o.confirm == "" {
			fmt.Fprintf(o.streams.Out, "--purge-data deletes %d PersistentVolumeClaims %v and %d Secrets %v in %s.\nType the namespace to confirm: ",
				len(data.PersistentVolumeClaims), data.PersistentVolumeClaims, len(data.Secrets), data.Secrets, o.target.Namespace)
			line, _ := bufio.NewReader(o.streams.In).ReadString('\n')
			o.confirm = strings.TrimSpace(line)
		}
		if o.confirm != o.target.Namespace {
			return fmt.Errorf("confirmation %q does not match namespace %s; nothing was deleted", o.confirm, o.target.Namespace)
		}
	}
	kept, err := o.release.Uninstall(ctx, o.plan.Env.Name, o.purge, o.timeout)
	if err != nil {
		return installHint(err, o.Env)
	}
	if o.output != "text" {
		return printObject(o.streams.Out, o.output, struct {
			Release   string `json:"release"`
			Namespace string `json:"namespace"`
			Purged    bool   `json:"purged"`
			*release.Kept
		}{o.target.Name, o.target.Namespace, o.purge, kept})
	}
	switch {
	case !kept.Uninstalled:
		fmt.Fprintf(o.streams.Out, "%s was not installed; deleted the %d PersistentVolumeClaims and %d Secrets it had kept\n", o.target, len(kept.PersistentVolumeClaims), len(kept.Secrets))
	case o.purge:
		fmt.Fprintf(o.streams.Out, "uninstalled %s; deleted %d PersistentVolumeClaims and %d Secrets\n", o.target, len(kept.PersistentVolumeClaims), len(kept.Secrets))
	default:
		fmt.Fprintf(o.streams.Out, "uninstalled %s; kept %d PersistentVolumeClaims %v and %d Secrets %v (delete them with --purge-data)\n",
			o.target, len(kept.PersistentVolumeClaims), kept.PersistentVolumeClaims, len(kept.Secrets), kept.Secrets)
	}
	return nil
}

// testOptions run the release's tests.
type testOptions struct {
	clusterEnvOptions
	timeout time.Duration
}

func newTestCommand(streams Streams, kube *kubeOptions) *cobra.Command {
	o := &testOptions{clusterEnvOptions: newClusterEnvOptions(kube, streams)}
	cmd := &cobra.Command{
		Use:     "test --env ENV",
		Example: "  ragdeploy test --env staging",
		Short:   "Run the release's tests (helm test) and wait for them",
		Args:    cobra.NoArgs,
	}
	o.bindFlags(cmd)
	cmd.Flags().DurationVar(&o.timeout, "timeout", 5*time.Minute, "how long to wait for the tests")
	return runs(cmd, o)
}

func (o *testOptions) Validate() error {
	if o.timeout <= 0 {
		return errors.New("--timeout must be positive")
	}
	return nil
}

func (o *testOptions) Run(context.Context) error {
	start := time.Now()
	if err := o.release.Test(o.timeout); err != nil {
		return err
	}
	fmt.Fprintf(o.streams.Out, "tests of %s passed in %.1fs\n", o.target, time.Since(start).Seconds())
	return nil
}
