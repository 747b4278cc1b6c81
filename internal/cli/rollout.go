package cli

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/agentic-rag/ragdeploy/api/v1alpha1"
	"github.com/agentic-rag/ragdeploy/internal/bluegreen"
	"github.com/agentic-rag/ragdeploy/internal/envconfig"
	"github.com/agentic-rag/ragdeploy/internal/release"
)

// rolloutOptions are shared by the rollout subcommands.
type rolloutOptions struct {
	kube    *kubeOptions
	streams Streams
	Name    string
	// Env and Dir select an environment: its rollout (when no NAME is
	// given), its namespace, and its policy for commands that change what
	// runs (set-image, undo).
	Env, Dir  string
	env       *envconfig.Environment
	namespace string
	client    client.Client
	rollouts  bluegreen.Rollouts
}

// Complete names the rollout and its namespace, without the cluster: NAME
// in --namespace, or with --env the environment's namespace (and, when NAME
// is not given, the environment's rollout, which connect looks up).
func (o *rolloutOptions) Complete(_ *cobra.Command, args []string) error {
	if len(args) > 0 {
		o.Name = args[0]
	}
	if o.Env == "" {
		ns, err := o.kube.namespace()
		if err != nil {
			return err
		}
		o.namespace = ns
		return nil
	}
	env, err := loadEnvironment(o.Dir, o.Env)
	if err != nil {
		return err
	}
	if err := o.kube.agreesWith(env, o.Env); err != nil {
		return err
	}
	o.env, o.namespace = env, env.Release.Namespace
	return nil
}

func (o *rolloutOptions) Validate() error {
	if o.Env == "" && o.Name == "" {
		return errors.New("name a rollout, or pass --env to take the environment's (hint: ragdeploy rollout list)")
	}
	return nil
}

// connect connects to the cluster and, when no NAME was given, finds the
// one rollout of the environment's release there (get does it first).
func (o *rolloutOptions) connect(ctx context.Context) error {
	var err error
	if o.client, err = o.kube.client(); err != nil {
		return err
	}
	o.rollouts = bluegreen.Rollouts{Client: o.client}
	if o.Name == "" {
		o.Name, err = o.releaseRollout(ctx)
	}
	return err
}

// releaseRollout is the name of the one rollout of the environment's
// release (Helm's ownership annotations) in its namespace.
func (o *rolloutOptions) releaseRollout(ctx context.Context) (string, error) {
	rollouts, err := release.RolloutsOf(ctx, o.client, release.Target{Namespace: o.namespace, Name: o.env.Release.Name})
	if err != nil {
		return "", release.ExplainKubeconfig(err, o.kube.Kubeconfig)
	}
	var names []string
	for _, b := range rollouts {
		names = append(names, b.Name)
	}
	switch len(names) {
	case 1:
		return names[0], nil
	case 0:
		return "", fmt.Errorf("release %s/%s of --env %s has no rollout (is it installed, with api.strategy blueGreen? hint: ragdeploy status --env %s)", o.namespace, o.env.Release.Name, o.Env, o.Env)
	}
	return "", fmt.Errorf("release %s/%s has %d rollouts (%s): name one", o.namespace, o.env.Release.Name, len(names), strings.Join(names, ", "))
}

func (o *rolloutOptions) key() types.NamespacedName {
	return types.NamespacedName{Namespace: o.namespace, Name: o.Name}
}

// get connects (once) and reads the Rollout, with a clear
// error when it is missing.
func (o *rolloutOptions) get(ctx context.Context) (*v1alpha1.Rollout, error) {
	if o.client == nil {
		if err := o.connect(ctx); err != nil {
			return nil, err
		}
	}
	return o.rollouts.Get(ctx, o.key())
}

// environment is the environment a rollout belongs to, for its policy:
// --env when given (complete took its namespace), else the
// environment file whose release the rollout is part of (Helm's release
// annotations), else nil (a rollout outside any environment).
func (o *rolloutOptions) environment(ctx context.Context, b *v1alpha1.Rollout) (*envconfig.Environment, error) {
	if o.env != nil {
		return o.env, nil
	}
	rel, ok := release.ReleaseOf(b)
	if !ok {
		return nil, nil
	}
	if dir, names, err := environmentFiles(o.Dir); err == nil {
		for _, name := range names {
			env, err := envconfig.Load(filepath.Join(dir, name+".yaml"))
			if err != nil {
				continue // another file's problems are not this command's
			}
			if env.Release.Name == rel.Name && env.Release.Namespace == rel.Namespace {
				return env, nil
			}
		}
	}
	// No environment file at hand: the policy the release was deployed
	// under, as ragdeploy stored it next to the release.
	policy, err := release.StoredPolicy(ctx, o.client, rel)
	if err != nil {
		return nil, fmt.Errorf("%w (hint: pass --env, or run inside the repository holding the environments)", err)
	}
	if policy == "" {
		return nil, nil
	}
	return &envconfig.Environment{Name: policy, Policy: policy, File: "release " + rel.String()}, nil
}

