package release

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"

	"helm.sh/helm/v4/pkg/action"
	chart "helm.sh/helm/v4/pkg/chart/v2"
	"helm.sh/helm/v4/pkg/kube"
	"helm.sh/helm/v4/pkg/postrenderer"
	ri "helm.sh/helm/v4/pkg/release"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/agentic-rag/ragdeploy/internal/drift"
	"github.com/agentic-rag/ragdeploy/internal/envconfig"
	"github.com/agentic-rag/ragdeploy/internal/objects"
	"github.com/agentic-rag/ragdeploy/internal/render"
)

// Options tune Upgrade.
type Options struct {
	// DryRun sends everything to the API server as a server-side dry run
	// and changes nothing.
	DryRun bool
	// Timeout bounds the wait for readiness (and Helm's hooks).
	Timeout time.Duration
	// Progress receives what the upgrade does (generated Secrets) and,
	// unless View is set, a line per object status change while waiting.
	Progress io.Writer
	// View shows the wait for readiness (default Lines(Progress)).
	View WaitView
	// OnChanges, when set, receives what the upgrade will change before
	// anything is applied.
	OnChanges func(changes *drift.Report, removed []objects.Ref)
	// Description is the new revision's, as history lists it (default
	// Helm's: "Install complete", "Upgrade complete").
	Description string
}

func (o Options) view() WaitView {
	if o.View != nil {
		return o.View
	}
	return Lines(o.Progress)
}

// Result says what an Upgrade did.
type Result struct {
	Installed bool
	Revision  int
	// Changes are the objects the upgrade changed or created, by field.
	Changes *drift.Report
	// Removed are objects of the previous revision the new one drops.
	Removed []objects.Ref
}

// Upgrade installs the plan's release, or upgrades it when it exists:
// checks the Secrets the chart reads, sends every object to the API server
// as a server-side dry run (new ones included), and only then applies the
// environment's secrets and runs the chart through the Helm SDK with
// server-side apply, and waits until every object is ready (blue-green
// rollouts included). A failure while applying returns the cluster to its
// state before the call (see undo) and says so.
func Upgrade(ctx context.Context, t Target, p *Plan, opts Options) (*Result, error) {
	if opts.Progress == nil {
		opts.Progress = io.Discard
	}
	c, err := t.Client()
	if err != nil {
		return nil, err
	}
	generate, err := checkReferencedSecrets(ctx, c, p)
	if err != nil {
		return nil, err
	}
	// Dry runs of namespaced objects need their namespace: one made here
	// goes again when the command fails or only dry-runs.
	created, err := ensureNamespace(ctx, c, t.Namespace)
	if err != nil {
		return nil, err
	}
	u := &undo{c: c, t: t, namespace: created, start: time.Now()}
	changes, removed, prev, err := diff(ctx, c, t, p)
	if err != nil {
		return nil, u.run(ctx, err)
	}
	u.prev = prev
	res := &Result{Installed: prev == nil, Changes: changes, Removed: removed}
	if opts.OnChanges != nil {
		opts.OnChanges(changes, removed)
	}
	if opts.DryRun {
		res.Revision, err = runHelm(ctx, t, p.Chart, p.Values, opts, colorPostRenderer{ctx: ctx, live: objects.NewLive(c)})
		return res, errors.Join(err, u.dropNamespace(ctx))
	}
	var generated []*unstructured.Unstructured
	for _, name := range slices.Sorted(maps.Keys(generate)) {
		generated = append(generated, p.Env.GeneratedSecret(name, generate[name]))
	}
	if err := u.recordSecrets(ctx, append(slices.Clone(p.Secrets), generated...)); err != nil {
		return nil, u.run(ctx, err)
	}
	for _, s := range p.Secrets {
		if err := c.Apply(ctx, client.ApplyConfigurationFromUnstructured(s.DeepCopy()), client.FieldOwner(FieldManager), client.ForceOwnership); err != nil {
			return nil, u.run(ctx, fmt.Errorf("%s: apply: %w", objects.RefOf(s), err))
		}
	}
	// Generated once: created, never updated, so their values stay.
	for _, s := range generated {
		if err := c.Create(ctx, s.DeepCopy(), client.FieldOwner(FieldManager)); err != nil {
			return nil, u.run(ctx, fmt.Errorf("%s: create: %w", objects.RefOf(s), err))
		}
		fmt.Fprintf(opts.Progress, "  generated Secret %s/%s (keys %s; values never shown)\n", s.GetNamespace(), s.GetName(), strings.Join(generate[s.GetName()], ", "))
	}
	u.helm, u.created = true, u.missingReleaseObjects(changes)
	res.Revision, err = runHelm(ctx, t, p.Chart, p.Values, opts, colorPostRenderer{ctx: ctx, live: objects.NewLive(c)})
	if err != nil {
		return nil, u.run(ctx, err)
	}
	if err := storeDriftConfig(ctx, c, t, p); err != nil {
		return res, err
	}
	wctx, cancel := context.WithTimeout(ctx, opts.Timeout)
	defer cancel()
	if err := Wait(wctx, c, p.Desired(), opts.view()); err != nil {
		return res, fmt.Errorf("%s revision %d: %w", t, res.Revision, err)
	}
	return res, nil
}

