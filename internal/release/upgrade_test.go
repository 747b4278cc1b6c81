package release_test

import (
	"context"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/agentic-rag/ragdeploy/api/v1alpha1"
	"github.com/agentic-rag/ragdeploy/internal/bluegreen"
	"github.com/agentic-rag/ragdeploy/internal/drift"
	"github.com/agentic-rag/ragdeploy/internal/envconfig"
	"github.com/agentic-rag/ragdeploy/internal/localcluster/clustertest"
	"github.com/agentic-rag/ragdeploy/internal/release"
)

// changed reports whether a report lists path for the object kind/name.
func changed(r *drift.Report, kind, name, path string) bool {
	for _, o := range r.Objects {
		if o.Kind == kind && strings.HasSuffix(o.Object, "/"+name) {
			if path == "" {
				return o.State == drift.Missing
			}
			for _, c := range o.Changes {
				if c.Path == path {
					return true
				}
			}
		}
	}
	return false
}

func TestConfigChangeRollsTheAPIAndReportsIt(t *testing.T) {
	p := newPlatform(t, "development")
	p.deploy(t)
	p.assertReady(t)
	ns := p.target.Namespace
	oldPods := apiPods(t, p)

	res := p.deploy(t, "api.config.LOG_LEVEL=trace")
	if res.Installed || res.Revision != 2 {
		t.Fatalf("installed %v revision %d; want an upgrade to revision 2", res.Installed, res.Revision)
	}
	if !changed(res.Changes, "ConfigMap", "agentic-rag-api", "/data/LOG_LEVEL") ||
		!changed(res.Changes, "Deployment", "agentic-rag-api", "/spec/template/metadata/annotations/checksum~1config") {
		t.Fatalf("upgrade does not report the config change and the checksum: %+v", res.Changes.Objects)
	}
	if len(res.Changes.Objects) != 2 || len(res.Removed) != 0 {
		t.Fatalf("upgrade reports %d changed and %d removed objects; want only the ConfigMap and the Deployment", len(res.Changes.Objects), len(res.Removed))
	}
	// Every api pod was replaced by one carrying the new checksum.
	clustertest.Eventually(t, 60*time.Second, "api pods rolled", func(ctx context.Context) (bool, error) {
		now := apiPods(t, p)
		for name := range now {
			if oldPods[name] {
				return false, nil
			}
		}
		var d appsv1.Deployment
		if err := p.c.Get(ctx, types.NamespacedName{Namespace: ns, Name: "agentic-rag-api"}, &d); err != nil {
			return false, err
		}
		return len(now) == 1 && d.Status.UpdatedReplicas == 1 && d.Status.AvailableReplicas == 1, nil
	})
	p.assertNoSecretValue(t)
}

func apiPods(t *testing.T, p *platform) map[string]bool {
	t.Helper()
	var pods corev1.PodList
	if err := p.c.List(t.Context(), &pods, client.InNamespace(p.target.Namespace), client.MatchingLabels{"app.kubernetes.io/component": "api"}); err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, pod := range pods.Items {
		if pod.DeletionTimestamp == nil {
			out[pod.Name] = true
		}
	}
	return out
}

