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
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/agentic-rag/ragdeploy/internal/drift"
	"github.com/agentic-rag/ragdeploy/internal/envconfig"
	"github.com/agentic-rag/ragdeploy/internal/render"
)

// Options tune Upgrade.
type Options struct {
	// DryRun sends everything to the API server as a server-side dry run
	// and changes nothing.
	DryRun bool
	// Timeout bounds the wait for readiness (and Helm's hooks).
	Timeout time.Duration
	// Progress receives a line per object status change while waiting.
	Progress io.Writer
	// OnChanges, when set, receives what the upgrade will change before
	// anything is applied.
	OnChanges func(changes *drift.Report, removed []drift.Ref)
}

// Result says what an Upgrade did.
type Result struct {
	Installed bool
	Revision  int
	// Changes are the objects the upgrade changed or created, by field.
	Changes *drift.Report
	// Removed are objects of the previous revision the new one drops.
	Removed []drift.Ref
}

// Upgrade installs the plan's release, or upgrades it when it exists:
// applies the environment's secrets, runs the chart through the Helm SDK
// with server-side apply, and waits until every object is ready
// (blue-green rollouts included).
func Upgrade(ctx context.Context, t Target, p *Plan, opts Options) (*Result, error) {
	if opts.Progress == nil {
		opts.Progress = io.Discard
	}
	c, err := t.Client()
	if err != nil {
		return nil, err
	}
	if err := ensureNamespace(ctx, c, t.Namespace, opts.DryRun); err != nil {
		return nil, err
	}
	if err := checkReferencedSecrets(ctx, c, p); err != nil {
		return nil, err
	}
	changes, removed, prev, err := diff(ctx, c, t, p)
	if err != nil {
		return nil, err
	}
	res := &Result{Installed: prev == nil, Changes: changes, Removed: removed}
	if opts.OnChanges != nil {
		opts.OnChanges(changes, removed)
	}

	dryRun := []client.ApplyOption{client.FieldOwner(FieldManager), client.ForceOwnership}
	if opts.DryRun {
		dryRun = append(dryRun, client.DryRunAll)
	}
	for _, s := range p.Secrets {
		if err := c.Apply(ctx, client.ApplyConfigurationFromUnstructured(s.DeepCopy()), dryRun...); err != nil {
			return nil, fmt.Errorf("%s: apply: %w", drift.RefOf(s), err)
		}
	}

	res.Revision, err = runHelm(ctx, t, p.Chart, p.Values, prev == nil, opts, colourPostRenderer{ctx: ctx, live: drift.NewLive(c)})
	if err != nil {
		return nil, err
	}
	if opts.DryRun {
		return res, nil
	}
	wctx, cancel := context.WithTimeout(ctx, opts.Timeout)
	defer cancel()
	if err := Wait(wctx, c, p.Desired(), opts.Progress); err != nil {
		return res, fmt.Errorf("%s revision %d: %w", t, res.Revision, err)
	}
	return res, nil
}

