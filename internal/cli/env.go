package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/agentic-rag/ragdeploy/internal/drift"
	"github.com/agentic-rag/ragdeploy/internal/envconfig"
	"github.com/agentic-rag/ragdeploy/internal/objects"
	"github.com/agentic-rag/ragdeploy/internal/release"
)

// envOptions select an environment and its overrides; every environment
// command embeds them.
type envOptions struct {
	kube    *kubeOptions
	streams Streams
	Env     string
	Dir     string
	Sets    []string

	plan   *release.Plan
	target release.Target
	// release runs the release verbs (set by connect).
	release *release.Manager
}

// bindFlags adds --env (required) and --environments-dir.
func (o *envOptions) bindFlags(cmd *cobra.Command) {
	bindEnv(cmd, &o.Env, &o.Dir, envRequired)
}

// bindFlagsWithSets is bindFlags plus --set, for commands that render.
func (o *envOptions) bindFlagsWithSets(cmd *cobra.Command) {
	o.bindFlags(cmd)
	cmd.Flags().StringArrayVar(&o.Sets, "set", nil, "override a value (a.b=c); applied after the environment file")
}

// Complete loads, validates and prepares the environment.
func (o *envOptions) Complete(cmd *cobra.Command, _ []string) error {
	return o.complete(cmd.Context())
}

// Validate has nothing to add to what Complete checked; commands with
// flags of their own check them in theirs.
func (o *envOptions) Validate() error { return nil }

// complete loads, validates and prepares the environment; nothing touches
// a cluster yet.
func (o *envOptions) complete(ctx context.Context) error {
	env, err := loadEnvironment(o.Dir, o.Env)
	if err != nil {
		return err
	}
	if err := o.kube.agreesWith(env, o.Env); err != nil {
		return err
	}
	if o.plan, err = release.Prepare(ctx, env, o.Sets); err != nil {
		return err
	}
	o.target = o.plan.Target(o.kube.Kubeconfig, o.kube.Context)
	return nil
}

// clusterEnvOptions are envOptions for the commands that work on the
// release in its cluster: once their input is valid, they connect.
type clusterEnvOptions struct{ envOptions }

func newClusterEnvOptions(kube *kubeOptions, streams Streams) clusterEnvOptions {
	return clusterEnvOptions{envOptions{kube: kube, streams: streams}}
}

// Connect makes the connection to the release's cluster that the
// command's release verbs share.
func (o *clusterEnvOptions) Connect(context.Context) error {
	m, err := release.NewManager(o.target)
	if err != nil {
		return err
	}
	o.release = m
	return nil
}

// agreesWith checks that --namespace, when given, is the namespace the
// environment named by --env deploys to.
func (k *kubeOptions) agreesWith(env *envconfig.Environment, name string) error {
	if k.Namespace != "" && k.Namespace != env.Release.Namespace {
		return fmt.Errorf("--namespace %s, but --env %s deploys to namespace %s (hint: drop one of them)", k.Namespace, name, env.Release.Namespace)
	}
	return nil
}

// reportVerbs say what a report's states mean in a command's context.
type reportVerbs struct {
	drifted, missing, removed string
}

var (
	diffVerbs  = reportVerbs{drifted: "changes", missing: "will be created", removed: "will be deleted"}
	driftVerbs = reportVerbs{drifted: "drifted", missing: "missing from the cluster"}
)

// printReport writes a report per object and field. Values are shown as
// compact JSON; Secret values arrive here already as fingerprints.
// changeSet is a report's objects and the removed ones, as -o json/yaml
// prints them (empty lists as []).
type changeSet struct {
	Checked int            `json:"checked"`
	Objects []drift.Object `json:"objects"`
	Removed []string       `json:"removed"`
}

func changeSetOf(r *drift.Report, removed []objects.Ref) changeSet {
	cs := changeSet{Checked: r.Checked, Objects: append([]drift.Object{}, r.Objects...), Removed: []string{}}
	for _, ref := range removed {
		cs.Removed = append(cs.Removed, ref.String())
	}
	return cs
}

// bindOutput adds -o/--output (text, json or yaml).
func bindOutput(cmd *cobra.Command, output *string) {
	bindFormat(cmd, output, "text", "json", "yaml")
}

// bindFormat adds -o/--output taking one of formats (the first is the
// default), completed with them.
func bindFormat(cmd *cobra.Command, output *string, formats ...string) {
	cmd.Flags().StringVarP(output, "output", "o", formats[0], strings.Join(formats[:len(formats)-1], ", ")+" or "+formats[len(formats)-1])
	_ = cmd.RegisterFlagCompletionFunc("output", cobra.FixedCompletions(formats, cobra.ShellCompDirectiveNoFileComp))
}

func printReport(w io.Writer, r *drift.Report, removed []objects.Ref, verbs reportVerbs) {
	for _, o := range r.Objects {
		if o.State == drift.Missing {
			fmt.Fprintf(w, "+ %s (%s)\n", o.Object, verbs.missing)
			continue
		}
		fmt.Fprintf(w, "~ %s (%s)\n", o.Object, verbs.drifted)
		for _, c := range o.Changes {
			fmt.Fprintf(w, "    %s: %s -> %s\n", c.Path, short(c.Live), short(c.Desired))
		}
	}
	for _, ref := range removed {
		fmt.Fprintf(w, "- %s (%s)\n", ref, verbs.removed)
	}
}

func short(v any) string {
	if v == nil {
		return "(none)"
	}
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	if s := string(data); len(s) <= 100 {
		return s
	} else {
		return s[:97] + "..."
	}
}

// bindEnvironmentsDir adds --environments-dir (default: found upward).
func bindEnvironmentsDir(cmd *cobra.Command, dir *string) {
	cmd.Flags().StringVar(dir, "environments-dir", "", "directory of the environment files (default: the nearest environments/ at or above the working directory)")
}

// envFlag is what --env means on a command.
type envFlag struct {
	usage    string
	required bool
}

var (
	envRequired  = envFlag{required: true, usage: "environment: a name in the environments directory (development, staging, production) or a file"}
	envOfRollout = envFlag{usage: "environment: its release's rollout (when NAME is not given), its namespace and its policy (default policy: that of the release the rollout belongs to)"}
)

// bindEnv adds -e/--env and --environments-dir, and completes --env with
// the environments' names.
func bindEnv(cmd *cobra.Command, env, dir *string, f envFlag) {
	cmd.Flags().StringVarP(env, "env", "e", "", f.usage)
	bindEnvironmentsDir(cmd, dir)
	if f.required {
		_ = cmd.MarkFlagRequired("env")
	}
	_ = cmd.RegisterFlagCompletionFunc("env", func(*cobra.Command, []string, string) ([]cobra.Completion, cobra.ShellCompDirective) {
		_, names, err := environmentFiles(*dir)
		if err != nil {
			return nil, cobra.ShellCompDirectiveDefault // a file, then
		}
		return names, cobra.ShellCompDirectiveNoFileComp
	})
}