func TestDriftDetectedReportedAndFixed(t *testing.T) {
	p := newPlatform(t, "development")
	p.deploy(t)
	p.assertReady(t)
	ctx, ns := t.Context(), p.target.Namespace
	key := func(name string) types.NamespacedName { return types.NamespacedName{Namespace: ns, Name: name} }

	// Hand edits, as kubectl would make them.
	var dep appsv1.Deployment
	if err := p.c.Get(ctx, key("agentic-rag-api"), &dep); err != nil {
		t.Fatal(err)
	}
	dep.Spec.Replicas = ptr(int32(4))
	dep.Spec.Template.Spec.Containers[0].Image = "agentic-rag/api:hotfix"
	if err := p.c.Update(ctx, &dep, client.FieldOwner("kubectl-edit")); err != nil {
		t.Fatal(err)
	}
	var cm corev1.ConfigMap
	if err := p.c.Get(ctx, key("agentic-rag-api"), &cm); err != nil {
		t.Fatal(err)
	}
	cm.Data["LOG_LEVEL"] = "trace"
	if err := p.c.Update(ctx, &cm, client.FieldOwner("kubectl-edit")); err != nil {
		t.Fatal(err)
	}
	if err := p.c.Delete(ctx, &corev1.Service{ObjectMeta: metaName(ns, "agentic-rag-redis")}); err != nil {
		t.Fatal(err)
	}
	if err := p.c.Delete(ctx, &networkingv1.NetworkPolicy{ObjectMeta: metaName(ns, "agentic-rag-default-deny")}); err != nil {
		t.Fatal(err)
	}
	var secret corev1.Secret
	if err := p.c.Get(ctx, key("agentic-rag-postgresql"), &secret); err != nil {
		t.Fatal(err)
	}
	secret.Data["password"] = []byte("Hand-Edited-Secret-55")
	if err := p.c.Update(ctx, &secret, client.FieldOwner("kubectl-edit")); err != nil {
		t.Fatal(err)
	}
	// A key added to a Secret ragdeploy owns is drift too.
	var redis corev1.Secret
	if err := p.c.Get(ctx, key("agentic-rag-redis"), &redis); err != nil {
		t.Fatal(err)
	}
	redis.Data["extra"] = []byte("added-by-hand")
	if err := p.c.Update(ctx, &redis, client.FieldOwner("kubectl-edit")); err != nil {
		t.Fatal(err)
	}
	var untouched corev1.Service
	if err := p.c.Get(ctx, key("agentic-rag-postgresql"), &untouched); err != nil {
		t.Fatal(err)
	}

	report, err := p.release.Drift(ctx, p.plan(t))
	if err != nil {
		t.Fatal(err)
	}
	p.record(report)
	for _, want := range []struct{ kind, name, path string }{
		{"Deployment", "agentic-rag-api", "/spec/replicas"},
		{"Deployment", "agentic-rag-api", "/spec/template/spec/containers/0/image"},
		{"ConfigMap", "agentic-rag-api", "/data/LOG_LEVEL"},
		{"Service", "agentic-rag-redis", ""},
		{"NetworkPolicy", "agentic-rag-default-deny", ""},
		{"Secret", "agentic-rag-postgresql", "/data/password"},
		{"Secret", "agentic-rag-redis", "/data/extra"},
	} {
		if !changed(report, want.kind, want.name, want.path) {
			t.Errorf("drift of %s %s at %q not reported", want.kind, want.name, want.path)
		}
	}
	if len(report.Objects) != 6 {
		t.Errorf("%d objects reported drifted; want exactly the 6 edited", len(report.Objects))
	}
	if strings.Contains(p.out.String(), "Hand-Edited-Secret-55") {
		t.Fatal("the drift report shows a secret value")
	}
	p.assertNoSecretValue(t)

	if err := p.release.FixDrift(ctx, p.plan(t), report); err != nil {
		t.Fatal(err)
	}
	after, err := p.release.Drift(ctx, p.plan(t))
	if err != nil {
		t.Fatal(err)
	}
	if !after.Clean() {
		t.Fatalf("drift left after --fix: %+v", after.Objects)
	}
	// Only drifted objects were applied.
	var again corev1.Service
	if err := p.c.Get(ctx, key("agentic-rag-postgresql"), &again); err != nil {
		t.Fatal(err)
	}
	if again.ResourceVersion != untouched.ResourceVersion {
		t.Error("--fix re-applied an object that had not drifted")
	}
	if err := p.c.Get(ctx, key("agentic-rag-postgresql"), &secret); err != nil || string(secret.Data["password"]) != secretValues["agentic-rag-postgresql"] {
		t.Errorf("Secret not restored (err %v)", err)
	}
	if err := p.c.Get(ctx, key("agentic-rag-redis"), &redis); err != nil || redis.Data["extra"] != nil || len(redis.Data) != 2 {
		t.Errorf("added key not removed by the fix: keys %d (err %v)", len(redis.Data), err)
	}
}

func ptr[T any](v T) *T { return &v }

func metaName(ns, name string) metav1.ObjectMeta { return metav1.ObjectMeta{Namespace: ns, Name: name} }