// runHelm installs or upgrades a chart as a Helm release with server-side
// apply, waiting for hooks only (the caller waits for the objects).
func runHelm(ctx context.Context, t Target, ch *chart.Chart, values map[string]any, install bool, opts Options, post postrenderer.PostRenderer) (int, error) {
	cfg, err := actionConfig(t)
	if err != nil {
		return 0, err
	}
	strategy := action.DryRunNone
	if opts.DryRun {
		strategy = action.DryRunServer
	}
	var rel ri.Releaser
	if install {
		in := action.NewInstall(cfg)
		in.ReleaseName, in.Namespace = t.Name, t.Namespace
		in.ServerSideApply, in.ForceConflicts = true, true
		in.WaitStrategy, in.Timeout = kube.HookOnlyStrategy, opts.Timeout
		in.DryRunStrategy, in.PostRenderer = strategy, post
		if rel, err = in.RunWithContext(ctx, ch, values); err != nil {
			return 0, fmt.Errorf("install %s: %w", t, err)
		}
	} else {
		up := action.NewUpgrade(cfg)
		up.Namespace = t.Namespace
		up.ServerSideApply, up.ForceConflicts = "true", true
		up.WaitStrategy, up.Timeout = kube.HookOnlyStrategy, opts.Timeout
		up.DryRunStrategy, up.PostRenderer = strategy, post
		up.MaxHistory = 10
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
	if err := ensureNamespace(ctx, c, t.Namespace, opts.DryRun); err != nil {
		return nil, err
	}
	prev, err := Deployed(t)
	if err != nil {
		return nil, err
	}
	res := &Result{Installed: prev == nil}
	if res.Revision, err = runHelm(ctx, t, ch, values, prev == nil, opts, nil); err != nil || opts.DryRun {
		return res, err
	}
	desired := make([]*unstructured.Unstructured, 0, len(objs))
	for _, o := range objs {
		desired = append(desired, withHelmOwnership(o.Unstructured, t.Name, t.Namespace))
	}
	wctx, cancel := context.WithTimeout(ctx, opts.Timeout)
	defer cancel()
	if err := Wait(wctx, c, desired, opts.Progress); err != nil {
		return res, fmt.Errorf("%s revision %d: %w", t, res.Revision, err)
	}
	return res, nil
}

// Diff is what Upgrade would change, computed by server-side dry-run
// against the live cluster; nothing is changed.
func Diff(ctx context.Context, t Target, p *Plan) (*drift.Report, []drift.Ref, error) {
	c, err := t.Client()
	if err != nil {
		return nil, nil, err
	}
	changes, removed, _, err := diff(ctx, c, t, p)
	return changes, removed, err
}

func diff(ctx context.Context, c client.Client, t Target, p *Plan) (*drift.Report, []drift.Ref, *Revision, error) {
	prev, err := Deployed(t)
	if err != nil {
		return nil, nil, nil, err
	}
	// A new manifest: every object goes through the dry run, so a field the
	// new revision drops shows as a change.
	opts := checkOptions(p.Env)
	opts.LastApplied = false
	report, err := drift.Check(ctx, c, p.Desired(), opts)
	if err != nil {
		return nil, nil, nil, err
	}
	var removed []drift.Ref
	if prev != nil {
		old, err := prev.Objects()
		if err != nil {
			return nil, nil, nil, err
		}
		keep := map[drift.Ref]bool{}
		for _, d := range p.Desired() {
			keep[drift.RefOf(d)] = true
		}
		for _, o := range old {
			if ref := drift.RefOf(o.Unstructured); !keep[ref] {
				removed = append(removed, ref)
			}
		}
		sort.Slice(removed, func(i, j int) bool { return removed[i].String() < removed[j].String() })
	}
	return report, removed, prev, nil
}

// Drift compares the live cluster with the last deployed revision of the
// release and the environment's secrets.
func Drift(ctx context.Context, t Target, p *Plan) (*drift.Report, error) {
	return DriftOfRelease(ctx, t, p.Secrets, checkOptions(p.Env))
}

// DriftOfRelease compares the live cluster with the release's last deployed
// revision plus extra objects that live next to it.
func DriftOfRelease(ctx context.Context, t Target, extra []*unstructured.Unstructured, opts drift.Options) (*drift.Report, error) {
	c, err := t.Client()
	if err != nil {
		return nil, err
	}
	rev, err := Deployed(t)
	if err != nil {
		return nil, err
	}
	if rev == nil {
		return nil, fmt.Errorf("release %s is not installed", t)
	}
	objs, err := rev.Objects()
	if err != nil {
		return nil, err
	}
	desired := make([]*unstructured.Unstructured, 0, len(objs)+len(extra))
	for _, o := range objs {
		desired = append(desired, withHelmOwnership(o.Unstructured, t.Name, t.Namespace))
	}
	return drift.Check(ctx, c, append(desired, extra...), opts)
}

// FixDrift re-applies only the drifted objects of a report.
func FixDrift(ctx context.Context, t Target, report *drift.Report) error {
	c, err := t.Client()
	if err != nil {
		return err
	}
	return drift.Fix(ctx, c, report, FieldManager)
}

// CheckOptions are the drift options for a release: Helm's field manager,
// the controller's colour selector adopted from the live Service.
func CheckOptions() drift.Options {
	opts := drift.DefaultOptions()
	opts.FieldManager = FieldManager
	opts.Adopt = keepColourSelector
	return opts
}

func checkOptions(env *envconfig.Environment) drift.Options {
	opts := CheckOptions()
	for _, r := range env.Drift.Ignore {
		opts.Ignore = append(opts.Ignore, drift.IgnoreRule{Kind: r.Kind, Name: r.Name, Pointers: r.Pointers})
	}
	return opts
}

// ensureNamespace creates the release namespace when it is missing, with the
// restricted Pod Security level every chart pod meets.
func ensureNamespace(ctx context.Context, c client.Client, name string, dryRun bool) error {
	ns := &corev1.Namespace{}
	err := c.Get(ctx, client.ObjectKey{Name: name}, ns)
	if err == nil || !apierrors.IsNotFound(err) {
		return err
	}
	ns = &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"pod-security.kubernetes.io/enforce": "restricted"}}}
	var opts []client.CreateOption
	if dryRun {
		opts = append(opts, client.DryRunAll)
	}
	return c.Create(ctx, ns, opts...)
}