// runHelm installs a chart as a Helm release, or upgrades the release when
// it has any record, with server-side apply, waiting for hooks only (the
// caller waits for the objects).
func runHelm(ctx context.Context, t Target, ch *chart.Chart, values map[string]any, opts Options, post postrenderer.PostRenderer) (int, error) {
	cfg, err := actionConfig(t)
	if err != nil {
		return 0, err
	}
	found, err := exists(cfg, t.Name)
	if err != nil {
		return 0, fmt.Errorf("release %s: %w", t, err)
	}
	strategy := action.DryRunNone
	if opts.DryRun {
		strategy = action.DryRunServer
	}
	var rel ri.Releaser
	if !found {
		in := action.NewInstall(cfg)
		in.ReleaseName, in.Namespace = t.Name, t.Namespace
		in.ServerSideApply, in.ForceConflicts = true, true
		in.WaitStrategy, in.Timeout = kube.HookOnlyStrategy, opts.Timeout
		in.DryRunStrategy, in.PostRenderer = strategy, post
		in.Description = opts.Description
		if rel, err = in.RunWithContext(ctx, ch, values); err != nil {
			return 0, fmt.Errorf("install %s: %w", t, err)
		}
	} else {
		up := action.NewUpgrade(cfg)
		up.Namespace = t.Namespace
		up.ServerSideApply, up.ForceConflicts = "true", true
		up.WaitStrategy, up.Timeout = kube.HookOnlyStrategy, opts.Timeout
		up.DryRunStrategy, up.PostRenderer = strategy, post
		up.MaxHistory, up.Description = 10, opts.Description
		if rel, err = up.RunWithContext(ctx, t.Name, ch, values); err != nil {
			return 0, fmt.Errorf("upgrade %s: %w", t, err)
		}
	}
	rev, err := revisionOf(rel)
	if err != nil {
		return 0, err
	}
	return rev.Number, nil
}

// ApplyChart installs or upgrades any chart (the controller's, in the
// pipeline) as release t and waits until its objects are ready.
func ApplyChart(ctx context.Context, t Target, ch *chart.Chart, values map[string]any, opts Options) (*Result, error) {
	if opts.Progress == nil {
		opts.Progress = io.Discard
	}
	objs, err := render.Render(ctx, ch, render.Release{Name: t.Name, Namespace: t.Namespace}, values)
	if err != nil {
		return nil, err
	}
	c, err := t.Client()
	if err != nil {
		return nil, err
	}
	if _, err := ensureNamespace(ctx, c, t.Namespace); err != nil {
		return nil, err
	}
	prev, err := Deployed(t)
	if err != nil {
		return nil, err
	}
	res := &Result{Installed: prev == nil}
	if res.Revision, err = runHelm(ctx, t, ch, values, opts, nil); err != nil || opts.DryRun {
		return res, err
	}
	desired := make([]*unstructured.Unstructured, 0, len(objs))
	for _, o := range objs {
		desired = append(desired, withHelmOwnership(o.Unstructured, t.Name, t.Namespace))
	}
	wctx, cancel := context.WithTimeout(ctx, opts.Timeout)
	defer cancel()
	if err := Wait(wctx, c, desired, opts.view()); err != nil {
		return res, fmt.Errorf("%s revision %d: %w", t, res.Revision, err)
	}
	return res, nil
}