// A chart release that changes no value (only the charts' versions) changes
// no pod template: no new rollout revision, no migration Job, no restarted
// database.
func TestChartVersionBumpAloneRestartsNothing(t *testing.T) {
	p := newPlatform(t, "staging")
	p.deploy(t)
	p.assertReady(t)
	ctx, ns := t.Context(), p.target.Namespace
	generations := func() map[string]int64 {
		out := map[string]int64{}
		var bgds v1alpha1.RolloutList
		var sts appsv1.StatefulSetList
		var deps appsv1.DeploymentList
		for _, l := range []client.ObjectList{&bgds, &sts, &deps} {
			if err := p.c.List(ctx, l, client.InNamespace(ns)); err != nil {
				t.Fatal(err)
			}
		}
		for _, b := range bgds.Items {
			out["Rollout/"+b.Name] = b.Generation
		}
		for _, s := range sts.Items {
			out["StatefulSet/"+s.Name] = s.Generation
		}
		for _, d := range deps.Items {
			out["Deployment/"+d.Name] = d.Generation
		}
		return out
	}
	jobs := func() int {
		var l batchv1.JobList
		if err := p.c.List(ctx, &l, client.InNamespace(ns)); err != nil {
			t.Fatal(err)
		}
		return len(l.Items)
	}
	before, jobsBefore := generations(), jobs()
	revBefore := apiRollout(t, p).Status.CurrentRevision

	plan := p.plan(t)
	plan.Chart.Metadata.Version = "99.0.0"
	for _, sub := range plan.Chart.Dependencies() {
		sub.Metadata.Version = "99.0.0"
	}
	objs, err := envconfig.Validate(ctx, p.e, plan.Chart, plan.Values)
	if err != nil {
		t.Fatal(err)
	}
	plan.Objects = objs
	res, err := p.release.Upgrade(ctx, plan, release.Options{Timeout: 3 * time.Minute, Progress: &p.out})
	if err != nil {
		t.Fatalf("%v\n%s", err, p.out.String())
	}
	if res.Revision != 2 {
		t.Fatalf("revision %d; want the upgrade to make revision 2", res.Revision)
	}
	after := generations()
	if len(after) != len(before) || len(after) < 4 {
		t.Fatalf("workloads %v, then %v", before, after)
	}
	for k, g := range before {
		if after[k] != g {
			t.Errorf("%s: generation %d -> %d; a chart version bump changed its spec", k, g, after[k])
		}
	}
	if b := apiRollout(t, p); b.Status.CurrentRevision != revBefore || b.Status.StableRevision != revBefore {
		t.Errorf("rollout revision %s (stable %s); want %s unchanged", b.Status.CurrentRevision, b.Status.StableRevision, revBefore)
	}
	if n := jobs(); n != jobsBefore {
		t.Errorf("%d Jobs after the chart bump; want %d (no migration)", n, jobsBefore)
	}
}

// apiRollout is the platform's Rollout.
func apiRollout(t *testing.T, p *platform) *v1alpha1.Rollout {
	t.Helper()
	var b v1alpha1.Rollout
	if err := p.c.Get(t.Context(), types.NamespacedName{Namespace: p.target.Namespace, Name: "agentic-rag-api"}, &b); err != nil {
		t.Fatal(err)
	}
	return &b
}

// Under an HPA the api starts at the HPA's minReplicas (not the CRD's
// default of 1 until the HPA's first sync), an upgrade keeps what the HPA
// chose, and that choice is not drift.
func TestHPAWorkloadStartsAtMinReplicasAndKeepsTheHPAsCount(t *testing.T) {
	p := newPlatform(t, "production")
	p.deploy(t)
	p.assertReady(t)
	ctx := t.Context()
	b := apiRollout(t, p)
	if b.Spec.Replicas == nil || *b.Spec.Replicas != 3 || b.Generation != 1 {
		t.Fatalf("rollout created with replicas %v (generation %d); want 3 from the start", b.Spec.Replicas, b.Generation)
	}
	var blue appsv1.Deployment
	if err := p.c.Get(ctx, types.NamespacedName{Namespace: p.target.Namespace, Name: "agentic-rag-api-blue"}, &blue); err != nil {
		t.Fatal(err)
	}
	if *blue.Spec.Replicas != 3 || blue.Generation != 1 {
		t.Fatalf("blue Deployment at %d replicas (generation %d); want 3 from its creation", *blue.Spec.Replicas, blue.Generation)
	}

	// The HPA scales up (through the scale subresource, as it does).
	scale := &autoscalingv1.Scale{}
	if err := p.c.SubResource("scale").Get(ctx, b, scale); err != nil {
		t.Fatal(err)
	}
	scale.Spec.Replicas = 5
	if err := p.c.SubResource("scale").Update(ctx, b, client.WithSubResourceBody(scale), client.FieldOwner("horizontal-pod-autoscaler")); err != nil {
		t.Fatal(err)
	}
	report, err := p.release.Drift(ctx, p.plan(t))
	if err != nil || !report.Clean() {
		t.Fatalf("the HPA's count reported as drift: %+v (err %v)", report, err)
	}
	p.deploy(t, "api.autoscaling.maxReplicas=12")
	if b := apiRollout(t, p); *b.Spec.Replicas != 5 {
		t.Fatalf("replicas %d after an upgrade; want the HPA's 5 kept", *b.Spec.Replicas)
	}
}