// checkImages checks every image a template would run against the rollout's
// environment policy (and that each is an image reference at all).
func (o *rolloutOptions) checkImages(ctx context.Context, b *v1alpha1.Rollout, tmpl *corev1.PodTemplateSpec) error {
	env, err := o.environment(ctx, b)
	if err != nil {
		return err
	}
	containers := field.NewPath("spec", "template", "spec", "containers")
	for i, c := range tmpl.Spec.Containers {
		if err := envconfig.ParseImage(c.Image); err != nil {
			return fmt.Errorf("container %s: %w", c.Name, err)
		}
		if env != nil {
			where := fmt.Sprintf("Rollout %s container %s", b.Name, c.Name)
			if err := env.CheckImage(c.Image, containers.Index(i).Child("image"), where); err != nil {
				return err
			}
		}
	}
	return nil
}

// bindEnvFlags adds --env and --environments-dir to a rollout command.
func (o *rolloutOptions) bindEnvFlags(cmd *cobra.Command) {
	bindEnv(cmd, &o.Env, &o.Dir, envOfRollout)
}

func newRolloutCommand(streams Streams, kube *kubeOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "rollout",
		Short: "Inspect and steer rollouts, blue-green and canary (list, status, promote, abort, retry, undo, set-image, history)",
	}
	cmd.AddCommand(
		newRolloutListCommand(streams, kube),
		newRolloutStatusCommand(streams, kube),
		newRolloutHistoryCommand(streams, kube),
		newRolloutPromoteCommand(streams, kube),
		newRolloutActionCommand(streams, kube, "abort", "Abort the rollout in progress: traffic stays on (or returns to) the stable color", abort),
		newRolloutActionCommand(streams, kube, "retry", "Roll out the aborted revision again", retry),
		newRolloutUndoCommand(streams, kube),
		newRolloutSetImageCommand(streams, kube),
	)
	return cmd
}

// rolloutListOptions list rollouts.
type rolloutListOptions struct {
	kube    *kubeOptions
	streams Streams
	all     bool
	output  string
}

func newRolloutListCommand(streams Streams, kube *kubeOptions) *cobra.Command {
	o := &rolloutListOptions{kube: kube, streams: streams}
	cmd := &cobra.Command{
		Use:     "list",
		Short:   "List the rollouts in a namespace (or every namespace with -A): phase, state, colors, readiness",
		Example: "  ragdeploy rollout list -n agentic-rag-staging\n  ragdeploy rollout list -A -o json",
		Args:    cobra.NoArgs,
	}
	cmd.Flags().BoolVarP(&o.all, "all-namespaces", "A", false, "list the rollouts of every namespace")
	bindOutput(cmd, &o.output)
	return runs(cmd, o)
}

func (o *rolloutListOptions) Complete(*cobra.Command, []string) error { return nil }

func (o *rolloutListOptions) Validate() error { return validateOutput(o.output) }

func (o *rolloutListOptions) Run(ctx context.Context) error {
	var opts []client.ListOption
	if !o.all {
		ns, err := o.kube.namespace()
		if err != nil {
			return err
		}
		opts = append(opts, client.InNamespace(ns))
	}
	c, err := o.kube.client()
	if err != nil {
		return err
	}
	var list v1alpha1.RolloutList
	if err := c.List(ctx, &list, opts...); err != nil {
		return release.ExplainKubeconfig(err, o.kube.Kubeconfig)
	}
	slices.SortFunc(list.Items, func(a, b v1alpha1.Rollout) int {
		return cmp.Or(cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Name, b.Name))
	})
	entries := []rolloutSummary{}
	for i := range list.Items {
		entries = append(entries, summaryOf(&list.Items[i]))
	}
	if o.output != "text" {
		return printObject(o.streams.Out, o.output, entries)
	}
	if len(entries) == 0 {
		fmt.Fprintln(o.streams.ErrOut, "No rollouts found.")
		return nil
	}
	w := tabwriter.NewWriter(o.streams.Out, 0, 4, 2, ' ', 0)
	ns := func(rolloutSummary) string { return "" }
	if o.all {
		fmt.Fprint(w, "NAMESPACE\t")
		ns = func(e rolloutSummary) string { return e.Namespace + "\t" }
	}
	fmt.Fprintln(w, "NAME\tPHASE\tSTATE\tACTIVE\tSTABLE\tREADY")
	for _, e := range entries {
		fmt.Fprintf(w, "%s%s\t%s\t%s\t%s\t%s\t%s\n", ns(e), e.Name, orNone(e.Phase), e.State, orNone(e.ActiveColor), orNone(e.StableRevision), e.Ready)
	}
	return w.Flush()
}