// Diff is what Upgrade would change, computed by server-side dry-run
// against the live cluster; nothing is changed.
func Diff(ctx context.Context, t Target, p *Plan) (*drift.Report, []objects.Ref, error) {
	c, err := t.Client()
	if err != nil {
		return nil, nil, err
	}
	changes, removed, _, err := diff(ctx, c, t, p)
	return changes, removed, err
}

func diff(ctx context.Context, c client.Client, t Target, p *Plan) (*drift.Report, []objects.Ref, *Revision, error) {
	prev, err := Deployed(t)
	if err != nil {
		return nil, nil, nil, err
	}
	// A new manifest: every object goes through the dry run, new ones too
	// (once their namespace exists), so a field the new revision drops shows
	// as a change and whatever the API server would refuse is found before
	// anything is written.
	var ns corev1.Namespace
	nsErr := c.Get(ctx, client.ObjectKey{Name: t.Namespace}, &ns)
	if nsErr != nil && !apierrors.IsNotFound(nsErr) {
		return nil, nil, nil, nsErr
	}
	opts := checkOptions(p.Env)
	opts.LastApplied, opts.DryRunMissing = false, nsErr == nil
	report, err := drift.Check(ctx, c, p.Desired(), opts)
	if err != nil {
		return nil, nil, nil, err
	}
	var removed []objects.Ref
	if prev != nil {
		old, err := prev.Objects()
		if err != nil {
			return nil, nil, nil, err
		}
		keep := map[objects.Ref]bool{}
		for _, d := range p.Desired() {
			keep[objects.RefOf(d)] = true
		}
		for _, o := range old {
			if ref := objects.RefOf(o.Unstructured); !keep[ref] {
				removed = append(removed, ref)
			}
		}
		sort.Slice(removed, func(i, j int) bool { return removed[i].String() < removed[j].String() })
	}
	return report, removed, prev, nil
}

// Drift compares the live cluster with the last deployed revision of the
// release and the environment's secrets, under the environment's drift
// configuration: the same check the controller's drift watch makes from the
// configuration stored next to the release.
func Drift(ctx context.Context, t Target, p *Plan) (*drift.Report, error) {
	c, err := t.Client()
	if err != nil {
		return nil, err
	}
	cfg, err := driftConfigOf(p)
	if err != nil {
		return nil, err
	}
	return driftOf(ctx, c, t, cfg, otherThanSecrets(p.Secrets))
}

// DriftFromCluster is Drift for a process that has only the cluster (the
// controller): the drift configuration is the one the last install or
// upgrade stored next to the release.
func DriftFromCluster(ctx context.Context, t Target) (*drift.Report, error) {
	c, err := t.Client()
	if err != nil {
		return nil, err
	}
	cfg, err := loadDriftConfig(ctx, c, t)
	if err != nil {
		return nil, err
	}
	return driftOf(ctx, c, t, cfg, nil)
}

// driftOf compares the release's last deployed revision (and extra objects
// next to it) by server-side dry run, and the Secrets ragdeploy owns by
// fingerprint.
func driftOf(ctx context.Context, c client.Client, t Target, cfg *DriftConfig, extra []*unstructured.Unstructured) (*drift.Report, error) {
	rev, err := Deployed(t)
	if err != nil {
		return nil, err
	}
	if rev == nil {
		return nil, &NotInstalledError{t}
	}
	objs, err := rev.Objects()
	if err != nil {
		return nil, err
	}
	desired := make([]*unstructured.Unstructured, 0, len(objs)+len(extra))
	for _, o := range objs {
		desired = append(desired, withHelmOwnership(o.Unstructured, t.Name, t.Namespace))
	}
	opts := CheckOptions()
	opts.Ignore = cfg.Ignore
	report, err := drift.Check(ctx, c, append(desired, extra...), opts)
	if err != nil {
		return nil, err
	}
	secrets, err := drift.CheckSecrets(ctx, c, t.Namespace, cfg.Secrets, cfg.Ignore)
	if err != nil {
		return nil, err
	}
	report.Merge(len(cfg.Secrets), secrets)
	return report, nil
}