// The color in the api Services' selectors is the rollout controller's:
// a drift check does not report it, and neither a drift fix nor an upgrade
// ever writes another (a selector is replaced whole, so a write without the
// live color would point the Service at both colors).
func TestDriftFixAndUpgradeKeepTheLiveColor(t *testing.T) {
	p := newPlatform(t, "development")
	ctx, ns := t.Context(), p.target.Namespace
	sets := []string{"api.strategy=blueGreen"}
	p.deploy(t, sets...)
	p.assertReady(t)
	first := selectedColor(t, p, "agentic-rag-api")
	// A new image: the controller switches to the other color after this
	// revision was applied, so the release's manifest holds the old one.
	sets = append(sets, "api.image.tag=1.0.1")
	p.deploy(t, sets...)
	p.assertReady(t)
	live := selectedColor(t, p, "agentic-rag-api")
	if first == "" || live == "" || live == first {
		t.Fatalf("active Service selects color %q, then %q; want a switch", first, live)
	}
	writes := map[string]func() []string{}
	for _, name := range []string{"agentic-rag-api", "agentic-rag-api-preview"} {
		writes[name] = selectorColors(t, p, name)
	}

	report, err := p.release.Drift(ctx, p.plan(t, sets...))
	if err != nil || !report.Clean() {
		t.Fatalf("drift with the color switched since the apply: %+v (err %v)", report, err)
	}
	// A hand edit of the active Service is drift; fixing it keeps the color.
	var svc corev1.Service
	if err := p.c.Get(ctx, types.NamespacedName{Namespace: ns, Name: "agentic-rag-api"}, &svc); err != nil {
		t.Fatal(err)
	}
	svc.Labels["app.kubernetes.io/component"] = "edited"
	if err := p.c.Update(ctx, &svc, client.FieldOwner("kubectl-edit")); err != nil {
		t.Fatal(err)
	}
	report, err = p.release.Drift(ctx, p.plan(t, sets...))
	if err != nil || len(report.Objects) != 1 || !changed(report, "Service", "agentic-rag-api", "/metadata/labels/app.kubernetes.io~1component") {
		t.Fatalf("drift after a label edit: %+v (err %v); want only that label", report, err)
	}
	if err := p.release.FixDrift(ctx, p.plan(t, sets...), report); err != nil {
		t.Fatal(err)
	}
	// An upgrade applies every object again.
	p.deploy(t, sets...)

	for name, colors := range writes {
		want := selectedColor(t, p, name)
		if name == "agentic-rag-api" && want != live {
			t.Errorf("active Service selects %q at the end; want %q", want, live)
		}
		for _, c := range colors() {
			if c != want {
				t.Errorf("Service %s: a write set its selector's color to %q; want %q kept", name, c, want)
			}
		}
	}
	if err := p.c.Get(ctx, types.NamespacedName{Namespace: ns, Name: "agentic-rag-api"}, &svc); err != nil || svc.Labels["app.kubernetes.io/component"] != "api" {
		t.Fatalf("label after the fix: %q (err %v)", svc.Labels["app.kubernetes.io/component"], err)
	}
}

// selectedColor is the color Service name selects ("" for none).
func selectedColor(t *testing.T, p *platform, name string) string {
	t.Helper()
	var svc corev1.Service
	if err := p.c.Get(t.Context(), types.NamespacedName{Namespace: p.target.Namespace, Name: name}, &svc); err != nil {
		t.Fatal(err)
	}
	return svc.Spec.Selector[bluegreen.LabelColor]
}

// selectorColors watches Service name from now on; the function it returns
// waits until the watch has delivered the Service as it is then and lists
// the selector's color after every write the API server recorded meanwhile.
func selectorColors(t *testing.T, p *platform, name string) func() []string {
	t.Helper()
	services := p.env.Client.CoreV1().Services(p.target.Namespace)
	svc, err := services.Get(t.Context(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	w, err := services.Watch(t.Context(), metav1.ListOptions{FieldSelector: "metadata.name=" + name, ResourceVersion: svc.ResourceVersion})
	if err != nil {
		t.Fatal(err)
	}
	return func() []string {
		defer w.Stop()
		now, err := services.Get(t.Context(), name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		var colors []string
		for rv := svc.ResourceVersion; rv != now.ResourceVersion; {
			select {
			case ev, ok := <-w.ResultChan():
				s, isService := ev.Object.(*corev1.Service)
				if !ok || !isService {
					t.Fatalf("watch of Service %s ended (%v)", name, ev.Object)
				}
				colors, rv = append(colors, s.Spec.Selector[bluegreen.LabelColor]), s.ResourceVersion
			case <-time.After(30 * time.Second):
				t.Fatalf("watch of Service %s: resourceVersion %s not delivered", name, now.ResourceVersion)
			}
		}
		return colors
	}
}