// checkReferencedSecrets fails before anything is applied when a Secret the
// chart reads a key of neither comes with the environment nor exists, or
// lacks that key (the pods would never start). Values are never read out.
func checkReferencedSecrets(ctx context.Context, c client.Client, p *Plan) error {
	provided := map[string]map[string]bool{}
	for _, s := range p.Secrets {
		provided[s.GetName()] = secretKeys(s)
	}
	ns := p.Env.Release.Namespace
	var missing []error
	refs := referencedSecrets(p)
	for _, name := range slices.Sorted(maps.Keys(refs)) {
		keys, ok := provided[name]
		where := p.Env.Name + ".secrets.yaml"
		if !ok {
			var live corev1.Secret
			err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &live)
			if apierrors.IsNotFound(err) {
				missing = append(missing, fmt.Errorf("secret %s/%s (used by %s) does not exist (hint: add it to %s or create it)",
					ns, name, refs[name][slices.Sorted(maps.Keys(refs[name]))[0]], where))
				continue
			} else if err != nil {
				return fmt.Errorf("secret %s/%s: %w", ns, name, err)
			}
			keys, where = map[string]bool{}, "the Secret"
			for k := range live.Data {
				keys[k] = true
			}
			for k := range live.StringData {
				keys[k] = true
			}
		}
		for _, key := range slices.Sorted(maps.Keys(refs[name])) {
			if !keys[key] {
				missing = append(missing, fmt.Errorf("secret %s/%s has no key %q (used by %s; it has %s) (hint: add %q to %s)",
					ns, name, key, refs[name][key], keyList(keys), key, where))
			}
		}
	}
	return errors.Join(missing...)
}

// secretKeys lists the keys a Secret (or the Secret an ExternalSecret makes) holds.
func secretKeys(u *unstructured.Unstructured) map[string]bool {
	out := map[string]bool{}
	if u.GetKind() == "ExternalSecret" {
		entries, _, _ := unstructured.NestedSlice(u.Object, "spec", "data")
		for _, e := range entries {
			if m, ok := e.(map[string]any); ok {
				if k, _ := m["secretKey"].(string); k != "" {
					out[k] = true
				}
			}
		}
		return out
	}
	for _, field := range []string{"data", "stringData"} {
		m, _, _ := unstructured.NestedMap(u.Object, field)
		for k := range m {
			out[k] = true
		}
	}
	return out
}

func keyList(keys map[string]bool) string {
	if len(keys) == 0 {
		return "no keys"
	}
	return "keys " + strings.Join(slices.Sorted(maps.Keys(keys)), ", ")
}

// referencedSecrets maps each Secret name and key read through secretKeyRef
// by a rendered object to that object's kind and name.
func referencedSecrets(p *Plan) map[string]map[string]string {
	out := map[string]map[string]string{}
	var walk func(owner string, v any)
	walk = func(owner string, v any) {
		switch t := v.(type) {
		case map[string]any:
			if ref, ok := t["secretKeyRef"].(map[string]any); ok {
				name, _ := ref["name"].(string)
				key, _ := ref["key"].(string)
				if name != "" && key != "" && ref["optional"] != true {
					if out[name] == nil {
						out[name] = map[string]string{}
					}
					if _, seen := out[name][key]; !seen {
						out[name][key] = owner
					}
				}
			}
			for _, e := range t {
				walk(owner, e)
			}
		case []any:
			for _, e := range t {
				walk(owner, e)
			}
		}
	}
	for _, o := range p.Objects {
		walk(o.GetKind()+" "+o.GetName(), o.Object)
	}
	return out
}
