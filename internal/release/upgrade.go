package release

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"helm.sh/helm/v4/pkg/action"
	chart "helm.sh/helm/v4/pkg/chart/v2"
	"helm.sh/helm/v4/pkg/kube"
	ri "helm.sh/helm/v4/pkg/release"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/agentic-rag/ragdeploy/internal/drift"
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
// environment's secrets and, through the Helm SDK with server-side apply,
// the objects Prepare rendered with the fields other controllers own kept
// (liveFields), and waits until every object is ready (blue-green rollouts
// included). A failure while applying returns the cluster to its
// state before the call (see undo) and says so.
func (m *Manager) Upgrade(ctx context.Context, p *Plan, opts Options) (*Result, error) {
	if opts.Progress == nil {
		opts.Progress = io.Discard
	}
	t, c := m.Target, m.client
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
	u := &undo{m: m, c: c, t: t, namespace: created, start: time.Now()}
	changes, removed, prev, err := m.diff(ctx, p)
	if err != nil {
		return nil, u.run(ctx, err)
	}
	u.prev = prev
	res := &Result{Installed: prev == nil, Changes: changes, Removed: removed}
	if opts.OnChanges != nil {
		opts.OnChanges(changes, removed)
	}
	if opts.DryRun {
		res.Revision, err = m.runHelm(ctx, p.Chart, p.Values, opts, planned{ctx: ctx, objects: p.chartObjects(), live: objects.NewLive(c)})
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
	res.Revision, err = m.runHelm(ctx, p.Chart, p.Values, opts, planned{ctx: ctx, objects: p.chartObjects(), live: objects.NewLive(c)})
	if err != nil {
		return nil, u.run(ctx, err)
	}
	if err := storeDriftConfig(ctx, c, t, p); err != nil {
		return res, err
	}
	wctx, cancel := context.WithTimeout(ctx, opts.Timeout)
	defer cancel()
	if err := Wait(wctx, c, p.desired(p.chartObjects()), opts.view()); err != nil {
		return res, fmt.Errorf("%s revision %d: %w", t, res.Revision, err)
	}
	return res, nil
}

// runHelm installs a chart as a Helm release, or upgrades the release when
// it has any record, with server-side apply of the planned objects, waiting
// for hooks only (the caller waits for the objects).
func (m *Manager) runHelm(ctx context.Context, ch *chart.Chart, values map[string]any, opts Options, post planned) (int, error) {
	t, cfg := m.Target, m.helm
	found, err := m.exists()
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

// ChartPlan is any chart rendered with its values for a release, offline:
// what ApplyChart applies and then waits for.
type ChartPlan struct {
	Chart   *chart.Chart
	Values  map[string]any
	Objects []render.Object
}

// PrepareChart renders ch with values as release t would, so that values
// the chart's schema refuses fail before the cluster is contacted.
func PrepareChart(ctx context.Context, ch *chart.Chart, t Target, values map[string]any) (*ChartPlan, error) {
	objs, err := render.Render(ctx, ch, render.Release{Name: t.Name, Namespace: t.Namespace}, values)
	if err != nil {
		return nil, err
	}
	return &ChartPlan{Chart: ch, Values: values, Objects: objs}, nil
}

// ApplyChart installs or upgrades a prepared chart (the controller's, in
// the pipeline, local up and the demo) as the release and waits until the
// objects it rendered are ready.
func (m *Manager) ApplyChart(ctx context.Context, p *ChartPlan, opts Options) (*Result, error) {
	t, c := m.Target, m.client
	if opts.Progress == nil {
		opts.Progress = io.Discard
	}
	if _, err := ensureNamespace(ctx, c, t.Namespace); err != nil {
		return nil, err
	}
	prev, err := m.Deployed()
	if err != nil {
		return nil, err
	}
	res := &Result{Installed: prev == nil}
	objs := unstructuredOf(p.Objects)
	if res.Revision, err = m.runHelm(ctx, p.Chart, p.Values, opts, planned{ctx: ctx, objects: objs}); err != nil || opts.DryRun {
		return res, err
	}
	desired := owned(objs, t.Name, t.Namespace)
	wctx, cancel := context.WithTimeout(ctx, opts.Timeout)
	defer cancel()
	if err := Wait(wctx, c, desired, opts.view()); err != nil {
		return res, fmt.Errorf("%s revision %d: %w", t, res.Revision, err)
	}
	return res, nil
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