// FixDrift re-applies only the drifted objects of a report. The Secrets
// ragdeploy owns are written back whole from the plan (a key someone added
// goes, which an apply could not remove).
func FixDrift(ctx context.Context, t Target, p *Plan, report *drift.Report) error {
	c, err := t.Client()
	if err != nil {
		return err
	}
	owned := map[objects.Ref]*unstructured.Unstructured{}
	for _, s := range p.Secrets {
		owned[objects.RefOf(s)] = s
	}
	rest := &drift.Report{}
	for _, o := range report.Objects {
		s, ok := owned[o.Ref]
		if !ok || o.Ref.Kind != "Secret" {
			rest.Objects = append(rest.Objects, o)
			continue
		}
		if err := replaceSecret(ctx, c, s); err != nil {
			return err
		}
	}
	return drift.Fix(ctx, c, rest, FieldManager)
}

// replaceSecret makes the live Secret hold exactly desired's data (keys
// someone added go, which an apply could not remove), creating it when it is
// gone. FixDrift and the undo of a failed upgrade both write Secrets back so.
func replaceSecret(ctx context.Context, c client.Client, desired *unstructured.Unstructured) error {
	var want corev1.Secret
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(desired.Object, &want); err != nil {
		return err
	}
	var live corev1.Secret
	err := c.Get(ctx, client.ObjectKeyFromObject(&want), &live)
	if apierrors.IsNotFound(err) {
		fresh := &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Namespace: want.Namespace, Name: want.Name, Labels: want.Labels, Annotations: want.Annotations},
			Type:       want.Type, Data: want.Data,
		}
		err = c.Create(ctx, fresh, client.FieldOwner(FieldManager))
	} else if err == nil {
		live.Data, live.StringData = want.Data, nil
		err = c.Update(ctx, &live, client.FieldOwner(FieldManager))
	}
	if err != nil {
		return fmt.Errorf("secret %s/%s: %w", want.Namespace, want.Name, err)
	}
	return nil
}

// otherThanSecrets are the objects ragdeploy applies next to the release
// that are checked like release objects (ExternalSecrets).
func otherThanSecrets(objs []*unstructured.Unstructured) []*unstructured.Unstructured {
	var out []*unstructured.Unstructured
	for _, o := range objs {
		if o.GetKind() != "Secret" || o.GroupVersionKind().Group != "" {
			out = append(out, o)
		}
	}
	return out
}

// CheckOptions are the drift options for a release: Helm's field manager,
// the controller's color selector adopted from the live Service.
func CheckOptions() drift.Options {
	opts := drift.DefaultOptions()
	opts.FieldManager = FieldManager
	opts.Adopt = keepColorSelector
	return opts
}

func checkOptions(env *envconfig.Environment) drift.Options {
	opts := CheckOptions()
	opts.Ignore = env.Drift.Ignore
	return opts
}

// ensureNamespace creates the release namespace when it is missing, with the
// restricted Pod Security level every chart pod meets, and reports whether
// it did.
func ensureNamespace(ctx context.Context, c client.Client, name string) (bool, error) {
	ns := &corev1.Namespace{}
	err := c.Get(ctx, client.ObjectKey{Name: name}, ns)
	if err == nil || !apierrors.IsNotFound(err) {
		return false, err
	}
	ns = &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"pod-security.kubernetes.io/enforce": "restricted"}}}
	if err := c.Create(ctx, ns); err != nil {
		return false, fmt.Errorf("create namespace %s: %w", name, err)
	}
	return true, nil
}