// rolloutAction is one of promote, abort, retry.
type rolloutAction func(ctx context.Context, o *rolloutOptions, b *v1alpha1.Rollout) (string, error)

// rolloutActionOptions run promote, abort or retry.
type rolloutActionOptions struct {
	rolloutOptions
	act rolloutAction
}

func newRolloutActionCommand(streams Streams, kube *kubeOptions, use, short string, act rolloutAction) *cobra.Command {
	o := &rolloutActionOptions{rolloutOptions: rolloutOptions{kube: kube, streams: streams}, act: act}
	cmd := &cobra.Command{
		Use:               use + " [NAME]",
		Example:           "  ragdeploy rollout " + use + " --env staging\n  ragdeploy rollout " + use + " agentic-rag-api -n agentic-rag-staging",
		Short:             short,
		Args:              cobra.MaximumNArgs(1),
		ValidArgsFunction: kube.completeRollouts,
	}
	o.bindEnvFlags(cmd)
	return runs(cmd, o)
}

func (o *rolloutActionOptions) Run(ctx context.Context) error {
	b, err := o.get(ctx)
	if err != nil {
		return err
	}
	msg, err := o.act(ctx, &o.rolloutOptions, b)
	if err != nil {
		return err
	}
	fmt.Fprintln(o.streams.Out, msg)
	return nil
}

// newRolloutPromoteCommand: blue-green switches once ready and checked; a
// canary goes on past the pause it waits at, or with --full skips the
// steps left.
func newRolloutPromoteCommand(streams Streams, kube *kubeOptions) *cobra.Command {
	full := false
	cmd := newRolloutActionCommand(streams, kube, "promote", "Promote the revision in flight: switch a blue-green one, release a canary's pause (--full: skip its steps)",
		func(ctx context.Context, o *rolloutOptions, b *v1alpha1.Rollout) (string, error) {
			if full {
				return promoteFull(ctx, o, b)
			}
			return promote(ctx, o, b)
		})
	cmd.Flags().BoolVar(&full, "full", false, "promote a canary at once, without the steps and pauses left")
	return cmd
}

func promote(ctx context.Context, o *rolloutOptions, b *v1alpha1.Rollout) (string, error) {
	return promoted(b)(o.rollouts.Promote(ctx, b))
}

func promoteFull(ctx context.Context, o *rolloutOptions, b *v1alpha1.Rollout) (string, error) {
	return promoted(b)(o.rollouts.PromoteFull(ctx, b))
}

// promoted says what a promotion of b released.
func promoted(b *v1alpha1.Rollout) func(bluegreen.Promotion, error) (string, error) {
	return func(p bluegreen.Promotion, err error) (string, error) {
		switch {
		case err != nil:
			return "", err
		case p.Step != nil:
			return fmt.Sprintf("%s: revision %s goes on past step %d/%d", b.Name, p.Revision, *p.Step+1, len(bluegreen.StepsOf(&b.Spec))), nil
		default:
			return fmt.Sprintf("%s: revision %s will be promoted once it is ready and its checks pass", b.Name, p.Revision), nil
		}
	}
}

func abort(ctx context.Context, o *rolloutOptions, b *v1alpha1.Rollout) (string, error) {
	rev, err := o.rollouts.Abort(ctx, b, "aborted with `ragdeploy rollout abort`")
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%s: revision %s aborted; traffic stays on the stable color %s", b.Name, rev, b.Status.StableColor), nil
}

func retry(ctx context.Context, o *rolloutOptions, b *v1alpha1.Rollout) (string, error) {
	rev, err := o.rollouts.Retry(ctx, b)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%s: retrying revision %s", b.Name, rev), nil
}

// undoOptions return to an earlier revision.
type undoOptions struct {
	rolloutOptions
	ToRevision string
}

func newRolloutUndoCommand(streams Streams, kube *kubeOptions) *cobra.Command {
	o := &undoOptions{rolloutOptions: rolloutOptions{kube: kube, streams: streams}}
	cmd := &cobra.Command{
		Use:               "undo [NAME]",
		Example:           "  ragdeploy rollout undo --env staging\n  ragdeploy rollout undo agentic-rag-api -n agentic-rag-staging --to-revision 5d8f9c7b",
		Short:             "Go back to the previous (or a given) revision; instant while the old color is still warm",
		Args:              cobra.MaximumNArgs(1),
		ValidArgsFunction: kube.completeRollouts,
	}
	cmd.Flags().StringVar(&o.ToRevision, "to-revision", "", "revision to return to, as ragdeploy rollout history lists them (default: the previous one)")
	o.bindEnvFlags(cmd)
	return runs(cmd, o)
}

func (o *undoOptions) Run(ctx context.Context) error {
	b, err := o.get(ctx)
	if err != nil {
		return err
	}
	target := o.ToRevision
	if target == "" {
		if target, err = previousRevision(b); err != nil {
			return err
		}
	}
	tmpl, err := bluegreen.StoredTemplate(ctx, o.client, o.namespace, o.Name, target)
	if err != nil {
		return fmt.Errorf("%w; known revisions: %s", err, strings.Join(knownRevisions(b), ", "))
	}
	if err := o.checkImages(ctx, b, tmpl); err != nil {
		return err
	}
	mutated := b.DeepCopy()
	mutated.Spec.Template = *tmpl
	if err := o.rollouts.Patch(ctx, b, mutated, []bluegreen.PatchOp{{Op: "replace", Path: "/spec/template", Value: tmpl}}); err != nil {
		return err
	}
	fmt.Fprintf(o.streams.Out, "%s: rolling back to revision %s\n", o.Name, target)
	return nil
}

// previousRevision is the stable revision while a rollout is in flight,
// else the newest earlier revision that was promoted.
func previousRevision(b *v1alpha1.Rollout) (string, error) {
	current := bluegreen.TemplateRevision(&b.Spec.Template)
	if current != b.Status.StableRevision && b.Status.StableRevision != "" {
		return b.Status.StableRevision, nil
	}
	for _, h := range b.Status.History {
		if h.Revision != current && h.PromotedAt != nil {
			return h.Revision, nil
		}
	}
	return "", errors.New("no earlier promoted revision to return to")
}

// knownRevisions are the history's revisions, newest first, each once.
func knownRevisions(b *v1alpha1.Rollout) []string {
	var out []string
	for _, h := range b.Status.History {
		if !slices.Contains(out, h.Revision) {
			out = append(out, h.Revision)
		}
	}
	return out
}

// setImageOptions change container images.
type setImageOptions struct {
	rolloutOptions
	images map[string]string
}

func newRolloutSetImageCommand(streams Streams, kube *kubeOptions) *cobra.Command {
	o := &setImageOptions{rolloutOptions: rolloutOptions{kube: kube, streams: streams}}
	cmd := &cobra.Command{
		Use:     "set-image [NAME] CONTAINER=IMAGE [CONTAINER=IMAGE...]",
		Example: "  ragdeploy rollout set-image --env staging api=agentic-rag/api:1.2.0\n  ragdeploy rollout set-image agentic-rag-api api=agentic-rag/api:1.2.0 -n agentic-rag-staging",
		Short:   "Change container images, starting a blue-green rollout",
		Long: "Changes only the named containers' images (a patch: no other field is touched).\n" +
			"Each image must be a valid reference and meet the policy of the rollout's\n" +
			"environment (--env, else the one whose release it belongs to); otherwise\n" +
			"nothing changes.",
		Args:              cobra.ArbitraryArgs,
		ValidArgsFunction: kube.completeRollouts,
	}
	o.bindEnvFlags(cmd)
	return runs(cmd, o)
}

// Complete splits NAME (optional with --env: the first CONTAINER=IMAGE has
// an "=") from the images and reads them.
func (o *setImageOptions) Complete(cmd *cobra.Command, args []string) error {
	var name []string
	if len(args) > 0 && !strings.Contains(args[0], "=") {
		name, args = args[:1], args[1:]
	}
	if len(args) == 0 {
		return errors.New("name at least one CONTAINER=IMAGE, e.g. api=agentic-rag/api:2.0.0")
	}
	var err error
	if o.images, err = parseImages(args); err != nil {
		return err
	}
	return o.rolloutOptions.Complete(cmd, name)
}

func (o *setImageOptions) Run(ctx context.Context) error {
	b, err := o.get(ctx)
	if err != nil {
		return err
	}
	mutated, ops, err := bluegreen.SetImages(b, o.images)
	if err != nil {
		return err
	}
	if err := o.checkImages(ctx, b, &mutated.Spec.Template); err != nil {
		return err
	}
	if err := o.rollouts.Patch(ctx, b, mutated, ops); err != nil {
		return err
	}
	fmt.Fprintf(o.streams.Out, "%s: rolling out revision %s\n", o.Name, bluegreen.TemplateRevision(&mutated.Spec.Template))
	return nil
}

// parseImages reads CONTAINER=IMAGE arguments; each image must be a reference.
func parseImages(args []string) (map[string]string, error) {
	images := map[string]string{}
	for _, a := range args {
		name, image, ok := strings.Cut(a, "=")
		if !ok || name == "" || image == "" {
			return nil, fmt.Errorf("argument %q: want CONTAINER=IMAGE, e.g. api=agentic-rag/api:2.0.0", a)
		}
		if err := envconfig.ParseImage(image); err != nil {
			return nil, fmt.Errorf("argument %q: %w (hint: e.g. api=agentic-rag/api:2.0.0)", a, err)
		}
		images[name] = image
	}
	return images, nil
}
